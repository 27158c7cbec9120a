"""Request validation: what a schema's failure looks like to an OpenAI client.

Schemas validate a request once, at the boundary; `request_error` turns pydantic's first error into the 400 OpenAI
answers, naming the field as OpenAI does (`input[2].call_id`, `metadata.topic`): "Missing required parameter",
"Unknown parameter", or "Invalid value for '<param>': ...". The ninja handler of `/v1` and the boundaries parsed by
hand (a multipart upload) both go through it, so a mistake reads the same whichever way it arrived.

Pydantic's own messages are kept where they are clear enough. A validator that owes the caller a particular
message or `code` raises `invalid(...)` (or `rejected(...)` for a message of another form, `missing(...)` for an
absent field). Its `at` names a field below the validated value (a metadata key, an item's `type`), since
pydantic only knows where the validator sits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler
from pydantic_core import PydanticCustomError

from apps.core.errors import BadRequestError

M = TypeVar("M", bound=BaseModel)

# Where ninja says a value came from: not part of the parameter's name.
_LOCATIONS = {"body", "query", "path", "form", "file", "header", "cookie"}
_CODES = {"missing": "missing_required_parameter", "extra_forbidden": "unknown_parameter"}
_INVALID_VALUE = "Invalid value for '{param}': {reason}."


def rejected(template: str, *, code: str | None, at: Sequence[str | int] = (), **values: Any) -> PydanticCustomError:
    """An error with a message of its own: `template` is formatted with `values` and `param`, the field's name.

    The caller's data goes in `values`, never in `template`, so braces in it are shown as sent."""
    context = {"code": code, "at": tuple(at), "template": template, "values": values}
    # Pydantic formats the message from the context key by key; the finished text goes last so nothing in it is
    # taken for a placeholder.
    shown = template.format_map({**values, "param": ".".join(str(p) for p in at) or "value"})
    return PydanticCustomError(code or "invalid", "{message}", {**context, "message": shown})


def invalid(reason: str, *, code: str = "invalid_value", at: Sequence[str | int] = ()) -> PydanticCustomError:
    """ "Invalid value for '<param>': <reason>." (`reason` without the final full stop)."""
    return rejected(_INVALID_VALUE, code=code, at=at, reason=reason)


def missing(*, at: Sequence[str | int] = ()) -> PydanticCustomError:
    """ "Missing required parameter: '<param>'.", also for a field sent as null that cannot be."""
    return PydanticCustomError("missing", "Field required", {"at": tuple(at)})


def relocated(exc: ValidationError, *, skip: int = 0) -> PydanticCustomError:
    """`exc`'s first error raised again from a validator, `at` the place it names below it.

    For a value validated inside a validator (a nested adapter), and for a discriminated union, whose errors name
    the chosen branch's tag (`items.0.function_call.call_id`) where the wire names the field only."""
    error = exc.errors(include_url=False)[0]
    context = dict(error.get("ctx") or {})
    at = (*error["loc"][skip:], *context.pop("at", ()))
    context.pop("message", None)
    return PydanticCustomError(error["type"], "{message}", {**context, "at": at, "message": error["msg"]})


def checked_as_given(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A wrap validator that validates `value` through its (tagged union) schema and keeps `value` itself: the
    object as the caller sent it, fields and their order included, not a model built from it."""
    try:
        handler(value)
    except ValidationError as exc:
        raise relocated(exc, skip=1) from None
    return value


def expect(check: Callable[[Any], bool], reason: str) -> Callable[[Any], Any]:
    """A before-validator that refuses what `check` does not accept with "Invalid value ...: <reason>."."""

    def validator(value: Any) -> Any:
        if not check(value):
            raise invalid(reason)
        return value

    return validator


def _field_loc(loc: Sequence[str | int]) -> list[str | int]:
    """A ninja location without where the value came from: `("body", "body", "input", 2)` -> `["input", 2]`."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        location = parts.pop(0)
        # Body and form operations take one schema argument named "body"; its name is not the caller's.
        if location in ("body", "form") and parts and parts[0] == "body":
            parts.pop(0)
    return parts


def param_of(loc: Sequence[str | int]) -> str | None:
    """OpenAI's name for a field's location: `("input", 2, "call_id")` -> `input[2].call_id`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _message(error: Mapping, context: Mapping, param: str | None) -> str:
    kind = error.get("type", "")
    if "template" in context:
        return context["template"].format_map({**context["values"], "param": param})
    if kind == "missing":
        # No name below the body: the body itself is missing (empty).
        return f"Missing required parameter: '{param}'." if param else "The request body is empty: send a JSON object."
    if kind == "extra_forbidden":
        return f"Unknown parameter: '{param}'."
    msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return _INVALID_VALUE.format(param=param, reason=msg) if param else f"Invalid request: {msg}."


def request_error(errors: Sequence[Mapping], *, located: bool = True) -> BadRequestError:
    """The 400 for the first of a failed validation's errors: ninja's, whose locations start with where the
    value came from (`body`, `query`, ...), or with `located=False` pydantic's own."""
    error = errors[0] if errors else {}
    context = error.get("ctx") or {}
    loc = _field_loc(error.get("loc", ())) if located else error.get("loc", ())
    param = param_of((*loc, *context.get("at", ())))
    code = context["code"] if "code" in context else _CODES.get(error.get("type", ""), "invalid_value")
    return BadRequestError(_message(error, context, param), param=param, code=code)


def validated(schema: type[M], data: Any) -> M:
    """`data` as `schema`, or the 400 `request_error` makes of why not (for a boundary parsed by hand)."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise request_error(exc.errors(include_url=False), located=False) from None
