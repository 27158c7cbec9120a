"""The dashboard's "API keys" page: the signed-in user's keys, created (shown once) and revoked here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import selectors, services
from apps.core.errors import StackAdminError

TEMPLATE = "accounts/apikey_list.html"


def _page(request, *, new_key: str | None = None, error: str | None = None, status: int = 200):
    context = {
        "keys": selectors.api_keys_of(user=request.user),
        "new_key": new_key,
        "error": error,
        "nav": "keys",
        "auth_enabled": _auth_enabled(),
    }
    template = f"{TEMPLATE}#key-panel" if request.htmx else TEMPLATE
    return render(request, template, context, status=status)


def _auth_enabled() -> bool:
    from django.conf import settings

    return settings.STACKADMIN_AUTH_ENABLED


@login_required
@require_http_methods(["GET", "POST"])
def apikey_list(request):
    if request.method == "GET":
        return _page(request)
    try:
        _, raw = services.api_key_create(user=request.user, name=request.POST.get("name", ""))
    except StackAdminError as exc:
        return _page(request, error=exc.message)
    # Shown in this response only: it is stored hashed and never rendered again.
    return _page(request, new_key=raw)


@login_required
@require_POST
def apikey_revoke(request, key_id: int):
    try:
        key = services.api_key_revoke(key_id=key_id, user=request.user)
    except StackAdminError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:keys") if not request.htmx else _page(request, error=exc.message)
    if request.htmx:
        return _page(request)
    messages.success(request, f"Revoked {key.prefix}…")
    return redirect("accounts:keys")
