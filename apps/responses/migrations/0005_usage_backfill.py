"""Token counts of responses stored before usage had columns of its own, read from their stored `usage`, so
usage per version counts their tokens too (their timings and labels at use were never recorded)."""

from django.db import migrations


def backfill(apps, schema_editor):
    StoredResponse = apps.get_model("responses", "StoredResponse")
    alias = schema_editor.connection.alias
    rows = (
        StoredResponse.objects.using(alias)
        .exclude(prompt_id="")
        .filter(input_tokens__isnull=True)
        .only("id", "response")
    )
    batch = []
    for row in rows.iterator(chunk_size=2000):
        usage = (row.response or {}).get("usage") or {}
        if not usage:
            continue
        row.input_tokens = usage.get("input_tokens")
        row.output_tokens = usage.get("output_tokens")
        row.reasoning_tokens = (usage.get("output_tokens_details") or {}).get("reasoning_tokens")
        batch.append(row)
        if len(batch) == 2000:
            StoredResponse.objects.using(alias).bulk_update(batch, ["input_tokens", "output_tokens", "reasoning_tokens"])
            batch.clear()
    if batch:
        StoredResponse.objects.using(alias).bulk_update(batch, ["input_tokens", "output_tokens", "reasoning_tokens"])


class Migration(migrations.Migration):
    dependencies = [("responses", "0004_usage")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
