"""The migration that gives responses stored before usage columns existed their token counts."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

import pytest

BEFORE = [("responses", "0004_usage")]
AFTER = [("responses", "0005_usage_backfill")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_old_responses_get_their_tokens_from_their_stored_usage():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("responses", "StoredResponse")
    usage = {"input_tokens": 12, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}}
    common = {"created_at": timezone.now(), "model": "m", "status": "completed", "input_items": [], "messages": []}
    old.objects.create(public_id="resp_old1", prompt_id="pmpt_x", prompt_version=1, response={"usage": usage}, **common)
    old.objects.create(public_id="resp_old2", prompt_id="", response={"usage": usage}, **common)  # no prompt
    old.objects.create(public_id="resp_old3", prompt_id="pmpt_x", prompt_version=1, response={}, **common)
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("responses", "StoredResponse")
    tokens = dict(new.objects.values_list("public_id", "input_tokens").order_by())
    assert tokens == {"resp_old1": 12, "resp_old2": None, "resp_old3": None}
    row = new.objects.get(public_id="resp_old1")
    assert (row.output_tokens, row.reasoning_tokens) == (5, 2)
