"""Stored responses: the `responses` SQL store, table `openai_responses` (llama-stack's name)."""

from __future__ import annotations

from django.db import models

from apps.core.models import PROMPT_USAGE_READS, ModelOutput, OwnedModel, PromptUsageColumns


class ResponseStatus(models.TextChoices):
    """OpenAI's response statuses. Only a completed or incomplete response can be continued."""

    COMPLETED = "completed"
    INCOMPLETE = "incomplete"  # stopped early: the output token limit, or the model's own content filter
    FAILED = "failed"  # the model server failed in the middle of a stream
    # The states of OpenAI's background responses, which are never stored as final by stackadmin:
    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"
    QUEUED = "queued"


class ResponseOrigin(models.TextChoices):
    """Where a response was asked for: usage figures leave the dashboard's playground runs out unless asked."""

    API = "api"
    PLAYGROUND = "playground"


class StoredResponse(ModelOutput, PromptUsageColumns):
    public_id = models.CharField("id", max_length=64, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=ResponseStatus.choices, editable=False)
    # The response object as returned (without its input).
    response = models.JSONField(editable=False)
    # Every item the model received as input (ids filled in): the previous response's input and output items
    # (`previous_response_id`) or the conversation's items before this turn, then the request's own input.
    # What `input_items` lists.
    input_items = models.JSONField(editable=False)
    # The chat messages (no system/instructions/prompt) of the whole exchange up to and including this response:
    # what a follow-up with `previous_response_id` resumes from, so tool calls survive exactly.
    messages = models.JSONField(editable=False)
    prompt_id = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)
    previous_response_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    conversation_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    # Beside the usage columns (`response.usage`): where the request came from.
    origin = models.CharField(
        max_length=16, choices=ResponseOrigin.choices, default="api", db_default="api", editable=False
    )
    # The output's tool calls (`function_call`, `mcp_call`, `web_search_call`, any `*_call`), so the dashboard's list
    # counts and filters them in SQL instead of decoding every row's output.
    tool_calls = models.IntegerField(default=0, db_default=0, editable=False)

    resource_type = "response"  # its name in the access policy: `<resource_type>::<public_id>`

    class Meta:
        db_table = "openai_responses"
        verbose_name = "response"
        indexes = [
            models.Index(fields=["model", "created_at"], name="responses_model_created_idx"),
            # Usage of one prompt over a time range (apps.responses.usage): every column its queries read is in the
            # index, so they scan a range of it and never the table's rows, scattered over the whole table by time.
            # (As key columns, not PostgreSQL's INCLUDE, which SQLite lacks.) bench/prompt_usage.py: a 7-day usage
            # query over 1,000,000 rows went from about 20 ms to 3 ms on SQLite with it.
            models.Index(
                fields=["prompt_id", "created_at", "prompt_version", "origin", *PROMPT_USAGE_READS],
                name="responses_prompt_usage_idx",
            ),
        ]


class BackgroundRun(models.Model):
    """The server-side work of a background response (`background: true`), beside its `StoredResponse`.

    `plan` is what the worker needs to compute the response without the request that asked for it (the upstream
    body, the echo, the items and messages, the owner). `worker_id` names the process running it (the task engine's
    worker id: host, pid) and `heartbeat_at` is that process's last sign of life: a run whose heartbeat is older than
    `apps.responses.background.STALE_AFTER` belongs to a process that died, and any live process fails it.
    """

    response_id = models.CharField(max_length=64, unique=True, editable=False)
    plan = models.JSONField(editable=False)
    task_id = models.CharField(max_length=64, editable=False)  # the task engine's task (django_tasks_db)
    worker_id = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    finished = models.BooleanField(default=False, db_index=True, editable=False)

    class Meta:
        db_table = "openai_responses_background"

    def __str__(self) -> str:
        return self.response_id


