"""A column counting each stored response's tool calls (its output items typed `*_call`), so the dashboard's list
of responses shows and filters them in SQL; the responses stored before it are counted once, by the database
(only rows whose JSON mentions `_call` are touched).

The column is added by a plain `ALTER TABLE ... ADD COLUMN` on both databases: Django's schema editor would rebuild
the table on SQLite for a NOT NULL column with a default, and a rebuilt table loses the usage rollup's triggers
(migration `usage_hourly_rollup`)."""

from django.db import migrations, models

SQLITE_BACKFILL = (
    "UPDATE openai_responses SET tool_calls = (SELECT count(*) FROM json_each(openai_responses.response, '$.output') "
    "AS item WHERE json_extract(item.value, '$.type') LIKE '%\\_call' ESCAPE '\\') "
    "WHERE instr(response, '_call') > 0 AND json_type(response, '$.output') = 'array'"
)
POSTGRES_BACKFILL = (
    "UPDATE openai_responses SET tool_calls = (SELECT count(*) FROM jsonb_array_elements(response -> 'output') "
    "AS item WHERE item ->> 'type' LIKE '%\\_call' ESCAPE '\\') "
    "WHERE strpos(response::text, '_call') > 0 AND jsonb_typeof(response -> 'output') = 'array'"
)


BACKFILL = {"postgresql": POSTGRES_BACKFILL, "sqlite": SQLITE_BACKFILL}


def backfill(apps, schema_editor):
    schema_editor.execute(BACKFILL[schema_editor.connection.vendor], params=None)


class Migration(migrations.Migration):
    dependencies = [("responses", "0008_replay_item")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="storedresponse",
                    name="tool_calls",
                    field=models.IntegerField(db_default=0, default=0, editable=False),
                )
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE openai_responses ADD COLUMN tool_calls integer DEFAULT 0 NOT NULL",
                    "ALTER TABLE openai_responses DROP COLUMN tool_calls",
                )
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
