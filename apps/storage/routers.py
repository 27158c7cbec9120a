"""Send each app's models to the database alias of the store that holds them."""

from __future__ import annotations

from apps.core.handlers import RunConfigHandler
from apps.storage.config import storage_config
from apps.storage.databases import APP_STORES, store_alias


class _StoreAliases(RunConfigHandler[str, str]):
    """The alias of each app label, worked out once per run config: the router is asked on every query."""

    def create(self, key: str) -> str:
        store = APP_STORES.get(key)
        return "default" if store is None else store_alias(storage_config(), store)


_aliases = _StoreAliases()


class StoreRouter:
    def db_for_read(self, model, **hints):
        return _aliases[model._meta.app_label]

    def db_for_write(self, model, **hints):
        return _aliases[model._meta.app_label]

    def allow_relation(self, obj1, obj2, **hints):
        return _aliases[obj1._meta.app_label] == _aliases[obj2._meta.app_label]

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == _aliases[app_label]
