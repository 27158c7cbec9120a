"""What services and selectors ask of the access policy: who acts, and what they may do.

With authentication off, or for anonymous callers, nothing is filtered (rows are unowned). Otherwise reads are
filtered in the query itself (`OwnedModel.objects.visible_to`, in apps.core.models), so a page of `limit` rows is
full whenever more visible rows exist, and another user's resource is simply not found.
"""

from __future__ import annotations

from django.conf import settings

from apps.core.errors import PermissionDeniedError
from apps.core.policy import DEFAULT_PROMOTE_POLICY, Pred, Resource, User, compile_read_filter, is_allowed
from apps.core.principal import Principal

__all__ = ["allowed", "may_promote", "policy_user", "read_predicate", "require_create"]


def policy_user(principal: Principal | None) -> User | None:
    """Whom the policy judges: nobody (everything allowed) with authentication off, for anonymous callers and for
    operators, who see and manage everything in the admin."""
    if principal is not None and principal.operator:
        return None
    return _person(principal)


def _person(principal: Principal | None) -> User | None:
    """The user `principal` is, operator or not (None with authentication off or when anonymous)."""
    if not settings.STACKADMIN_AUTH_ENABLED or principal is None or principal.is_anonymous:
        return None
    return User(principal.name, dict(principal.attributes or {}))


def allowed(
    principal: Principal | None,
    action: str,
    resource_type: str,
    identifier: str,
    *,
    owner: str,
    owner_attributes: dict | None,
) -> bool:
    return is_allowed(
        settings.STACKADMIN_ACCESS_POLICY,
        policy_user(principal),
        action,
        Resource(resource_type, identifier, owner, owner_attributes),
    )


def read_predicate(principal: Principal | None, resource_type: str, action: str = "read") -> Pred:
    """The compiled policy for this caller: which rows of `resource_type` they may `action`."""
    return compile_read_filter(settings.STACKADMIN_ACCESS_POLICY, policy_user(principal), resource_type, action)


def require_create(principal: Principal | None, resource_type: str) -> None:
    """Apply the policy's `create` rules, if it has any.

    llama-stack never checks `create`, so a policy without a single `create` rule (the default one included)
    lets everyone create, as it always did; a policy that does mention `create` is evaluated for it like any
    other action (the new resource is owned by its creator; no matching rule denies).
    """
    policy = settings.STACKADMIN_ACCESS_POLICY
    user = policy_user(principal)
    if user is None or not any("create" in rule.actions for rule in policy):
        return
    if not is_allowed(policy, user, "create", Resource(resource_type, "", user.principal, user.attributes)):
        raise PermissionDeniedError(f"You may not create a {resource_type.replace('_', ' ')}.")


def may_promote(
    principal: Principal | None, resource_type: str, identifier: str, *, owner: str, owner_attributes: dict | None
) -> bool:
    """Whether `principal` may move a protected label of this resource: the policy's `promote` rules, or, in a
    policy that has none (the default one included), the owner's and `admin` role holders' only. An operator is
    judged as the user they are: managing everything in the admin does not make them a promoter. With
    authentication off there is no one to tell apart, so everyone may."""
    policy = settings.STACKADMIN_ACCESS_POLICY
    if not any("promote" in rule.actions for rule in policy):
        policy = DEFAULT_PROMOTE_POLICY
    return is_allowed(
        policy, _person(principal), "promote", Resource(resource_type, identifier, owner, owner_attributes)
    )
