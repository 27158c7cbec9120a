"""Prompts and their history live in the KV store, not in SQL. These unmanaged models only give the admin a place
(and the permissions `prompts.view_prompt`, `change_prompt`, `delete_prompt`, `view_prompthistory`); they have no
tables."""

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


class PromptHistory(models.Model):
    """The prompts' history, kept in the KV store too: this unmanaged model gives the admin its read-only list
    (and the permission `prompts.view_prompthistory`); it has no table."""

    entry_id = models.CharField(max_length=40, primary_key=True)

    class Meta:
        managed = False
        verbose_name = "prompt history entry"
        verbose_name_plural = "prompt history"

    def __str__(self) -> str:
        return self.entry_id
