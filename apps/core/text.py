"""What text and JSON every store can hold: the rules each way into `/v1` applies before anything is stored or
sent to a model server.

- A lone UTF-16 surrogate (`"\\udc80"`, which JSON's `\\u` escapes can spell) is not Unicode text: it cannot be
  encoded as UTF-8, so it fails wherever it is written out (a PostgreSQL parameter, a response body, a request
  to the model server), often only when a stored row is read back.
- NUL (U+0000) cannot be stored by PostgreSQL, in text columns or in `jsonb`.
- NaN and Infinity are not JSON (Python's decoder accepts them, and `1e999` overflows to Infinity); PostgreSQL's
  `jsonb` and SQLite's JSON check refuse them.
- Nesting deeper than `MAX_JSON_DEPTH` objects and arrays is refused: no OpenAI request needs more, and below it no
  recursive code (pydantic, JSON schema handling, the decoders) reaches Python's recursion limit.

`check_value` walks a decoded value once, iteratively, and raises the 400 naming the first offending field as
OpenAI names fields (`input[0].content[1].text`; a key that is itself the problem is shown escaped,
`metadata.k\\udc80`). `JsonParser` applies it to every `/v1` JSON body and query string, `check_path_params` to
path parameters, and the multipart upload (`apps.files.uploads`) to its form fields and filename.

Model output is not the caller's fault: `scrubbed` replaces what cannot be stored (NUL and lone surrogates with
U+FFFD, a non-finite number with null) in what a model server sends, so a paid-for answer is returned and stored
rather than lost to a database error.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict

from ninja.parser import Parser

from apps.core.errors import BadRequestError
from apps.core.http import error_response
from apps.core.validation import param_of

MAX_JSON_DEPTH = 64
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"

# (parent, key): a node's place, linked to its parent's; the path is only spelled out for an error.
_Place = tuple[Any, Any] | None


def _path(place: _Place, at: tuple = ()) -> list:
    parts: list = []
    while place is not None:
        place, key = place
        parts.append(key)
    return [*at, *reversed(parts)]


def _param(place: _Place, at: tuple) -> str | None:
    return param_of(_path(place, at))


def _escaped(key: str) -> str:
    return key.encode("unicode_escape").decode("ascii")


def text_error(text: str, param: str | None) -> BadRequestError:
    """The 400 for a string `UNSTORABLE` matches."""
    bad = UNSTORABLE.search(text).group()
    if bad == "\x00":
        reason, code = "the text contains a NUL character (U+0000), which cannot be stored", "invalid_null_character"
    else:
        reason = f"the text contains a lone UTF-16 surrogate ({_escaped(bad)}), which is not valid Unicode"
        code = "invalid_unicode"
    where = f"Invalid value for '{param}'" if param else "Invalid request"
    return BadRequestError(f"{where}: {reason}.", param=param, code=code)


def _too_deep(param: str | None) -> BadRequestError:
    return BadRequestError(
        f"Invalid value for '{param or 'body'}': objects and arrays nest deeper than {MAX_JSON_DEPTH} levels.",
        param=param,
        code="nesting_too_deep",
    )


def _not_finite(value: float, param: str | None) -> BadRequestError:
    return BadRequestError(
        f"Invalid value for '{param or 'body'}': {value} is not a JSON number (NaN and Infinity are not allowed).",
        param=param,
        code="invalid_number",
    )


def _check_scalar(value: Any, place: _Place, at: tuple) -> None:
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            raise text_error(value, _param(place, at))
    elif isinstance(value, float) and not math.isfinite(value):
        raise _not_finite(value, _param(place, at))


def _children(value: dict | list, place: _Place, at: tuple) -> list[tuple[Any, _Place]]:
    if isinstance(value, list):
        return [(item, (place, index)) for index, item in enumerate(value)]
    children = []
    for key, item in value.items():
        if isinstance(key, str) and UNSTORABLE.search(key):
            raise text_error(key, param_of([*_path(place, at), _escaped(key)]))
        children.append((item, (place, key)))
    return children


def check_value(value: Any, *, at: tuple = ()) -> None:
    """Raise the 400 for the first string, number or nesting in `value` (decoded JSON, or form fields) that breaks
    the rules above; `at` is where `value` sits in the request, for the error's `param`."""
    stack: list[tuple[Any, int, _Place]] = [(value, 0, None)]
    while stack:
        node, depth, place = stack.pop()
        if not isinstance(node, (dict, list)):
            _check_scalar(node, place, at)
            continue
        if depth >= MAX_JSON_DEPTH:
            raise _too_deep(_param(place, at))
        for child, child_place in _children(node, place, at):
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1, child_place))
            else:
                _check_scalar(child, child_place, at)


