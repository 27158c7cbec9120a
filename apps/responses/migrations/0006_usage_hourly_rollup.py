"""The hourly usage rollup (`PromptUsageHour`), kept by triggers on `openai_responses`, and filled from the
responses already stored.

SQLite: row triggers (one writer at a time, so no two transactions ever wait on each other's rollup rows).
PostgreSQL: statement triggers over transition tables: a batch of responses (the write queue inserts up to 64 in
one statement) is grouped first and its rollup rows are written in key order, so concurrent writers take their
row locks in one order and cannot deadlock. Both: the unique key is (prompt, hour, version, model, origin,
labels, owner, owner attributes); a response's figures are added on insert, subtracted on delete, and moved on an
update of a column usage reads (a background response's status, tokens and timings arrive by update). The last
use of a rollup row is the newest response of its key in its hour, read again after a delete (one hour of one
prompt in the responses' usage index), since a maximum cannot be subtracted.
"""

from django.db import migrations, models

TABLE = "openai_responses_usage_hourly"
KEY = ["prompt_id", "hour", "prompt_version", "model", "origin", "prompt_labels", "owner_principal", "access_keys"]
SUMS = ["requests", "errors", "incomplete", "input_tokens", "output_tokens", "reasoning_tokens"]
COUNTS = [f"{c}_count" for c in ("latency_ms", "first_token_ms", "input_tokens", "output_tokens", "reasoning_tokens")]
VALUES = [*SUMS, *COUNTS]
COLUMNS = [*KEY, *VALUES, "last_used_at"]
# What a response contributes to each value column (`r` is the response row).
CONTRIBUTION = {
    "requests": "1",
    "errors": "(CASE WHEN {r}.status = 'failed' THEN 1 ELSE 0 END)",
    "incomplete": "(CASE WHEN {r}.status = 'incomplete' THEN 1 ELSE 0 END)",
    "input_tokens": "COALESCE({r}.input_tokens, 0)",
    "output_tokens": "COALESCE({r}.output_tokens, 0)",
    "reasoning_tokens": "COALESCE({r}.reasoning_tokens, 0)",
    **{f"{c}_count": f"(CASE WHEN {{r}}.{c} IS NULL THEN 0 ELSE 1 END)" for c in
       ("latency_ms", "first_token_ms", "input_tokens", "output_tokens", "reasoning_tokens")},
}
# An update moves a response's figures only when one of these changed.
WATCHED = ["prompt_id", "prompt_version", "created_at", "model", "origin", "prompt_labels", "owner_principal",
           "access_keys", "status", "input_tokens", "output_tokens", "reasoning_tokens", "latency_ms", "first_token_ms"]
UPSERT = ", ".join(
    [f"{v} = {TABLE}.{v} + excluded.{v}" for v in VALUES]
)


# ------------------------------------------------------------------------------------------ SQLite
def _sqlite_hour(r: str) -> str:
    return f"CAST(strftime('%s', {r}.created_at) AS INTEGER) / 3600"


def _sqlite_add(r: str) -> str:
    values = [f"{r}.prompt_id", _sqlite_hour(r), *(f"{r}.{k}" for k in KEY[2:])]
    values += [CONTRIBUTION[v].format(r=r) for v in VALUES] + [f"{r}.created_at"]
    return (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT {', '.join(values)} "
        f"WHERE {r}.prompt_id <> '' AND {r}.prompt_version IS NOT NULL "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {UPSERT}, "
        f"last_used_at = max({TABLE}.last_used_at, excluded.last_used_at);"
    )


def _sqlite_key_matches(r: str) -> str:
    return " AND ".join(
        [f"{TABLE}.prompt_id = {r}.prompt_id", f"{TABLE}.hour = {_sqlite_hour(r)}"]
        + [f"{TABLE}.{k} = {r}.{k}" for k in KEY[2:]]
    )


def _sqlite_subtract(r: str) -> str:
    newest = (
        "(SELECT max(s.created_at) FROM openai_responses s WHERE s.prompt_id = {r}.prompt_id "
        "AND s.created_at >= strftime('%Y-%m-%d %H:00:00', {r}.created_at) "
        "AND s.created_at < strftime('%Y-%m-%d %H:00:00', {r}.created_at, '+1 hour') AND "
        + " AND ".join(f"s.{k} = {{r}}.{k}" for k in KEY[2:])
        + ")"
    ).format(r=r)
    sets = ", ".join(f"{v} = {v} - {CONTRIBUTION[v].format(r=r)}" for v in VALUES)
    return (
        f"UPDATE {TABLE} SET {sets}, last_used_at = COALESCE({newest}, last_used_at) WHERE {_sqlite_key_matches(r)};"
        f"DELETE FROM {TABLE} WHERE {_sqlite_key_matches(r)} AND requests = 0;"
    )


