"""Attribute-based access policy: llama-stack's rule language, with one interpreter.

A policy is an ordered list of rules. Each rule has exactly one of `permit` / `forbid` (a scope with `actions`,
optional `resource` and `principal`) and at most one of `when` / `unless` (a condition or a list of them). The
first rule whose scope matches and whose condition holds decides; no matching rule denies. Conditions:

    user is owner            user is not owner
    user in owners <attr>    user not in owners <attr>
    user with <value> in <attr>    user with <value> not in <attr>
    resource is unowned

Resources are named `<type>::<id>` (types: prompt, conversation, conversation_item, response, chat_completion,
file); a scope's `resource` matches an exact name, a `<type>::*` wildcard, or `regex:<pattern>` (matched on the
whole name). llama-stack's `sql_record::<table>::<id>` names are understood too. With no user (authentication
off) everything is allowed.

For one user, action and resource type, the rules compile (`compile_read_filter`) into a predicate (`Pred`) over
the columns every owned row keeps: its id, `owner_principal`, and `access_keys` (the owner's attributes as
`|attr=value|` tokens, hex-encoded). That predicate is the only meaning a policy has: `to_q` turns it into a
query filter, so list pages are filtered in the database and stay full, and `evaluate` applies it to one row in
Python (single-row checks, prompts kept outside SQL). Both follow the same few operators side by side below.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Concat
from django.db.models.lookups import Regex

ACTIONS = ("create", "read", "update", "delete", "promote")  # promote: move a protected prompt label
_EVERYDAY = ("create", "read", "update", "delete")
ATTRIBUTE_KEYS = ("roles", "teams", "projects", "namespaces")
# llama-stack names SQL rows after their table; map those names onto our resource types.
LLAMA_STACK_TABLES = {
    "openai_conversations": "conversation",
    "conversation_items": "conversation_item",
    "openai_responses": "response",
    "responses": "response",
    "inference_store": "chat_completion",
    "openai_files": "file",
}
_ATTR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULE_KEYS = {"permit", "forbid", "when", "unless", "description"}
_SCOPE_KEYS = {"actions", "resource", "principal"}
_LEADING_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")


class PolicyError(ValueError):
    """An access policy that cannot be parsed. The message names the rule's index and text."""


# ------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class User:
    principal: str
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def values(self, attr: str) -> list[str]:
        return list(self.attributes.get(attr) or [])


@dataclass(frozen=True)
class Resource:
    type: str
    identifier: str
    owner: str = ""  # "" = unowned
    owner_attributes: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class Condition:
    kind: str  # is_owner | in_owners | with_value | unowned
    negated: bool = False
    attr: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Rule:
    index: int
    text: str
    effect: str  # permit | forbid
    actions: tuple[str, ...]
    resource: str | None
    principal: str | None
    conditions: tuple[Condition, ...]
    unless: bool


# ------------------------------------------------------------------------------------------ parsing
def parse_condition(text: str, *, where: str) -> Condition:
    words = text.split()
    match words:
        case ["user", "is", "owner"]:
            return Condition("is_owner")
        case ["user", "is", "not", "owner"]:
            return Condition("is_owner", negated=True)
        case ["resource", "is", "unowned"]:
            return Condition("unowned")
        case ["user", "in", "owners", attr]:
            return Condition("in_owners", attr=_attr(attr, where))
        case ["user", "not", "in", "owners", attr]:
            return Condition("in_owners", negated=True, attr=_attr(attr, where))
        case ["user", "with", value, "in", attr]:
            return Condition("with_value", attr=_attr(attr, where), value=value)
        case ["user", "with", value, "not", "in", attr]:
            return Condition("with_value", negated=True, attr=_attr(attr, where), value=value)
    raise PolicyError(
        f"{where}: unknown condition {text!r}; use 'user is [not] owner', 'user [not] in owners <attr>', "
        "'user with <value> [not] in <attr>' or 'resource is unowned'"
    )


def _attr(attr: str, where: str) -> str:
    if not _ATTR_RE.match(attr):
        raise PolicyError(f"{where}: {attr!r} is not an attribute name")
    return attr


