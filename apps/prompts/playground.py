"""The playground: run a prompt version from its dashboard page, the answer streaming into the page.

A run is an ordinary `responses.create(prompt=…, stream=True)` through the responses service, stored like any
other response but marked `origin="playground"` (usage leaves such runs out unless asked). The form is posted
once: the request is checked then (a missing variable, an unknown model: a message at the form, nothing run
and nothing stored), and the answer region comes back naming a stream URL that carries the run, signed with the
user's id (so it is good for them only, for ten minutes, and a foreign page cannot start one). htmx's SSE
extension (served from our static files) opens it and appends each piece of text as it arrives; the stream
always ends with a `done` event, on failure too. Without JavaScript the form's plain POST runs the same request
without streaming and the page shows the answer.

An EventSource reconnects when a stream breaks: a run already stored under its run id is shown, not run again.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

from django.core import signing
from django.utils.html import escape, format_html

from asgiref.sync import sync_to_async

from apps.core.errors import BadRequestError, StackAdminError
from apps.core.principal import Principal
from apps.responses import selectors as response_selectors
from apps.responses import services as response_services
from apps.responses.selectors import response_output_text

SALT = "stackadmin.prompts.playground"
MAX_AGE = 600  # seconds a run's stream URL stays good
MAX_INPUT = 100_000
# The run travels in the stream's URL, and servers refuse request lines much over 8 KiB (uvicorn's h11: 16 KiB
# for the whole head). A longer run is refused at the form; the API takes any size.
MAX_TOKEN = 8_000


@dataclass(frozen=True)
class PlaygroundRun:
    prompt_id: str
    version: int
    variables: dict[str, str]
    input: str
    model: str | None
    run_id: str
    user_id: int

    def request(self, *, stream: bool):
        """The request the run makes; a shape the schema refuses is a 400 as `/v1` would answer it."""
        body = {
            "prompt": {"id": self.prompt_id, "version": str(self.version), "variables": self.variables or None},
            "input": self.input or "(no input)",
            "stream": stream,
            "metadata": {"playground_run": self.run_id},
        }
        if self.model:
            body["model"] = self.model
        return response_services.response_request(body=body)

    def sign(self) -> str:
        return signing.dumps(asdict(self), salt=SALT, compress=True)

    @classmethod
    def from_form(cls, data, *, prompt_id: str, version: int, variables: list[str], user_id: int) -> PlaygroundRun:
        text = data.get("input", "")
        if len(text) > MAX_INPUT:
            raise BadRequestError(f"The input is over {MAX_INPUT} characters.", param="input")
        values = {name: data.get(f"var_{name}", "") for name in variables}
        run = cls(
            prompt_id=prompt_id,
            version=version,
            # An empty field is "not filled in": the service then names the missing variable.
            variables={name: value for name, value in values.items() if value},
            input=text,
            model=(data.get("model") or "").strip() or None,
            run_id=secrets.token_hex(12),
            user_id=user_id,
        )
        if len(run.sign()) > MAX_TOKEN:
            raise BadRequestError(
                "The input and values are too long for the playground (about 8,000 characters once compressed); "
                "use the API for this one.",
                param="input",
            )
        return run

    @classmethod
    def from_token(cls, token: str, *, user_id: int) -> PlaygroundRun:
        try:
            fields = signing.loads(token, salt=SALT, max_age=MAX_AGE)
        except signing.BadSignature as exc:  # expired, too
            raise BadRequestError("This run has expired or is not valid; run it again.", param="run") from exc
        run = cls(**fields)
        if run.user_id != user_id:
            raise BadRequestError("This run was started by someone else.", param="run")
        return run


async def run_check(run: PlaygroundRun, principal: Principal) -> None:
    """Everything the run needs, resolved without calling the model: the version, its variables, the model."""
    await response_services.plan_response(request=run.request(stream=True), principal=principal)


async def run_once(run: PlaygroundRun, principal: Principal) -> dict:
    """The run without streaming (a browser without JavaScript): the stored response."""
    return await response_services.response_create(
        request=run.request(stream=False), principal=principal, origin=response_services.PLAYGROUND
    )


# ------------------------------------------------------------------------------------------ stream
def _event(name: str, html: str) -> bytes:
    """An SSE event whose data is an HTML fragment (a line break in it becomes a second `data:` line)."""
    lines = "".join(f"data: {line}\n" for line in html.split("\n"))
    return f"event: {name}\n{lines}\n".encode()


def summary(response: dict) -> str:
    """The line under a finished answer: what was stored and what it cost."""
    usage = response.get("usage") or {}
    status = response.get("status")
    if status == "failed":
        error = response.get("error") or {}
        return format_html(
            '<p class="notice notice-error playground-error" role="alert">The model server failed: {}. '
            "Stored as failed ({}).</p>",
            error.get("message") or "no message",
            response.get("id"),
        )
    return format_html(
        '<p class="muted small playground-summary" data-status="{}">{} · stored as <code>{}</code> · {} input, '
        "{} output tokens · model {}</p>",
        status,
        status,
        response.get("id"),
        usage.get("input_tokens", "?"),
        usage.get("output_tokens", "?"),
        response.get("model"),
    )


def error_fragment(message: str) -> str:
    return format_html('<p class="notice notice-error playground-error" role="alert">{}</p>', message)


def _stored_run(run: PlaygroundRun, principal: Principal) -> dict | None:
    return response_selectors.playground_run_get(prompt_id=run.prompt_id, run_id=run.run_id, principal=principal)


async def run_stream(run: PlaygroundRun, principal: Principal) -> AsyncIterator[bytes]:
    """SSE for htmx: `delta` events carrying escaped text, then one `done` event with the summary or the error."""
    yield b"retry: 86400000\n\n"  # a broken stream is not retried by the browser's own EventSource logic
    stored = await sync_to_async(_stored_run)(run, principal)
    if stored is not None:
        yield _event("delta", escape(response_output_text(stored)))
        yield _event("done", summary(stored))
        return
    try:
        events = await response_services.response_create(
            request=run.request(stream=True), principal=principal, origin=response_services.PLAYGROUND
        )
    except StackAdminError as exc:
        yield _event("done", error_fragment(exc.message))
        return
    async for chunk in events:
        event = _decode(chunk)
        if event is None:
            continue
        if event.get("type") == "response.output_text.delta":
            yield _event("delta", escape(event.get("delta", "")))
        elif event.get("type") in ("response.completed", "response.incomplete", "response.failed"):
            yield _event("done", summary(event["response"]))
            return
    yield _event("done", error_fragment("The run ended without an answer."))


def _decode(chunk: bytes) -> dict | None:
    """The payload of one of the responses service's SSE events (`event: …\\ndata: {json}\\n\\n`)."""
    for line in chunk.decode().split("\n"):
        if line.startswith("data: "):
            try:
                return json.loads(line[6:])
            except ValueError:
                return None
    return None
