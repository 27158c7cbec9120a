"""What services and selectors ask of the access policy: who acts, and which rows they may touch.

With authentication off, or for anonymous callers, nothing is filtered (rows are unowned). Otherwise reads are
filtered in the query itself (`visible_q`), so a page of `limit` rows is full whenever more visible rows exist,
and another user's resource is simply not found.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from apps.core.policy import Pred, Resource, User, access_keys, compile_read_filter, is_allowed, to_q
from apps.core.principal import Principal

__all__ = ["access_keys", "allowed", "ownership", "policy_user", "require", "require_create", "visible_q"]


def policy_user(principal: Principal | None) -> User | None:
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
    return compile_read_filter(settings.STACKADMIN_ACCESS_POLICY, policy_user(principal), resource_type, action)


def visible_q(
    principal: Principal | None,
    resource_type: str,
    *,
    id_field: str,
    action: str = "read",
    owner_field: str = "owner_principal",
    keys_field: str = "access_keys",
) -> Q:
    """A Q object selecting the rows of `resource_type` that `principal` may `action`."""
    predicate = read_predicate(principal, resource_type, action)
    return to_q(predicate, id_field=id_field, owner_field=owner_field, keys_field=keys_field)


def ownership(principal: Principal | None) -> dict:
    """The three ownership columns a new row is stamped with (unowned for anonymous callers)."""
    if principal is None or principal.is_anonymous:
        return {"owner_principal": "", "access_attributes": None, "access_keys": ""}
    return {
        "owner_principal": principal.name,
        "access_attributes": principal.attributes or None,
        "access_keys": access_keys(principal.attributes),
    }


def require(principal: Principal | None, action: str, resource_type: str, row, *, id_attr: str = "public_id") -> None:
    """403 when the policy forbids `action` on a row the caller can see (callers 404 on rows they cannot see)."""
    from apps.core.errors import PermissionDeniedError

    identifier = getattr(row, id_attr)
    if not allowed(
        principal, action, resource_type, identifier, owner=row.owner_principal, owner_attributes=row.access_attributes
    ):
        raise PermissionDeniedError(f"You may not {action} {resource_type.replace('_', ' ')} '{identifier}'.")


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
        from apps.core.errors import PermissionDeniedError

        raise PermissionDeniedError(f"You may not create a {resource_type.replace('_', ' ')}.")
