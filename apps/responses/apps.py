from __future__ import annotations

from django.apps import AppConfig


class ResponsesConfig(AppConfig):
    name = "apps.responses"
    label = "responses"
    verbose_name = "Responses"
    default_auto_field = "django.db.models.BigAutoField"
