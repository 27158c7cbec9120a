"""Who is acting: the identity services stamp on what they create, and (with auth on) filter reads by.

Every entry point (`/v1`, dashboard, admin, commands) resolves one `Principal` per request and passes it to
services as the keyword argument `principal`. With authentication off it is `ANONYMOUS`: rows it creates are
unowned (owner `""`, attributes `None`), as in llama-stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    name: str
    attributes: dict[str, list[str]] | None = field(default=None, hash=False, compare=False)
    via: str | None = field(default=None, hash=False, compare=False)  # how they came: "api key sk-sa-…", "dashboard"
    # An operator (a staff user in the admin) sees and manages everything: the policy does not filter them, except
    # for `promote`, which they hold only as the user they are (apps.core.access.may_promote).
    operator: bool = field(default=False, hash=False, compare=False)

    @property
    def is_anonymous(self) -> bool:
        return not self.name


ANONYMOUS = Principal("")


def request_principal(request) -> Principal:
    """The principal an authentication layer attached to the request, else anonymous."""
    return getattr(request, "principal", None) or ANONYMOUS
