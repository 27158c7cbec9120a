from __future__ import annotations

from django.apps import AppConfig


class ResponsesConfig(AppConfig):
    name = "apps.responses"
    label = "responses"
    verbose_name = "Responses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core.tasks import housekeeping
        from apps.responses.background import background_reap
        from apps.responses.replay import replay_reap
        from apps.tools.server_tools import register_tool_schemas

        register_tool_schemas()

        for job in (background_reap, replay_reap):
            if job not in housekeeping:
                housekeeping.append(job)