def parse_policy(raw: Any, *, path: str = "server.auth.access_policy") -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PolicyError(f"{path}: must be a list of rules")
    return tuple(_parse_rule(i, item, f"{path}[{i}]") for i, item in enumerate(raw))


def _parse_rule(index: int, item: Any, where: str) -> Rule:
    text = repr(item)
    where = f"{where} {text if len(text) <= 120 else text[:117] + '...'}"
    effect = _parse_effect(item, where)
    scope = item[effect]
    if not isinstance(scope, dict) or set(scope) - _SCOPE_KEYS:
        raise PolicyError(f"{where}: '{effect}' takes a mapping with 'actions' and optional 'resource', 'principal'")
    actions = _parse_actions(scope.get("actions"), where)
    resource = _parse_resource(scope.get("resource"), where)
    principal = scope.get("principal")
    if principal is not None and not isinstance(principal, str):
        raise PolicyError(f"{where}: 'principal' must be a string")
    conditions, unless = _parse_conditions(item, where)
    return Rule(index, text, effect, actions, resource, principal, conditions, unless)


def _parse_effect(item: Any, where: str) -> str:
    """The rule's one effect key (`permit` or `forbid`), after checking the rule's own keys."""
    if not isinstance(item, dict):
        raise PolicyError(f"{where}: a rule is a mapping with 'permit' or 'forbid'")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    effects = [e for e in ("permit", "forbid") if e in item]
    if len(effects) != 1:
        raise PolicyError(f"{where}: needs exactly one of 'permit' or 'forbid'")
    if "when" in item and "unless" in item:
        raise PolicyError(f"{where}: use 'when' or 'unless', not both")
    return effects[0]


def _parse_actions(actions: Any, where: str) -> tuple[str, ...]:
    actions = [actions] if isinstance(actions, str) else actions
    if not actions or not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
        raise PolicyError(f"{where}: 'actions' must be one or more of {', '.join(ACTIONS)}")
    return tuple(actions)


def _parse_resource(resource: Any, where: str) -> str | None:
    if resource is None:
        return None
    if not isinstance(resource, str) or not resource:
        raise PolicyError(f"{where}: 'resource' must be a string")
    if resource.startswith("regex:"):
        try:
            re.compile(resource[len("regex:") :])
        except re.error as exc:
            raise PolicyError(f"{where}: invalid regex in 'resource': {exc}") from None
    elif "::" not in resource:
        raise PolicyError(f"{where}: 'resource' looks like '<type>::<id>', '<type>::*' or 'regex:<pattern>'")
    return resource


def _parse_conditions(item: dict, where: str) -> tuple[tuple[Condition, ...], bool]:
    """The rule's conditions, and whether they are an `unless` (else a `when`, or none)."""
    key = "unless" if "unless" in item else "when" if "when" in item else None
    raw = item.get(key) if key else []
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise PolicyError(f"{where}: '{key}' must be a condition or a list of conditions")
    return tuple(parse_condition(c, where=where) for c in raw), key == "unless"


def _default_policy() -> tuple[Rule, ...]:
    """llama-stack's default: permit everything to the owner, to anyone sharing an attribute value with the
    owner, and on unowned resources; `promote` (which llama-stack does not have) to the owner and admins only."""
    raw = [{"permit": {"actions": list(_EVERYDAY)}, "when": f"user in owners {attr}"} for attr in ATTRIBUTE_KEYS]
    raw += [
        {"permit": {"actions": list(_EVERYDAY)}, "when": "user is owner"},
        {"permit": {"actions": list(_EVERYDAY)}, "when": "resource is unowned"},
        *PROMOTE_RULES,
    ]
    return parse_policy(raw, path="default policy")


# Who may `promote` under a policy that never mentions it (the default one included): the owner, and users with
# the `admin` role.
PROMOTE_RULES = (
    {"permit": {"actions": ["promote"]}, "when": "user is owner"},
    {"permit": {"actions": ["promote"]}, "when": "user with admin in roles"},
)


