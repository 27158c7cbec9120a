"""`visible_to`: the query filter selects exactly the rows the policy allows, row by row, for every rule form."""

from __future__ import annotations

import itertools

from django.utils import timezone

import pytest

from apps.conversations.models import Conversation
from apps.core.access import read_predicate
from apps.core.policy import Resource, User, access_keys, is_allowed, parse_policy, to_q
from apps.core.principal import Principal

pytestmark = pytest.mark.django_db

OWNERS = [
    ("", None),
    ("alice", {"teams": ["red"], "roles": ["user"]}),
    ("bob", {"teams": ["blue"]}),
    ("carol", {"teams": ["red", "green"]}),
    ("%", {"teams": ["%"]}),
]
# conv_<digit><owner index>: each owner has a row of each first digit, which the regexes below pick from.
IDS = {(digit, n): f"conv_{digit}{n:047d}" for digit in "0123" for n in range(len(OWNERS))}
USERS = [
    Principal("alice", {"teams": ["red"], "roles": ["user"]}),
    Principal("bob", {"teams": ["blue"], "roles": ["contractor"]}),
    Principal("carol", {"teams": ["red", "green"]}),
    Principal("dave", {"teams": ["%", "_"]}),
]
REGEXES = [
    "conversation::conv_[13]",  # the type, then the id
    "(file|conversation)::conv_[02]",  # an alternation covering the type
    "conv",  # a prefix of the type name
    ".*::conv_3",
    "(?i)CONVERSATION::conv_0",  # a global flag
    "conversation::conv_1|conversation::conv_2",  # a top-level alternation
    "file::.*",  # another type
    "conversation::conv_0$",  # anchored at the end too: matches nothing (ids are longer)
]


def policies() -> list:
    out: list = [[]]
    for regex in REGEXES:
        out.append(
            [
                {"permit": {"actions": ["read"], "resource": f"regex:{regex}"}, "when": "user in owners teams"},
                {"permit": {"actions": ["read"]}, "when": "user is owner"},
            ]
        )
        out.append(
            [
                {
                    "forbid": {"actions": ["read", "delete"], "resource": f"regex:{regex}"},
                    "when": ["user with contractor in roles", "user is not owner"],
                },
                {"permit": {"actions": ["read", "delete"]}},
            ]
        )
    out.append(
        [
            {"forbid": {"actions": ["read"], "resource": f"conversation::{IDS['2', 1]}"}},
            {
                "permit": {"actions": ["read"], "resource": "sql_record::openai_conversations::*"},
                "when": "user in owners teams",
            },
            {"permit": {"actions": ["read"]}, "unless": "user is not owner"},
        ]
    )
    return out


def owned_by(row: Conversation) -> tuple:
    return row.public_id, row.owner_principal, row.access_attributes


@pytest.mark.parametrize("raw", policies(), ids=lambda raw: str(raw)[:90])
def test_query_filter_selects_exactly_what_the_policy_allows(settings, raw):
    settings.STACKADMIN_AUTH_ENABLED = True
    settings.STACKADMIN_ACCESS_POLICY = policy = parse_policy(raw)
    rows = [
        Conversation.objects.create(
            public_id=public_id,
            created_at=timezone.now(),
            owner_principal=OWNERS[n][0],
            access_attributes=OWNERS[n][1],
            access_keys=access_keys(OWNERS[n][1]),
        )
        for (_, n), public_id in IDS.items()
    ]
    for principal, action in itertools.product(USERS, ["read", "delete"]):
        user = User(principal.name, principal.attributes)
        expected = {
            row.public_id for row in rows if is_allowed(policy, user, action, Resource("conversation", *owned_by(row)))
        }
        visible = Conversation.objects.visible_to(principal, action)
        assert set(visible.values_list("public_id", flat=True)) == expected, (principal, action)
        q = to_q(read_predicate(principal, "conversation", action), id_field="public_id")
        if q:  # (an empty Q means every row, and excludes nothing)
            negated = set(Conversation.objects.exclude(q).values_list("public_id", flat=True))
            assert negated == {row.public_id for row in rows} - expected, (principal, action)
