"""Operators (staff in the admin): the policy does not filter what they see or manage, but `promote` is theirs only as
the user they are."""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from apps.core.access import allowed, may_promote, policy_user, read_predicate
from apps.core.policy import parse_policy
from apps.core.principal import Principal

OWNER = {"owner": "alice", "owner_attributes": {"teams": ["red"]}}


@pytest.fixture
def auth_on(settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    return settings


def operator(name: str, **attributes: list[str]) -> Principal:
    return Principal(name, attributes, via="admin", operator=True)


def test_an_operator_sees_and_manages_everything(auth_on):
    ops = operator("ops", teams=["blue"])
    assert policy_user(ops) is None
    assert read_predicate(ops, "prompt").op == "true"
    for action in ("read", "update", "delete"):
        assert allowed(ops, action, "prompt", "pmpt_x", **OWNER)
    # The same user outside the admin is judged by the policy.
    assert not allowed(Principal("ops", {"teams": ["blue"]}), "read", "prompt", "pmpt_x", **OWNER)


def test_an_operator_promotes_only_as_the_user_they_are(auth_on):
    assert not may_promote(operator("ops", teams=["red"]), "prompt", "pmpt_x", **OWNER)
    assert may_promote(operator("boss", roles=["admin"]), "prompt", "pmpt_x", **OWNER)
    assert may_promote(operator("alice"), "prompt", "pmpt_x", **OWNER)
    # A policy's own promote rules apply to operators too.
    auth_on.STACKADMIN_ACCESS_POLICY = parse_policy(
        [{"permit": {"actions": ["promote"]}, "when": "user with release in roles"}]
    )
    assert not may_promote(operator("alice"), "prompt", "pmpt_x", **OWNER)
    assert may_promote(operator("rm", roles=["release"]), "prompt", "pmpt_x", **OWNER)


def test_with_authentication_off_everyone_may_promote(settings):
    settings.STACKADMIN_AUTH_ENABLED = False
    assert may_promote(operator("ops"), "prompt", "pmpt_x", **OWNER)


def test_operators_are_not_told_apart_from_their_user_by_equality():
    assert operator("ops") == Principal("ops")


@pytest.mark.django_db
def test_the_admin_principal_of_a_user(django_user_model):
    user = django_user_model.objects.create_user("ops", password="pw-123456789", is_staff=True)
    accounts.access_attributes_set(user=user, roles=["admin"])
    principal = accounts.principal_for_user(user, via="admin", operator=True)
    assert (principal.name, principal.attributes["roles"], principal.via, principal.operator) == (
        "ops",
        ["admin"],
        "admin",
        True,
    )
    assert not accounts.principal_for_user(user, via="dashboard").operator