class ResponseEvent(models.Model):
    """Stream events of a background response, stored as the response runs, so that a stream can be resumed
    (`GET /v1/responses/{id}?stream=true&starting_after=N`) from any worker process: one row per write (the events
    the run had ready then, numbered `first_sequence` to `last_sequence`), since one row costs far less to insert
    than one row per event."""

    response_id = models.CharField(max_length=64, editable=False)
    first_sequence = models.IntegerField(editable=False)
    last_sequence = models.IntegerField(editable=False)
    events = models.JSONField(editable=False)

    class Meta:
        db_table = "openai_responses_events"
        constraints = [
            models.UniqueConstraint(fields=["response_id", "first_sequence"], name="responses_event_sequence_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.response_id} #{self.first_sequence}-{self.last_sequence}"


class ReplayStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the run itself could not go on (its process died); items' own failures do not fail it


class ReplayRun(OwnedModel):
    """A replay of stored responses of a prompt against a candidate version (apps.responses.replay): what was
    chosen, its progress, and how its task is run. Kept until deleted; its items hold the answers."""

    public_id = models.CharField("id", max_length=64, unique=True, editable=False)
    prompt_id = models.CharField(max_length=64, db_index=True, editable=False)
    source_version = models.IntegerField(null=True, blank=True, editable=False)
    source_label = models.CharField(max_length=64, blank=True, default="", editable=False)
    candidate_version = models.IntegerField(editable=False)
    model = models.CharField(max_length=255, blank=True, default="", editable=False)  # "": each original's model
    since = models.DateTimeField(null=True, blank=True, editable=False)
    until = models.DateTimeField(null=True, blank=True, editable=False)
    sample = models.IntegerField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=ReplayStatus.choices, db_index=True, editable=False)
    total = models.IntegerField(editable=False)
    processed = models.IntegerField(default=0, editable=False)  # items finished (answered or failed)
    errors = models.IntegerField(default=0, editable=False)
    message = models.TextField(blank=True, default="", editable=False)  # why the run failed
    created_by = models.CharField(max_length=150, blank=True, default="", editable=False)
    created_at = models.DateTimeField(db_index=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Who the run acts as (the principal, as JSON): the task resolves the candidate with their access.
    acting_as = models.JSONField(editable=False)
    task_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    resource_type = "replay_run"

    class Meta:
        db_table = "responses_replay_runs"
        verbose_name = "replay run"
        indexes = [models.Index(fields=["prompt_id", "created_at"], name="replay_prompt_created_idx")]


class ReplayItemState(models.TextChoices):
    PENDING = "pending"
    DONE = "done"  # the candidate answered (its response may still be `failed` or `incomplete`)
    ERROR = "error"  # the request could not be made or the model server failed
    CANCELLED = "cancelled"


class ReplayItem(models.Model):
    """One stored response of a replay: the request re-run (taken when the replay was created, so it does not
    depend on the stored response afterwards), the original answer and the candidate's."""

    run = models.ForeignKey(ReplayRun, on_delete=models.CASCADE, related_name="items", editable=False)
    position = models.IntegerField(editable=False)
    response_id = models.CharField(max_length=64, editable=False)  # the stored response replayed
    request = models.JSONField(editable=False)  # the create request sent (prompt, input, model)
    model = models.CharField(max_length=255, editable=False)
    input_text = models.TextField(blank=True, default="", editable=False)  # the last user text, for the table
    original_status = models.CharField(max_length=16, editable=False)
    original_text = models.TextField(blank=True, default="", editable=False)
    original_error = models.TextField(blank=True, default="", editable=False)
    original_input_tokens = models.IntegerField(null=True, blank=True, editable=False)
    original_output_tokens = models.IntegerField(null=True, blank=True, editable=False)
    original_latency_ms = models.IntegerField(null=True, blank=True, editable=False)
    state = models.CharField(
        max_length=16, choices=ReplayItemState.choices, default=ReplayItemState.PENDING, editable=False
    )
    status = models.CharField(max_length=16, blank=True, default="", editable=False)  # the candidate response's
    text = models.TextField(blank=True, default="", editable=False)
    error = models.TextField(blank=True, default="", editable=False)
    input_tokens = models.IntegerField(null=True, blank=True, editable=False)
    output_tokens = models.IntegerField(null=True, blank=True, editable=False)
    latency_ms = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "responses_replay_items"
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="replay_item_position_uniq")]
        ordering = ["run", "position"]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.position}"


class PromptUsageHour(models.Model):
    """Usage of one prompt version in one UTC hour, per model, origin, labels at use and owner: the rollup the
    usage figures are summed from (apps.responses.usage), so a month of usage reads some thousand of these rows
    instead of every response.

    The database keeps it: triggers on `openai_responses` (migration `usage_hourly_rollup`) add, move and subtract
    a response's figures in the statement that inserts, updates or deletes it, so every way a response is written
    (the write queue's batched inserts, background runs' status updates, deletes of one or many) keeps the rollup
    exact in the same transaction, and nothing in Python has to remember to. Its unique key is an index of the
    migration's own SQL (an md5 of the long text columns on PostgreSQL, whose index rows are limited in size).
    Rows are never written through the ORM.
    """

    prompt_id = models.CharField(max_length=64, editable=False)
    prompt_version = models.IntegerField(editable=False)
    hour = models.IntegerField(editable=False)  # whole hours since 1970-01-01 00:00 UTC
    model = models.CharField(max_length=255, editable=False)
    origin = models.CharField(max_length=16, editable=False)
    prompt_labels = models.CharField(max_length=512, editable=False)
    # The access policy's columns, so the caller's filter applies to the rollup as it does to the responses.
    owner_principal = models.CharField(max_length=255, editable=False)
    access_keys = models.TextField(editable=False)
    requests = models.IntegerField(editable=False)
    errors = models.IntegerField(editable=False)  # failed
    incomplete = models.IntegerField(editable=False)
    input_tokens = models.BigIntegerField(editable=False)
    output_tokens = models.BigIntegerField(editable=False)
    reasoning_tokens = models.BigIntegerField(editable=False)
    # How many responses have each percentile column (NULLs are not ranked): the ranks of the percentiles.
    latency_ms_count = models.IntegerField(editable=False)
    first_token_ms_count = models.IntegerField(editable=False)
    input_tokens_count = models.IntegerField(editable=False)
    output_tokens_count = models.IntegerField(editable=False)
    reasoning_tokens_count = models.IntegerField(editable=False)
    last_used_at = models.DateTimeField(editable=False)

    class Meta:
        db_table = "openai_responses_usage_hourly"
        verbose_name = "prompt usage per hour"
        verbose_name_plural = "prompt usage per hour"

    def __str__(self) -> str:
        return f"{self.prompt_id} v{self.prompt_version} @{self.hour}"
