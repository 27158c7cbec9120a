"""API keys (stored hashed) and the access attributes the policy compares."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class APIKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True, help_text="The first characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AccessAttributes(models.Model):
    """Lists of strings the access policy compares between a user and a resource's owner."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_attributes")
    roles = models.JSONField(default=list, blank=True)
    teams = models.JSONField(default=list, blank=True)
    projects = models.JSONField(default=list, blank=True)
    namespaces = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "access attributes"
        verbose_name_plural = "access attributes"

    def __str__(self) -> str:
        return f"attributes of {self.user}"

    def as_dict(self) -> dict[str, list[str]]:
        out = {}
        for attr in ("roles", "teams", "projects", "namespaces"):
            values = [str(v) for v in getattr(self, attr) or []]
            if values:
                out[attr] = values
        return out
