"""The JSON Schemas a request carries (function parameters, `text.format.schema`), checked as OpenAI checks them.

Errors are validation errors of the request schema (`apps.core.validation`), code `invalid_schema`; `at` places them
below the field being validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from apps.core.validation import invalid, rejected

_NESTED = ("anyOf", "$defs", "definitions")


def check_json_schema(schema: Any, *, at: Sequence[str | int] = ()) -> None:
    """A valid JSON Schema (draft 2020-12) object."""
    if not isinstance(schema, Mapping):
        raise invalid("expected a JSON Schema object", code="invalid_schema", at=at)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise rejected(
            "Invalid schema for '{param}'{where}: {reason}.",
            code="invalid_schema",
            at=at,
            where=f" at {where}" if where else "",
            reason=exc.message,
        ) from None


def _strict_object(schema: Mapping, path: str, at: Sequence[str | int]) -> None:
    props = schema.get("properties") or {}
    if schema.get("additionalProperties", True) is not False:
        raise rejected(
            "Invalid schema for '{param}': in strict mode 'additionalProperties' must be false (at {path}).",
            code="invalid_schema",
            at=at,
            path=path or "the root",
        )
    absent = sorted(set(props) - set(schema.get("required") or ()))
    if absent:
        raise rejected(
            "Invalid schema for '{param}': in strict mode 'required' must list every property; missing {absent} "
            "(at {path}).",
            code="invalid_schema",
            at=at,
            absent=", ".join(absent),
            path=path or "the root",
        )
    for name, sub in props.items():
        if isinstance(sub, Mapping):
            check_strict_schema(sub, at=at, path=f"{path}.properties.{name}" if path else f"properties.{name}")


def check_strict_schema(schema: Mapping, *, at: Sequence[str | int] = (), path: str = "") -> None:
    """OpenAI's strict mode: every object closes `additionalProperties` and requires all of its properties."""
    if schema.get("type") == "object" or "properties" in schema:
        _strict_object(schema, path, at)
    items = schema.get("items")
    if isinstance(items, Mapping):
        check_strict_schema(items, at=at, path=f"{path}.items" if path else "items")
    for key in _NESTED:
        nested = schema.get(key)
        subs = nested.values() if isinstance(nested, Mapping) else nested if isinstance(nested, list) else ()
        for sub in subs:
            if isinstance(sub, Mapping):
                check_strict_schema(sub, at=at, path=f"{path}.{key}" if path else key)
