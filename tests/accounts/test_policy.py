"""The access-policy language: parsing errors, evaluation, and the compiled filter agreeing with evaluation."""

from __future__ import annotations

import itertools

import pytest

from apps.core.policy import (
    DEFAULT_POLICY,
    PolicyError,
    Resource,
    User,
    access_keys,
    compile_read_filter,
    evaluate,
    is_allowed,
    parse_policy,
)

ALICE = User("alice", {"teams": ["red"], "roles": ["user"]})
BOB = User("bob", {"teams": ["blue"]})
CAROL = User("carol", {"teams": ["red", "green"]})
ADMIN = User("root", {"roles": ["admin"]})


def resource(owner="", attrs=None, ident="conv_1", kind="conversation"):
    return Resource(kind, ident, owner, attrs)


def test_default_policy_is_owner_shared_attribute_or_unowned():
    mine = resource("alice", {"teams": ["red"], "roles": ["user"]})
    assert is_allowed((), ALICE, "read", mine)
    assert is_allowed((), CAROL, "delete", mine)  # shares team red
    assert not is_allowed((), BOB, "read", mine)
    assert is_allowed((), BOB, "read", resource())  # unowned
    assert is_allowed((), None, "delete", mine)  # authentication off


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ([{"permit": {"actions": ["read"]}, "when": "user in owner teams"}], "[0]"),
        ([{"permit": {"actions": ["read"]}}, {"permit": {"actions": ["read"]}, "when": "user is admin"}], "[1]"),
        ([{"permit": {"actions": ["fly"]}}], "'actions' must be one or more of"),
        ([{"permit": {"actions": ["read"]}, "forbid": {"actions": ["read"]}}], "exactly one of"),
        ([{"permit": {"actions": ["read"]}, "when": "user is owner", "unless": "resource is unowned"}], "not both"),
        ([{"permit": {"actions": ["read"], "resource": "regex:(unclosed"}}], "invalid regex"),
        ([{"allow": {"actions": ["read"]}}], "unknown key 'allow'"),
        ("not a list", "must be a list"),
    ],
)
def test_unparsable_rules_name_index_and_text(raw, fragment):
    with pytest.raises(PolicyError) as info:
        parse_policy(raw)
    assert fragment in str(info.value)
    if isinstance(raw, list):
        assert "server.auth.access_policy[" in str(info.value)


def test_custom_policy_first_match_decides():
    policy = parse_policy(
        [
            {"forbid": {"actions": ["delete"], "resource": "conversation::*"}, "unless": "user with admin in roles"},
            {"permit": {"actions": ["read", "update", "delete"]}, "when": "user is owner"},
            {
                "permit": {"actions": ["read"], "resource": "sql_record::openai_files::*"},
                "when": "user in owners teams",
            },
        ]
    )
    mine = resource("alice", {"teams": ["red"]})
    assert is_allowed(policy, ALICE, "read", mine)
    assert not is_allowed(policy, ALICE, "delete", mine)  # the forbid comes first
    assert not is_allowed(policy, CAROL, "read", mine)  # teams only grant files
    assert is_allowed(policy, CAROL, "read", resource("alice", {"teams": ["red"]}, "file-1", "file"))
    assert not is_allowed(policy, ALICE, "create", mine)  # nothing matches: deny
    assert is_allowed(policy, ADMIN, "delete", resource("root", {"roles": ["admin"]}))  # admins skip the forbid
    assert is_allowed(
        parse_policy([{"permit": {"actions": ["delete"]}, "when": "user with admin in roles"}]), ADMIN, "delete", mine
    )


def test_attribute_tokens_cannot_be_forged():
    keys = access_keys({"teams": ["red|7465616d73=626c7565|"]})
    assert evaluate(compile_read_filter((), BOB, "conversation"), owner="eve", keys=keys, identifier="x") is False
    # case matters even where SQL LIKE would not
    assert (
        evaluate(
            compile_read_filter((), User("u", {"teams": ["RED"]}), "conversation"),
            owner="alice",
            keys=access_keys({"teams": ["red"]}),
            identifier="x",
        )
        is False
    )


POLICIES = [
    (),
    parse_policy([{"permit": {"actions": ["read"]}, "when": ["user in owners teams", "user with user in roles"]}]),
    parse_policy(
        [
            {"forbid": {"actions": ["read"], "resource": "conversation::conv_2"}},
            {"permit": {"actions": ["read"]}, "unless": "user is not owner"},
            {
                "permit": {"actions": ["read"], "resource": "regex:conversation::conv_[13]"},
                "when": "resource is unowned",
            },
        ]
    ),
    parse_policy(
        [{"forbid": {"actions": ["read"]}, "when": "user not in owners teams"}, {"permit": {"actions": ["read"]}}]
    ),
]


@pytest.mark.parametrize("policy", POLICIES)
def test_compiled_filter_agrees_with_rule_evaluation(policy):
    owners = [
        ("", None),
        ("alice", {"teams": ["red"], "roles": ["user"]}),
        ("bob", {"teams": ["blue"]}),
        ("carol", {"teams": ["red", "green"]}),
        ("dave", {}),
    ]
    for user, (owner, attrs), ident in itertools.product(
        [ALICE, BOB, CAROL, ADMIN], owners, ["conv_1", "conv_2", "conv_3"]
    ):
        expected = is_allowed(policy, user, "read", resource(owner, attrs, ident))
        compiled = compile_read_filter(policy, user, "conversation")
        got = evaluate(compiled, owner=owner, keys=access_keys(attrs), identifier=ident)
        assert got == expected, (policy, user, owner, ident)


def test_default_policy_has_one_rule_per_attribute_plus_owner_and_unowned_plus_promote():
    assert len(DEFAULT_POLICY) == 8
    everyday = {"create", "read", "update", "delete"}
    assert [set(rule.actions) for rule in DEFAULT_POLICY[:6]] == [everyday] * 6
    assert [rule.actions for rule in DEFAULT_POLICY[6:]] == [("promote",), ("promote",)]
