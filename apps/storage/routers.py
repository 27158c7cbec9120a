"""Send each app's models to the database alias of the store that holds them."""

from __future__ import annotations

from django.conf import settings

from apps.storage.databases import APP_STORES, store_alias

_cache: dict[tuple[int, str], str] = {}


def _alias_for(app_label: str) -> str:
    config = settings.STACKADMIN_RUN_CONFIG
    key = (id(config), app_label)
    alias = _cache.get(key)
    if alias is None:
        store = APP_STORES.get(app_label)
        alias = _cache[key] = "default" if store is None else store_alias(config.storage, store)
    return alias


class StoreRouter:
    def db_for_read(self, model, **hints):
        return _alias_for(model._meta.app_label)

    def db_for_write(self, model, **hints):
        return _alias_for(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints):
        return _alias_for(obj1._meta.app_label) == _alias_for(obj2._meta.app_label)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == _alias_for(app_label)
