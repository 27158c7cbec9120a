"""API keys: created and shown once, stored as a SHA-256 hash, listed by prefix, revocable.

Keys carry 256 random bits, so a fast hash is as good as a slow one here (there is nothing to brute-force);
it also lets a request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import AccessAttributes, APIKey
from apps.core.errors import AuthenticationError, BadRequestError, NotFoundError
from apps.core.principal import Principal

KEY_PREFIX = "sk-sa-"
PREFIX_CHARS = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)
_BEARER = re.compile(r"^Bearer ([A-Za-z0-9_\-]{16,200})$")


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, user, name: str = "") -> tuple[APIKey, str]:
    """Returns the stored key and its plaintext, which is never stored and cannot be shown again."""
    if len(name) > 100:
        raise BadRequestError("A key name has at most 100 characters.", param="name")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = APIKey.objects.create(user=user, name=name.strip(), prefix=raw[:PREFIX_CHARS], key_hash=hash_key(raw))
    return key, raw


def api_key_revoke(*, key_id: int, user=None) -> APIKey:
    """Revoke a key (of `user`, when given). Revoking twice is harmless."""
    with transaction.atomic():
        keys = APIKey.objects.select_for_update()
        if user is not None:
            keys = keys.filter(user=user)
        key = keys.filter(pk=key_id).first()
        if key is None:
            raise NotFoundError(f"API key {key_id} not found.")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
    return key


def principal_for_user(user, *, via: str | None = None, operator: bool = False) -> Principal:
    """The user as services see them. `operator` is for the admin: its staff see and manage everything, but
    `promote` is still theirs only as the user they are (`apps.core.access.may_promote`)."""
    try:
        attributes = user.access_attributes.as_dict()
    except AccessAttributes.DoesNotExist:
        attributes = {}
    return Principal(user.get_username(), attributes, via=via, operator=operator)


def api_key_authenticate(raw: str) -> Principal | None:
    """The principal of an active key, or None. Records when the key was last used (at most once a minute)."""
    key = (
        APIKey.objects.select_related("user", "user__access_attributes")
        .filter(key_hash=hash_key(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        APIKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return principal_for_user(key.user, via=f"api key {key.prefix}…")


def api_key_principal(*, authorization: str | None) -> Principal:
    """The principal of a request's `Authorization: Bearer <key>` header; `AuthenticationError` says what is wrong
    with a header that does not name an active key."""
    if not authorization:
        raise AuthenticationError("Missing API key. Send it as 'Authorization: Bearer <key>'.")
    if len(authorization) > 300:
        raise AuthenticationError("Malformed Authorization header: the token is too long.")
    match = _BEARER.match(authorization.strip())
    if match is None:
        raise AuthenticationError("Malformed Authorization header: expected exactly one 'Bearer <key>'.")
    principal = api_key_authenticate(match.group(1))
    if principal is None:
        raise AuthenticationError("Incorrect or revoked API key.")
    return principal


def access_attributes_set(*, user, **lists: list[str]) -> AccessAttributes:
    unknown = set(lists) - {"roles", "teams", "projects", "namespaces"}
    if unknown:
        raise BadRequestError(f"Unknown attribute {sorted(unknown)[0]!r}.")
    for attr, values in lists.items():
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise BadRequestError(f"'{attr}' must be a list of non-empty strings.", param=attr)
    attributes, _ = AccessAttributes.objects.update_or_create(user=user, defaults=lists)
    return attributes


def user_get(*, username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFoundError(f"User '{username}' not found.")
    return user
