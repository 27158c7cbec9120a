"""The tool loop of a response with server-side tools (apps/tools/server_tools.py says what such a tool is).

Call the model; if it called functions server-side tools offered, run those calls, give their results back as
tool messages, and call the model again; until the model answers without calling one, a client function call or a
tool (an approval request) ends the response for the client, or a cap is reached: `tools.max_rounds` of the run
config (model calls that ran tools), or the request's `max_tool_calls` (server-side calls run). At the cap the
model is called once more with `tool_choice: "none"`, to answer with what it has; calls beyond `max_tool_calls` in
one round are not run (the model is told so).

One `ResponseBuilder` makes the whole response: its output, sequence numbers and usage span every model call.
`events()` yields every stream event after `response.in_progress`; the caller (a foreground response, streamed or
not, or a background run) sends them or drops them and ends the response. A response without server-side tools
never comes here: it keeps the single-call path of apps/responses/services.py.

What is stored for resumption is `stored_messages()`: the plan's messages, then every assistant message that
called tools with the tool messages answering it (the chat form of the `mcp_call` and `web_search_call` items:
a search's tool message holds the results the model read), then the final answer,
so a `previous_response_id` chain continues with the tool history intact. A call waiting for approval is left out
(the next request adds it with its result, or that it was declined).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from apps.responses.builder import ResponseBuilder
from apps.responses.plans import Plan
from apps.tools.server_tools import ServerTool, ToolCall

OVER_LIMIT = "Not run: this response reached its limit of tool calls (max_tool_calls={limit})."


class ToolLoop:
    def __init__(self, plan: Plan, builder: ResponseBuilder, *, max_rounds: int) -> None:
        self.plan = plan
        self.builder = builder
        self.tools: list[ServerTool] = plan.server_tools
        self.max_rounds = max_rounds
        self.max_calls = plan.max_tool_calls
        self.messages: list[dict] = []  # what this response added to the chat: tool calls and their results
        self.owners: dict[str, ServerTool] = {}  # chat function name -> the tool that runs it
        self.definitions: list[dict] = []  # the chat function definitions the tools offer
        self.answered = False  # the last model call ended the loop (not with server-side calls left unanswered)
        self.rounds = 0
        self.calls_run = 0
        self.call_ids: set[str] = set()

    def stored_messages(self) -> list[dict]:
        answer = self.builder.assistant_message() if self.answered else None
        return [*self.plan.messages, *self.messages, *([answer] if answer else [])]

    # ------------------------------------------------------------------------------------------ set up
    async def _prepare(self) -> AsyncIterator[dict]:
        for tool in self.tools:
            async for event in tool.prepare(self.builder, self.messages):
                yield event
        body = self.plan.upstream_body
        taken = {tool["function"]["name"] for tool in body.get("tools") or ()}
        for tool in self.tools:
            for name, definition in tool.functions(taken).items():
                self.owners[name] = tool
                self.definitions.append(definition)
                taken.add(name)
        self.builder.server_names = frozenset(self.owners)
        self.builder.annotate = self._annotations

    def _annotations(self, text: str) -> list[dict]:
        """Every tool's annotations of an answer's text (web search's citations), in order of position."""
        found = [annotation for tool in self.tools for annotation in tool.annotations(text)]
        return sorted(found, key=lambda annotation: annotation.get("start_index", annotation.get("index", 0)))

    def _body(self) -> dict:
        """The chat request of the next model call."""
        body = dict(self.plan.upstream_body)
        body["messages"] = [*body["messages"], *self.messages]
        if self.definitions:
            body["tools"] = [*(body.get("tools") or ()), *self.definitions]
        if self.rounds and body.get("tool_choice") not in (None, "none", "auto"):
            body["tool_choice"] = "auto"  # a forced choice holds for the first call only, or it would never end
        if self._at_cap():
            body["tool_choice"] = "none"
        if not body.get("tools"):  # the tools offered nothing (`allowed_tools` left none): a plain model call
            for name in ("tools", "tool_choice", "parallel_tool_calls"):
                body.pop(name, None)
        return body

    def _at_cap(self) -> bool:
        return self.rounds >= self.max_rounds or (self.max_calls is not None and self.calls_run >= self.max_calls)

    # ------------------------------------------------------------------------------------------ the loop
    async def _model(self, body: dict) -> AsyncIterator[dict]:
        builder = self.builder
        if not body.get("stream"):  # a background response streams from the model whatever its caller asked
            builder.from_completion(await self.plan.model.chat(body))
            return
        chunks = await self.plan.model.chat_stream(body)
        async for chunk in chunks:
            for event in builder.on_chunk(chunk):
                yield event
        for event in builder.finish():
            yield event

    async def events(self) -> AsyncIterator[dict]:
        """The response's events after `response.in_progress`, to its last output item. A model failure raises
        (`StackAdminError`), so does a tool that cannot be set up (`ToolSetupError`)."""
        async for event in self._prepare():
            yield event
        while True:
            capped = self._at_cap()
            async for event in self._model(self._body()):
                yield event
            calls, client_called = self.builder.round_calls()
            if not calls or capped:
                self.answered = not calls  # its message (client function calls included) is stored as it is
                return
            self._distinct_ids(calls)
            round_calls = [ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls]
            async for event in self._run(round_calls):
                yield event
            self._remember(round_calls)
            if client_called or any(call.stop for call in round_calls):
                return
            self.rounds += 1
            self.builder.next_round()

    def _distinct_ids(self, calls: list[dict]) -> None:
        """Some model servers number their calls (`call_0`) afresh in every completion: a call id seen in an
        earlier round gets a suffix, so each tool message answers one call (the id only lives in our messages)."""
        for call in calls:
            if call["id"] in self.call_ids:
                call["id"] = f"{call['id']}_{self.rounds}"
            self.call_ids.add(call["id"])

    async def _run(self, calls: list[ToolCall]) -> AsyncIterator[dict]:
        """The round's calls, one after another (each one's events in order; a slow tool delays the next)."""
        for call in calls:
            if self.max_calls is not None and self.calls_run >= self.max_calls:
                call.output = OVER_LIMIT.format(limit=self.max_calls)
                continue
            self.calls_run += 1
            async for event in self.owners[call.name].run(call, self.builder):
                yield event

    def _remember(self, calls: list[ToolCall]) -> None:
        """The round's assistant message, without the calls left waiting, and the results of the others."""
        message = dict(self.builder.assistant_message() or {"role": "assistant", "content": None})
        waiting = {call.call_id for call in calls if call.stop}
        kept = [call for call in message.get("tool_calls") or () if call["id"] not in waiting]
        if kept:
            message["tool_calls"] = kept
        else:
            message.pop("tool_calls", None)
        if kept or message.get("content"):
            self.messages.append(message)
        self.messages += [
            {"role": "tool", "tool_call_id": call.call_id, "content": call.output or ""}
            for call in calls
            if not call.stop
        ]