DEFAULT_POLICY = _default_policy()
DEFAULT_PROMOTE_POLICY = parse_policy(list(PROMOTE_RULES), path="default promote rules")


# ------------------------------------------------------------------------------------------ owner tokens
def token(attr: str, value: str) -> str:
    """One `|attr=value|` token with both parts hex-encoded: no value can forge another token by containing
    `|` or `=`, and SQLite's case-insensitive LIKE cannot confuse `Team` with `team`."""
    return f"|{attr.encode().hex()}={str(value).encode().hex()}|"


def access_keys(attributes: dict[str, list[str]] | None) -> str:
    """The owner's attributes as searchable tokens, e.g. `|7465616d73=61|` ("" when there are none)."""
    tokens = [token(attr, value) for attr, values in sorted((attributes or {}).items()) for value in values or []]
    return "".join(tokens)


# ------------------------------------------------------------------------------------------ compiling
@dataclass(frozen=True)
class Pred:
    """A compiled policy: a tiny boolean algebra over one row's id, owner and owner tokens."""

    op: str  # true | false | owner_is | owner_empty | keys_contain | id_is | id_matches | not | and | or
    args: tuple = ()


TRUE, FALSE = Pred("true"), Pred("false")


def _not(p: Pred) -> Pred:
    if p.op == "true":
        return FALSE
    if p.op == "false":
        return TRUE
    return Pred("not", (p,))


def _and(*ps: Pred) -> Pred:
    if any(p.op == "false" for p in ps):
        return FALSE
    ps = tuple(p for p in ps if p.op != "true")
    return TRUE if not ps else ps[0] if len(ps) == 1 else Pred("and", ps)


def _or(*ps: Pred) -> Pred:
    if any(p.op == "true" for p in ps):
        return TRUE
    ps = tuple(p for p in ps if p.op != "false")
    return FALSE if not ps else ps[0] if len(ps) == 1 else Pred("or", ps)


def _condition_pred(c: Condition, user: User) -> Pred:
    if c.kind == "is_owner":
        p = Pred("owner_is", (user.principal,)) if user.principal else FALSE
    elif c.kind == "unowned":
        p = Pred("owner_empty")
    elif c.kind == "in_owners":
        # The owner holds one of the user's values: a non-empty intersection of the two lists.
        p = _or(*(Pred("keys_contain", (token(c.attr, v),)) for v in user.values(c.attr)))
    else:
        p = TRUE if c.value in user.values(c.attr) else FALSE
    return _not(p) if c.negated else p


def _conditions_pred(rule: Rule, user: User) -> Pred:
    if not rule.conditions:
        return TRUE
    all_true = _and(*(_condition_pred(c, user) for c in rule.conditions))
    return _not(all_true) if rule.unless else all_true


def _normalise_resource(pattern: str) -> str:
    if pattern.startswith("sql_record::"):
        parts = pattern.split("::", 2)
        table = parts[1] if len(parts) > 1 else ""
        rest = parts[2] if len(parts) > 2 else "*"
        return f"{LLAMA_STACK_TABLES.get(table, table)}::{rest}"
    return pattern


def _resource_pred(rule: Rule, resource_type: str) -> Pred:
    """Whether a rule's resource pattern covers a row of this type (per row for exact ids and regexes)."""
    if rule.resource is None:
        return TRUE
    if rule.resource.startswith("regex:"):
        return Pred("id_matches", (rule.resource[len("regex:") :], resource_type))
    pattern = _normalise_resource(rule.resource)
    if pattern.endswith("::*"):
        return TRUE if pattern[:-3] == resource_type else FALSE
    kind, _, ident = pattern.partition("::")
    return Pred("id_is", (ident,)) if kind == resource_type else FALSE


def compile_read_filter(policy: tuple[Rule, ...], user: User | None, resource_type: str, action: str = "read") -> Pred:
    """The rows of `resource_type` that `user` may `action`, as a predicate over the ownership columns."""
    if user is None:
        return TRUE
    attributes = tuple(sorted((attr, tuple(values or ())) for attr, values in user.attributes.items()))
    return _compile(policy or DEFAULT_POLICY, user.principal, attributes, resource_type, action)


