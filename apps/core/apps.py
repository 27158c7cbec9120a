from __future__ import annotations

from django.apps import AppConfig


class CoreAppConfig(AppConfig):
    """What every app uses: errors, the principal, paging, change events, /v1 rendering, ownership."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"
