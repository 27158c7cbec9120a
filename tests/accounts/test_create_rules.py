"""`create` rules: ignored by policies that never mention `create` (llama-stack's behaviour), enforced otherwise."""

from __future__ import annotations

import pytest

from apps.conversations import services as conversations
from apps.core.errors import PermissionDeniedError
from apps.core.policy import parse_policy
from apps.core.principal import Principal
from apps.prompts import services as prompts

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.usefixtures("prompts_backend")]

WRITER = Principal("wendy", {"roles": ["writer"]})
READER = Principal("rita", {"roles": ["reader"]})


@pytest.fixture
def auth_on(settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    return settings


def test_policies_without_create_rules_let_everyone_create(auth_on):
    auth_on.STACKADMIN_ACCESS_POLICY = parse_policy([{"permit": {"actions": ["read"]}, "when": "user is owner"}])
    assert prompts.prompt_create(text="hello", principal=READER).owner_principal == "rita"
    assert conversations.conversation_create(principal=READER).owner_principal == "rita"


def test_create_rules_are_enforced_when_present(auth_on):
    auth_on.STACKADMIN_ACCESS_POLICY = parse_policy(
        [
            {"forbid": {"actions": ["create"], "resource": "prompt::*"}, "unless": "user with writer in roles"},
            {"permit": {"actions": ["create", "read", "update", "delete"]}, "when": "user is owner"},
        ]
    )
    assert prompts.prompt_create(text="allowed", principal=WRITER).owner_principal == "wendy"
    with pytest.raises(PermissionDeniedError, match="may not create a prompt"):
        prompts.prompt_create(text="refused", principal=READER)
    # the forbid names prompts only; the owner rule grants creating conversations to anyone
    assert conversations.conversation_create(principal=READER).owner_principal == "rita"


def test_a_policy_with_create_rules_denies_what_no_rule_permits(auth_on):
    auth_on.STACKADMIN_ACCESS_POLICY = parse_policy(
        [
            {"permit": {"actions": ["create"], "resource": "conversation::*"}},
            {"permit": {"actions": ["read"]}},
        ]
    )
    conversations.conversation_create(principal=READER)
    with pytest.raises(PermissionDeniedError):
        prompts.prompt_create(text="no rule permits creating prompts", principal=READER)