@functools.lru_cache(maxsize=4096)
def _compile(policy: tuple[Rule, ...], principal: str, attributes: tuple, resource_type: str, action: str) -> Pred:
    """Compiling costs several times what evaluating does (about 20 against 2 microseconds for the default
    policy), and a single-row check needs the predicate for every row it checks: each (policy, user, type,
    action) is compiled once and kept while it is among the most recently used."""
    user = User(principal, {attr: list(values) for attr, values in attributes})
    # First match decides, so a permit counts unless an earlier forbid matched (an earlier matching permit
    # would already have made the row visible on its own).
    result, forbidden = FALSE, FALSE
    for rule in policy:
        if action not in rule.actions or (rule.principal is not None and rule.principal != user.principal):
            continue
        matches = _and(_resource_pred(rule, resource_type), _conditions_pred(rule, user))
        if rule.effect == "permit":
            result = _or(result, _and(matches, _not(forbidden)))
        else:
            forbidden = _or(forbidden, matches)
    return result


# ------------------------------------------------------------------------------------------ the two readings
def evaluate(pred: Pred, *, owner: str, keys: str, identifier: str) -> bool:
    """Whether one row satisfies a compiled predicate: `to_q`'s filter, read in Python."""
    op = pred.op
    if op in ("true", "false"):
        return op == "true"
    if op == "owner_is":
        return owner == pred.args[0]
    if op == "owner_empty":
        return not owner
    if op == "keys_contain":
        return pred.args[0] in keys
    if op == "id_is":
        return identifier == pred.args[0]
    if op == "id_matches":
        return re.match(pred.args[0], f"{pred.args[1]}::{identifier}") is not None
    parts = (evaluate(p, owner=owner, keys=keys, identifier=identifier) for p in pred.args)
    if op == "not":
        return not next(parts)
    return all(parts) if op == "and" else any(parts)


def to_q(pred: Pred, *, id_field: str, owner_field: str = "owner_principal", keys_field: str = "access_keys") -> Q:
    """A compiled predicate as a query filter: `evaluate`, read by the database."""
    op = pred.op
    if op == "true":
        return Q()
    if op == "false":
        return Q(pk__in=[])
    if op == "owner_is":
        return Q(**{owner_field: pred.args[0]})
    if op == "owner_empty":
        return Q(**{owner_field: ""})
    if op == "keys_contain":
        return Q(**{f"{keys_field}__contains": pred.args[0]})
    if op == "id_is":
        return Q(**{id_field: pred.args[0]})
    if op == "id_matches":
        # `re.match` on the whole name `<type>::<id>`, as `evaluate` does: a pattern such as `(file|response)::`
        # must neither be skipped nor cut down to the id.
        pattern, kind = pred.args
        name = Concat(Value(f"{kind}::"), F(id_field), output_field=CharField())
        return Q(Regex(name, _anchored(pattern)))
    parts = [to_q(p, id_field=id_field, owner_field=owner_field, keys_field=keys_field) for p in pred.args]
    if op == "not":
        return ~parts[0]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if op == "and" else combined | part
    return combined


def _anchored(pattern: str) -> str:
    """`pattern` as `re.match` applies it, for a database's search-anywhere regex operator (global inline flags
    such as `(?i)` must stay in front)."""
    flags = _LEADING_FLAGS.match(pattern)
    head = flags.group(0) if flags else ""
    return f"{head}^(?:{pattern[len(head) :]})"


def is_allowed(policy: tuple[Rule, ...], user: User | None, action: str, resource: Resource) -> bool:
    """Whether `user` may `action` one resource: its row evaluated against the compiled policy."""
    if user is None:
        return True
    return evaluate(
        compile_read_filter(policy, user, resource.type, action),
        owner=resource.owner,
        keys=access_keys(resource.owner_attributes),
        identifier=resource.identifier,
    )
