"""The dashboard's replays against a candidate (the logic is apps.responses.replay's): on a prompt, the form and
the list of its replays; a replay's page with its progress, Cancel, Delete, and the table of the original and the
candidate's answers side by side with a word diff.

A replay still going is polled by htmx (its region asks for itself again every second, and stops once the replay
has ended); without JavaScript the page refreshes itself until then. The same conventions as apps.prompts.views:
each swappable region is a named partial whose name is its element id, and every control is a plain form too.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from asgiref.sync import sync_to_async
from django_htmx.http import HttpResponseClientRedirect

from apps.core.errors import NotFoundError, StackAdminError
from apps.core.principal import Principal
from apps.prompts import presenters, selectors
from apps.prompts.forms import REPLAY_WINDOWS, ReplayForm
from apps.prompts.views import _gone, _partial_request, _render, _who, dashboard_view
from apps.responses import replay

LIST_PARTIALS = ("replay-runs", "replay-form")


def _list_context(prompt_id: str, principal: Principal, form: ReplayForm | None = None, error: str = "") -> dict:
    versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=principal)
    labels = sorted({"default", *(label for v in versions for label in v.labels)})
    runs = replay.replay_list(prompt_id=prompt_id, principal=principal)
    return {
        "prompt_id": prompt_id,
        "versions": versions[::-1],
        "label_sources": [(f"label:{name}", f"label {name}") for name in labels],
        "version_sources": [(f"v{v.version}", f"version {v.version}") for v in versions[::-1]],
        "form": form or ReplayForm(initial={"source": "label:default", "candidate": versions[-1].version}),
        "replay_error": error,
        "replay_max": replay.replay_max(),
        "runs": runs,
        "polling": any(run.status in replay.ACTIVE for run in runs),
        "nav": "prompts",
    }


def _spec(prompt_id: str, form: ReplayForm) -> replay.ReplaySpec:
    data = form.cleaned_data
    version, label = data["source"]
    hours = REPLAY_WINDOWS[data["window"]][1]
    return replay.ReplaySpec(
        prompt_id=prompt_id,
        candidate_version=data["candidate"],
        source_version=version,
        source_label=label,
        since=timezone.now() - timedelta(hours=hours) if hours else None,
        sample=data["sample"],
        model=(data["model"] or "").strip(),
    )


def _form_error(form: ReplayForm) -> str:
    return " ".join(
        f"{'' if name == '__all__' else name.capitalize() + ': '}{e}" for name, es in form.errors.items() for e in es
    )


@dashboard_view
@require_http_methods(["GET", "POST"])
async def prompt_replays(request: HttpRequest, prompt_id: str) -> HttpResponse:
    """The replays of a prompt and the form that starts one. A started replay's page is shown next (for htmx,
    the browser goes there); a refused one says why at the form, and nothing is stored."""
    principal, _ = await sync_to_async(_who)(request)
    form, error, status = None, "", 200
    if request.method == "POST":
        form = ReplayForm(request.POST)
        if await sync_to_async(form.is_valid)():
            try:
                run = await replay.replay_create(
                    spec=_spec(prompt_id, form), principal=principal, created_by=request.user.get_username()
                )
            except NotFoundError as exc:
                return await sync_to_async(_gone)(request, prompt_id, exc)
            except StackAdminError as exc:
                error, status = exc.message, 400
            else:
                url = reverse("prompts:replay_detail", args=[prompt_id, run.public_id])
                return HttpResponseClientRedirect(url) if _partial_request(request) else HttpResponseRedirect(url)
        else:
            error, status = _form_error(form), 400
    return await sync_to_async(_list_page)(request, prompt_id, principal, form, error, status)


def _list_page(request, prompt_id, principal, form, error, status) -> HttpResponse:
    try:
        context = _list_context(prompt_id, principal, form, error)
    except NotFoundError as exc:
        return _gone(request, prompt_id, exc)
    partials = ("replay-form",) if request.method == "POST" else LIST_PARTIALS
    return _render(request, "prompts/replay_list.html", context, partials=partials, status=status)


# ------------------------------------------------------------------------------------------ one replay
def _rows(run: replay.ReplayRun) -> list[dict]:
    rows = []
    for item in replay.replay_items(run=run):
        answered = item.state == "done"
        rows.append({"item": item, "diff": presenters.answer_diff(item.original_text, item.text) if answered else ()})
    return rows


def _detail_context(prompt_id: str, run_id: str, principal: Principal, error: str = "") -> dict:
    run = replay.replay_get(prompt_id=prompt_id, run_id=run_id, principal=principal)
    totals = replay.replay_totals(run=run)
    return {
        "prompt_id": prompt_id,
        "run": run,
        "active": run.status in replay.ACTIVE,
        "percent": round(100 * run.processed / run.total) if run.total else 100,
        "rows": _rows(run),
        "totals_rows": [("original", totals.original), ("candidate", totals.candidate)],
        "replay_error": error,
        "nav": "prompts",
    }


def _detail_page(request, prompt_id: str, run_id: str, principal: Principal, error: str = "", status: int = 200):
    try:
        context = _detail_context(prompt_id, run_id, principal, error)
    except NotFoundError as exc:
        return _gone(request, prompt_id, exc)
    return _render(request, "prompts/replay_detail.html", context, partials=("replay-run",), status=status)


@dashboard_view
@require_http_methods(["GET"])
def replay_detail(request: HttpRequest, prompt_id: str, run_id: str) -> HttpResponse:
    principal, _ = _who(request)
    return _detail_page(request, prompt_id, run_id, principal)


@dashboard_view
@require_POST
async def replay_cancel(request: HttpRequest, prompt_id: str, run_id: str) -> HttpResponse:
    principal, _ = await sync_to_async(_who)(request)
    error, status = "", 200
    try:
        await replay.replay_cancel(prompt_id=prompt_id, run_id=run_id, principal=principal)
    except NotFoundError as exc:
        return await sync_to_async(_gone)(request, prompt_id, exc)
    except StackAdminError as exc:
        error, status = exc.message, exc.status_code
    if not _partial_request(request) and not error:
        return HttpResponseRedirect(reverse("prompts:replay_detail", args=[prompt_id, run_id]))
    return await sync_to_async(_detail_page)(request, prompt_id, run_id, principal, error, status)


@dashboard_view
@require_POST
async def replay_delete(request: HttpRequest, prompt_id: str, run_id: str) -> HttpResponse:
    principal, _ = await sync_to_async(_who)(request)
    try:
        await replay.replay_delete(prompt_id=prompt_id, run_id=run_id, principal=principal)
    except NotFoundError as exc:
        return await sync_to_async(_gone)(request, prompt_id, exc)
    except StackAdminError as exc:
        return await sync_to_async(_detail_page)(request, prompt_id, run_id, principal, exc.message, exc.status_code)
    url = reverse("prompts:replays", args=[prompt_id])
    return HttpResponseClientRedirect(url) if _partial_request(request) else HttpResponseRedirect(url)
