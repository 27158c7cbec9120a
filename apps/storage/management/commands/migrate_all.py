"""Migrate every database alias the run config declares (each app's tables go to its store's backend)."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.storage.config import storage_config
from apps.storage.databases import backend_aliases


class Command(BaseCommand):
    help = "Apply migrations on every database alias derived from the run config's sql_* backends."

    def handle(self, *args, **options):
        storage = storage_config()
        verbosity = options["verbosity"]
        for backend, alias in backend_aliases(storage).items():
            cfg = storage.backends[backend]
            where = cfg.db_path if cfg.type == "sql_sqlite" else f"{cfg.host}:{cfg.port}/{cfg.db}"
            self.stdout.write(f"Migrating database '{alias}' (backend {backend}, {cfg.type} {where})...")
            call_command("migrate", database=alias, interactive=False, verbosity=max(0, verbosity - 1))
        self.stdout.write(self.style.SUCCESS("All databases are up to date."))
