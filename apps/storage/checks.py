"""`manage.py check` reports a run config that cannot be used, with the same line `stackadmin run` prints."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register()
def check_run_config(app_configs, **kwargs):
    error = getattr(settings, "STACKADMIN_CONFIG_ERROR", None)
    if error:
        return [checks.Error(error, hint="Fix the run config named by STACKADMIN_CONFIG.", id="stackadmin.E001")]
    return [checks.Warning(w, id="stackadmin.W001") for w in settings.STACKADMIN_RUN_CONFIG.warnings]