# Where a NUL or a lone surrogate can come from in UTF-8 JSON text: a `\u0000` or surrogate escape, or a surrogate
# encoded in the bytes themselves (the decoder lets them through). Text with neither cannot hold one; a false alarm
# (an emoji sent as an escaped surrogate pair) only costs the full walk. A NUL byte means UTF-16 or UTF-32 (which
# the decoder also accepts): walked every time.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_SUSPECT_BYTES = re.compile(rb"\xed[\xa0-\xbf]")


def _may_hold_unstorable_text(raw: bytes) -> bool:
    return (
        b"\x00" in raw
        or (b"\\u" in raw and _SUSPECT_ESCAPE.search(raw) is not None)
        or (b"\xed" in raw and _SUSPECT_BYTES.search(raw) is not None)
    )


_NESTS = (dict, list)


def _deeper_than_limit(raw: bytes, value: Any) -> bool:
    """Whether `value` nests more than `MAX_JSON_DEPTH` containers, one level at a time (no paths kept); text with
    fewer brackets than that cannot."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:
        return False
    level = [value]
    for _ in range(MAX_JSON_DEPTH):
        # Decoded JSON holds exact dicts and lists; `type()` tests keep this loop about as cheap as the decoding.
        level = [c for node in level for c in (node.values() if type(node) is dict else node) if type(c) in _NESTS]
        if not level:
            return False
    return True


def _decoded(raw: str | bytes, at: tuple) -> tuple[Any, bool]:
    """The decoded value, and whether it holds a non-finite number (`NaN`, `Infinity`, or one that overflowed)."""
    odd: list[str] = []

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            odd.append(text)
        return value

    def constant(name: str) -> float:
        odd.append(name)
        return float(name)

    try:
        return json.loads(raw, parse_float=number, parse_constant=constant), bool(odd)
    except RecursionError:  # nested far past the limit: the decoder gives up first
        raise _too_deep(param_of(at)) from None


def loads(raw: str | bytes, *, at: tuple = ()) -> Any:
    """JSON text decoded and checked by `check_value`; a `ValueError` when it is not JSON at all.

    A body is walked (the walk that names the field) only when the cheap looks at its text or its numbers find
    something to name: most bodies cost their decoding and a few byte searches."""
    value, odd_numbers = _decoded(raw, at)
    if isinstance(raw, str) or odd_numbers or _may_hold_unstorable_text(raw) or _deeper_than_limit(raw, value):
        check_value(value, at=at)
    return value


# ------------------------------------------------------------------------------------------ the /v1 boundary
class JsonParser(Parser):
    """ninja's parser for `/v1`: bodies and query strings go through `check_value` before any schema sees them.

    ninja reports anything `parse_body` raises as "Cannot parse request body", keeping the exception as its cause;
    the API's `HttpError` handler answers with that cause when it is one of ours."""

    def parse_body(self, request: HttpRequest) -> Any:
        return loads(request.body)

    def parse_querydict(self, data: MultiValueDict, list_fields: list[str], request: HttpRequest) -> dict:
        result = super().parse_querydict(data, list_fields, request)
        check_value(result)
        return result


def check_path_params(run: Callable) -> Callable:
    """A ninja "view" decorator: path parameters (`%00` decodes to NUL) are refused like any other text, before
    an operation looks anything up with them."""

    def refusal(params: dict):
        try:
            check_value(params)
        except BadRequestError as exc:
            return error_response(exc)
        return None

    if inspect.iscoroutinefunction(run):

        @functools.wraps(run)
        async def checked_async(request: HttpRequest, **params: Any):
            return refusal(params) or await run(request, **params)

        return checked_async

    @functools.wraps(run)
    def checked(request: HttpRequest, **params: Any):
        return refusal(params) or run(request, **params)

    return checked


# ------------------------------------------------------------------------------------------ model output
def _scrubbed_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _scrub_container(node: dict | list) -> list:
    """Scrub `node`'s own strings and numbers in place; return the containers in it."""
    if isinstance(node, list):
        entries = list(enumerate(node))
    else:
        if any(UNSTORABLE.search(key) for key in node if isinstance(key, str)):
            renamed = {_scrubbed_scalar(key): item for key, item in node.items()}
            node.clear()
            node.update(renamed)
        entries = list(node.items())
    nested = []
    for key, item in entries:
        if isinstance(item, (dict, list)):
            nested.append(item)
        else:
            node[key] = _scrubbed_scalar(item)
    return nested


def scrubbed(value: Any) -> Any:
    """`value` (decoded JSON from a model server) with NUL and lone surrogates replaced by U+FFFD and non-finite
    numbers by null, changed in place (the caller owns it): what any store can hold and any client decode."""
    if not isinstance(value, (dict, list)):
        return _scrubbed_scalar(value)
    stack = [value]
    while stack:
        stack.extend(_scrub_container(stack.pop()))
    return value