SQLITE_FORWARD = [
    f"CREATE UNIQUE INDEX responses_usage_hourly_key ON {TABLE} ({', '.join(KEY)})",
    f"CREATE TRIGGER openai_responses_usage_insert AFTER INSERT ON openai_responses "
    f"WHEN NEW.prompt_id <> '' BEGIN {_sqlite_add('NEW')} END",
    f"CREATE TRIGGER openai_responses_usage_delete AFTER DELETE ON openai_responses "
    f"WHEN OLD.prompt_id <> '' BEGIN {_sqlite_subtract('OLD')} END",
    f"CREATE TRIGGER openai_responses_usage_update AFTER UPDATE OF {', '.join(WATCHED)} ON openai_responses "
    f"BEGIN {_sqlite_subtract('OLD')} {_sqlite_add('NEW')} END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS openai_responses_usage_insert",
    "DROP TRIGGER IF EXISTS openai_responses_usage_delete",
    "DROP TRIGGER IF EXISTS openai_responses_usage_update",
]


# ------------------------------------------------------------------------------------------ PostgreSQL
PG_HOUR = "floor(extract(epoch FROM {r}.created_at) / 3600)::integer"
# Index rows are limited to about 2.7 kB: the long, unbounded text columns are keyed by their md5.
PG_KEY = "prompt_id, hour, prompt_version, model, origin, md5(prompt_labels), md5(owner_principal), md5(access_keys)"


def _pg_grouped(source: str) -> str:
    """A source of responses grouped by rollup key, in key order, with what each group adds up to."""
    sums = [
        f"sum({CONTRIBUTION[v].format(r='r')})::{'bigint' if 'tokens' in v and 'count' not in v else 'integer'} AS {v}"
        for v in VALUES
    ]
    keys = [f"r.prompt_id", f"{PG_HOUR.format(r='r')} AS hour", *(f"r.{k}" for k in KEY[2:])]
    return (
        f"SELECT {', '.join(keys)}, {', '.join(sums)}, max(r.created_at) AS last_used_at FROM {source} r "
        f"WHERE r.prompt_id <> '' AND r.prompt_version IS NOT NULL "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(KEY) + 1))} "
        f"ORDER BY {', '.join(str(i) for i in range(1, len(KEY) + 1))}"
    )


def _pg_add(source: str) -> str:
    return (
        f"INSERT INTO {TABLE} AS u ({', '.join(COLUMNS)}) {_pg_grouped(source)} "
        f"ON CONFLICT ({PG_KEY}) DO UPDATE SET "
        + ", ".join(f"{v} = u.{v} + excluded.{v}" for v in VALUES)
        + ", last_used_at = greatest(u.last_used_at, excluded.last_used_at);"
    )


def _pg_subtract(source: str) -> str:
    matches = " AND ".join(f"u.{k} = d.{k}" for k in KEY)
    newest = (
        "(SELECT max(s.created_at) FROM openai_responses s WHERE s.prompt_id = u.prompt_id "
        "AND s.created_at >= to_timestamp(u.hour::bigint * 3600) AND s.created_at < to_timestamp((u.hour::bigint + 1) * 3600) AND "
        + " AND ".join(f"s.{k} = u.{k}" for k in KEY[2:])
        + ")"
    )
    return (
        # Lock the rows in key order first (an UPDATE ... FROM takes them in the join's order).
        f"PERFORM 1 FROM {TABLE} u JOIN ({_pg_grouped(source)}) d ON {matches} "
        f"ORDER BY u.prompt_id, u.hour, u.prompt_version, u.model, u.origin, u.prompt_labels, u.owner_principal, "
        f"u.access_keys FOR UPDATE OF u;"
        f"UPDATE {TABLE} u SET "
        + ", ".join(f"{v} = u.{v} - d.{v}" for v in VALUES)
        + f", last_used_at = COALESCE({newest}, u.last_used_at) FROM ({_pg_grouped(source)}) d WHERE {matches};"
        f"DELETE FROM {TABLE} u WHERE u.requests = 0 AND EXISTS (SELECT 1 FROM ({_pg_grouped(source)}) d "
        f"WHERE {matches});"
    )


