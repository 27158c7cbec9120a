from __future__ import annotations

from django.apps import AppConfig


class StorageAppConfig(AppConfig):
    name = "apps.storage"
    label = "storage"
    verbose_name = "Storage"

    def ready(self) -> None:
        from apps.storage import checks  # noqa: F401  (registers the system checks)
