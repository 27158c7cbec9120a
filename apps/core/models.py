"""The owned-model base: one definition of who owns a row and who may see it.

Every table a principal creates rows in (conversations and their items, files, stored responses, chat
completions) keeps the same three columns: llama-stack's `owner_principal` and `access_attributes`, plus
`access_keys`, the attributes as the tokens the policy's SQL filter searches. A model subclasses `OwnedModel`
and names its resource type and id field once; the access policy (apps.core.policy) then reads its rows through
`Model.objects.visible_to(principal, action)`, stamps new ones with `stamp(principal)`, and checks one row with
`require_allowed(principal, action)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

from django.db import models

from apps.core.access import allowed, read_predicate
from apps.core.errors import PermissionDeniedError
from apps.core.policy import access_keys, to_q
from apps.core.principal import Principal


class OwnedQuerySet(models.QuerySet):
    def visible_to(self, principal: Principal | None, action: str = "read") -> Self:
        """The rows `principal` may `action` under the access policy, filtered in the query itself (so a page of
        `limit` rows is full whenever more visible rows exist, and a row they may not see is simply not found)."""
        predicate = read_predicate(principal, self.model.resource_type, action)
        return self.filter(to_q(predicate, id_field=self.model.resource_id_field))

    def get_by_id(self, object_id: str, *, missing: Callable[[str], Exception]) -> Any:
        """The row with this id (its `resource_id_field`), or `missing(object_id)` raised."""
        row = self.filter(**{self.model.resource_id_field: object_id}).first()
        if row is None:
            raise missing(object_id)
        return row

    def delete_by_id(self, object_id: str, *, principal: Principal | None, missing: Callable[[str], Exception]) -> None:
        """Delete the row with this id: `missing(object_id)` raised when there is none among these rows, a 403
        when the policy forbids `principal` to delete it."""
        rows = self.filter(**{self.model.resource_id_field: object_id})
        row = rows.first()
        if row is not None:
            row.require_allowed(principal, "delete")
        deleted, _ = rows.delete()
        if not deleted:
            raise missing(object_id)


class OwnedModel(models.Model):
    # The policy's name for these rows (`<resource_type>::<id>`) and the field holding the id (every table keeps the
    # OpenAI id in `public_id`, next to its own integer key).
    resource_type: ClassVar[str]
    resource_id_field: ClassVar[str] = "public_id"

    owner_principal = models.CharField(max_length=255, blank=True, default="", db_index=True, editable=False)
    access_attributes = models.JSONField(null=True, blank=True, editable=False)
    # The owner's attributes as `|attr=value|` tokens, so the access policy can filter in SQL (apps.core.policy).
    access_keys = models.TextField(blank=True, default="", db_default="", editable=False)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return getattr(self, self.resource_id_field)

    @staticmethod
    def owner_fields(principal: Principal | None) -> dict[str, Any]:
        """The three ownership columns of a row `principal` creates (unowned for anonymous callers), for APIs
        that take field values (`get_or_create` defaults, many rows with one owner)."""
        if principal is None or principal.is_anonymous:
            return {"owner_principal": "", "access_attributes": None, "access_keys": ""}
        return {
            "owner_principal": principal.name,
            "access_attributes": principal.attributes or None,
            "access_keys": access_keys(principal.attributes),
        }

    def stamp(self, principal: Principal | None) -> Self:
        """Make `principal` the owner of this new, unsaved row; returns the row."""
        for name, value in self.owner_fields(principal).items():
            setattr(self, name, value)
        return self

    def allows(self, principal: Principal | None, action: str) -> bool:
        """Whether the policy lets `principal` `action` this row: the same compiled rules `visible_to` filters
        with, evaluated here in Python."""
        return allowed(
            principal,
            action,
            self.resource_type,
            getattr(self, self.resource_id_field),
            owner=self.owner_principal,
            owner_attributes=self.access_attributes,
        )

    def require_allowed(self, principal: Principal | None, action: str) -> None:
        """403 when the policy forbids `action` on a row the caller can see (callers 404 on rows they cannot see)."""
        if not self.allows(principal, action):
            identifier = getattr(self, self.resource_id_field)
            raise PermissionDeniedError(f"You may not {action} {self.resource_type.replace('_', ' ')} '{identifier}'.")


class ModelOutput(OwnedModel):
    """A stored answer of a model (a chat completion, a response): listed newest first, optionally for one model."""

    # When stackadmin received the request; lists are ordered by it (then by the row id, which never ties).
    created_at = models.DateTimeField(db_index=True, editable=False)
    # The model id the caller asked for (the lists' `model` filter); the stored object keeps the server's own name.
    model = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        abstract = True


# What the usage statements read of a row besides its prompt, time and version: the trailing columns of each model's
# covering usage index (`responses_prompt_usage_idx`, `inference_prompt_usage_idx`), so they scan a range of it.
# `owner_principal` is the access policy's filter, for the common owner rules.
PROMPT_USAGE_READS = (
    "status",
    "model",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "latency_ms",
    "first_token_ms",
    "prompt_labels",
    "owner_principal",
)


class PromptUsageColumns(models.Model):
    """What usage per prompt version is computed from (apps.responses.usage), in columns so the database aggregates
    them: the version used and the labels pointing at it then (`|default|production|`), the token counts of the
    output's `usage`, the time to completion and (streams) to the first output. Stored responses and chat
    completions made with a prompt share them under the same names, so the same statements aggregate both."""

    prompt_version = models.IntegerField(null=True, blank=True, editable=False)
    prompt_labels = models.CharField(max_length=512, blank=True, default="", db_default="", editable=False)
    input_tokens = models.IntegerField(null=True, blank=True, editable=False)
    output_tokens = models.IntegerField(null=True, blank=True, editable=False)
    reasoning_tokens = models.IntegerField(null=True, blank=True, editable=False)
    latency_ms = models.IntegerField(null=True, blank=True, editable=False)
    first_token_ms = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
