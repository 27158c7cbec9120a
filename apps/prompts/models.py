"""Prompts live in the KV store, not in SQL. This unmanaged model only gives the admin a place (and the
permissions `prompts.view_prompt`, `change_prompt`, `delete_prompt`); it has no table."""

from __future__ import annotations

from django.db import models


class Prompt(models.Model):
    prompt_id = models.CharField(max_length=53, primary_key=True)

    class Meta:
        managed = False
        verbose_name = "prompt"
        verbose_name_plural = "prompts"

    def __str__(self) -> str:
        return self.prompt_id
