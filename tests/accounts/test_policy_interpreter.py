"""The policy has one interpreter: for every rule form, the query filter (`visible_to`) and the single-row check
(`allows`) agree on real rows of every owned table, in SQLite and in PostgreSQL.

Both read the same compiled predicate; what this checks is that its two readings (`to_q` for the database,
`evaluate` in Python) mean the same thing, including where the databases differ from Python (regex dialects,
LIKE escaping and case, NULLs under NOT).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from django.db import connections, router
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.utils import timezone

import pytest

from apps.conversations.models import Conversation
from apps.core.access import read_predicate
from apps.core.policy import parse_policy, to_q
from apps.core.principal import ANONYMOUS, Principal
from apps.files.models import File
from apps.inference.models import ChatCompletion
from apps.responses.models import StoredResponse
from tests.support.postgres import postgres_database
from tests.support.services import PG

pytestmark = pytest.mark.django_db

POSTGRES_ALIAS = "policy_interpreter_pg"
# Each owned table, the prefix of its ids, and the other columns a row needs.
TABLES = [
    (Conversation, "conv_", {}),
    (File, "file-", {"filename": "a.txt", "purpose": "assistants", "bytes": 1, "path": "a"}),
    (StoredResponse, "resp_", {"model": "m", "status": "completed", "response": {}, "input_items": [], "messages": []}),
    (ChatCompletion, "chatcmpl-", {"model": "m", "completion": {}, "input_messages": []}),
]
OWNERS = [
    ANONYMOUS,
    Principal("alice", {"teams": ["red"], "roles": ["user"]}),
    Principal("bob", {"teams": ["blue"]}),
    Principal("carol", {"teams": ["red", "green"]}),
    Principal("%", {"teams": ["%"]}),
    Principal("eve", {"teams": ["RED"]}),
    Principal("frank", {}),
]
PRINCIPALS = [
    ANONYMOUS,
    Principal("alice", {"teams": ["red"], "roles": ["user"]}),
    Principal("bob", {"teams": ["blue"], "roles": ["contractor"]}),
    Principal("carol", {"teams": ["red", "green"]}),
    Principal("dave", {"teams": ["%", "_"]}),
    Principal("root", {"roles": ["admin"]}),
    Principal("eve", {"teams": ["red"]}),
]
ACTIONS = ("read", "update")
REGEXES = [
    "conversation::conv_[13]",  # the type, then the id
    "(file|conversation)::(conv_|file-)[02]",  # an alternation covering the type
    "conv",  # a prefix of a type name
    r".*::[a-z_-]+3\d",  # `\d` in both dialects
    "(?i)FILE::FILE-0",  # a global flag
    "conversation::conv_1|response::resp_2",  # a top-level alternation
    "chat_completion::.*",
    "conv_1",  # an id without its type: matches nothing (the whole name is matched from its start)
    "response::resp_0$",  # anchored at the end too: matches nothing (ids are longer)
]


def policies() -> list[list[dict]]:
    """Every condition, negation, scope and resource form, alone and where first-match order matters."""
    out: list[list[dict]] = [[]]  # the default policy
    for regex in REGEXES:
        out.append(
            [
                {"permit": {"actions": ["read"], "resource": f"regex:{regex}"}, "when": "user in owners teams"},
                {"permit": {"actions": ["read", "update"]}, "when": "user is owner"},
            ]
        )
        out.append(
            [
                {
                    "forbid": {"actions": ["read", "update"], "resource": f"regex:{regex}"},
                    "when": ["user with contractor in roles", "user is not owner"],
                },
                {"permit": {"actions": ["read", "update"]}},
            ]
        )
    out += [
        [
            {"forbid": {"actions": ["read"], "resource": "conversation::conv_2001"}},
            {
                "permit": {"actions": ["read"], "resource": "sql_record::openai_conversations::*"},
                "when": "user in owners teams",
            },
            {"permit": {"actions": ["read"], "resource": "sql_record::openai_files"}, "when": "user in owners teams"},
            {"permit": {"actions": ["read"], "resource": "sql_record::inference_store::chatcmpl-1002"}},
            {"permit": {"actions": ["read", "update"]}, "unless": "user is not owner"},
        ],
        [
            {"permit": {"actions": ["read"], "principal": "bob"}},
            {"forbid": {"actions": ["update"], "resource": "response::*"}, "unless": "user with admin in roles"},
            {"permit": {"actions": ["read", "update"]}, "when": "resource is unowned"},
            {"permit": {"actions": ["update"]}, "when": ["user in owners teams", "user with contractor not in roles"]},
            {"permit": {"actions": ["read"], "resource": "file::file-3000"}},
        ],
        [
            {"forbid": {"actions": ["read", "update"]}, "when": "user not in owners teams"},
            {"forbid": {"actions": ["update"]}, "unless": ["user is owner", "user in owners teams"]},
            {"permit": {"actions": ["read", "update"]}},
        ],
        [
            {"forbid": {"actions": ["read"], "principal": "alice"}, "when": "user is not owner"},
            {"permit": {"actions": ["read"]}, "when": "user in owners roles"},
            {"permit": {"actions": ["read", "update"], "resource": "file::*"}, "when": "user is owner"},
            {"permit": {"actions": ["update"]}, "when": "user with admin in roles"},
        ],
    ]
    return out


def create_rows(alias: str) -> None:
    now = timezone.now()
    for model, prefix, fields in TABLES:
        rows = [
            model(public_id=f"{prefix}{digit}{n:03d}", created_at=now, **fields).stamp(owner)
            for digit, (n, owner) in itertools.product("0123", enumerate(OWNERS))
        ]
        model.objects.using(alias).bulk_create(rows)


@pytest.fixture
def postgres_alias(postgres_service, django_db_blocker) -> Iterator[str]:
    """A fresh PostgreSQL database holding the owned tables, reachable as a Django connection for one test."""
    with postgres_database() as name:
        connection = PostgresWrapper(
            {
                **connections["default"].settings_dict,
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name,
                "USER": PG["user"],
                "PASSWORD": "",
                "HOST": PG["host"],
                "PORT": str(PG["port"]),
                "OPTIONS": {},
            },
            POSTGRES_ALIAS,
        )
        connections[POSTGRES_ALIAS] = connection
        try:
            with django_db_blocker.unblock():
                with connection.schema_editor() as editor:
                    for model, _, _ in TABLES:
                        editor.create_model(model)
                yield POSTGRES_ALIAS
        finally:
            connection.close()
            del connections[POSTGRES_ALIAS]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request) -> str:
    if request.param == "sqlite":
        return router.db_for_write(Conversation)  # the tests' SQLite store
    return request.getfixturevalue("postgres_alias")


def test_query_filter_and_row_check_agree(settings, database):
    settings.STACKADMIN_AUTH_ENABLED = True
    create_rows(database)
    for index, raw in enumerate(policies()):
        settings.STACKADMIN_ACCESS_POLICY = parse_policy(raw)
        outcomes = set()
        for (model, _, _), principal, action in itertools.product(TABLES, PRINCIPALS, ACTIONS):
            where = (index, model.__name__, principal.name, action)
            rows = list(model.objects.using(database))
            expected = {row.public_id for row in rows if row.allows(principal, action)}
            visible = model.objects.using(database).visible_to(principal, action)
            assert set(visible.values_list("public_id", flat=True)) == expected, where
            q = to_q(read_predicate(principal, model.resource_type, action), id_field=model.resource_id_field)
            if q:  # (an empty Q means every row, and excludes nothing)
                hidden = set(model.objects.using(database).exclude(q).values_list("public_id", flat=True))
                assert hidden == {row.public_id for row in rows} - expected, where
            outcomes.add(frozenset(expected))
        # Each policy tells some rows from others, so agreement is never just "all" against "all".
        assert len(outcomes) > 1, index
