"""The responses app's tasks, run by the task engine (django-tasks' database backend; apps/core/tasks.py)."""

from __future__ import annotations

from django_tasks import task

from apps.responses.background import background_run


@task()
async def run_background_response(response_id: str) -> str:
    """Compute a background response; returns its final status."""
    return await background_run(response_id=response_id)