_CHANGED = (
    "(SELECT {this}.* FROM {this_table} {this} JOIN {other_table} {other} ON {other}.id = {this}.id WHERE ("
    + ", ".join(f"{{this}}.{c}" for c in WATCHED)
    + ") IS DISTINCT FROM ("
    + ", ".join(f"{{other}}.{c}" for c in WATCHED)
    + "))"
)
PG_FUNCTION = f"""
CREATE FUNCTION openai_responses_usage_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_add("new_rows")}
  ELSIF TG_OP = 'DELETE' THEN
    {_pg_subtract("old_rows")}
  ELSIF EXISTS {_CHANGED.format(this="o", this_table="old_rows", other="n", other_table="new_rows")} THEN
    {_pg_subtract(_CHANGED.format(this="o", this_table="old_rows", other="n", other_table="new_rows"))}
    {_pg_add(_CHANGED.format(this="n", this_table="new_rows", other="o", other_table="old_rows"))}
  END IF;
  RETURN NULL;
END
$$
"""
PG_FORWARD = [
    f"CREATE UNIQUE INDEX responses_usage_hourly_key ON {TABLE} ({PG_KEY})",
    PG_FUNCTION,
    "CREATE TRIGGER openai_responses_usage_insert AFTER INSERT ON openai_responses "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION openai_responses_usage_rollup()",
    "CREATE TRIGGER openai_responses_usage_delete AFTER DELETE ON openai_responses "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION openai_responses_usage_rollup()",
    "CREATE TRIGGER openai_responses_usage_update AFTER UPDATE ON openai_responses "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION openai_responses_usage_rollup()",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS openai_responses_usage_insert ON openai_responses",
    "DROP TRIGGER IF EXISTS openai_responses_usage_delete ON openai_responses",
    "DROP TRIGGER IF EXISTS openai_responses_usage_update ON openai_responses",
    "DROP FUNCTION IF EXISTS openai_responses_usage_rollup()",
]


def _backfill(vendor: str) -> str:
    """Every response already stored, added up once (the triggers exist already and hold the table)."""
    if vendor == "postgresql":
        return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) {_pg_grouped('openai_responses')}"
    sums = [f"sum({CONTRIBUTION[v].format(r='r')})" for v in VALUES]
    keys = ["r.prompt_id", _sqlite_hour("r"), *(f"r.{k}" for k in KEY[2:])]
    return (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT {', '.join(keys)}, {', '.join(sums)}, "
        f"max(r.created_at) FROM openai_responses r WHERE r.prompt_id <> '' AND r.prompt_version IS NOT NULL "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(KEY) + 1))}"
    )


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = PG_FORWARD if vendor == "postgresql" else SQLITE_FORWARD
    for statement in [*statements, _backfill(vendor)]:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in PG_BACKWARD if vendor == "postgresql" else SQLITE_BACKWARD:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("responses", "0005_usage_backfill")]

    operations = [
        migrations.CreateModel(
            name="PromptUsageHour",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("prompt_id", models.CharField(editable=False, max_length=64)),
                ("prompt_version", models.IntegerField(editable=False)),
                ("hour", models.IntegerField(editable=False)),
                ("model", models.CharField(editable=False, max_length=255)),
                ("origin", models.CharField(editable=False, max_length=16)),
                ("prompt_labels", models.CharField(editable=False, max_length=512)),
                ("owner_principal", models.CharField(editable=False, max_length=255)),
                ("access_keys", models.TextField(editable=False)),
                ("requests", models.IntegerField(editable=False)),
                ("errors", models.IntegerField(editable=False)),
                ("incomplete", models.IntegerField(editable=False)),
                ("input_tokens", models.BigIntegerField(editable=False)),
                ("output_tokens", models.BigIntegerField(editable=False)),
                ("reasoning_tokens", models.BigIntegerField(editable=False)),
                ("latency_ms_count", models.IntegerField(editable=False)),
                ("first_token_ms_count", models.IntegerField(editable=False)),
                ("input_tokens_count", models.IntegerField(editable=False)),
                ("output_tokens_count", models.IntegerField(editable=False)),
                ("reasoning_tokens_count", models.IntegerField(editable=False)),
                ("last_used_at", models.DateTimeField(editable=False)),
            ],
            options={
                "verbose_name": "prompt usage per hour",
                "verbose_name_plural": "prompt usage per hour",
                "db_table": "openai_responses_usage_hourly",
            },
        ),
        migrations.RunPython(forward, backward),
    ]
