"""The prompts dashboard: HTML views over the prompts services and selectors (never over `/v1`).

Each page template defines its swappable regions as named partials whose name is the element id; an htmx
request gets the partial its `hx-target` names, any other request the whole page. Every htmx control is also a
plain link or form, so the pages work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from asgiref.sync import sync_to_async
from django_htmx.http import HttpResponseClientRedirect, reswap, trigger_client_event

from apps.core.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError, StackAdminError
from apps.core.http import event_stream_response
from apps.core.model_settings import REASONING_EFFORTS, REASONING_SUMMARIES
from apps.core.principal import Principal
from apps.inference import selectors as inference_selectors
from apps.prompts import archives, presenters, selectors, services, templating, usage
from apps.prompts.config import prompts_config
from apps.prompts.forms import (
    VERBOSITIES,
    HistoryFilterForm,
    ImportForm,
    PromptForm,
    error_links,
    normalize_newlines,
    template_texts,
    with_error,
)
from apps.prompts.playground import PlaygroundRun, run_check, run_once, run_stream, summary
from apps.prompts.records import PromptVersion
from apps.prompts.schemas import MESSAGE_ROLES
from apps.responses.selectors import response_output_text

PAGE_SIZE = 50
MAX_QUERY_CHARS = 200
# How much of a prompt's history its timeline shows between the versions; the Activity page has all of it.
TIMELINE_ENTRIES = 100


# ------------------------------------------------------------------------------------------ helpers
def dashboard_view(view):
    """`login_required`, except that an htmx request from an expired session moves the whole tab to the login
    page instead of swapping the login form into a fragment. Works on sync and async views."""
    protected = login_required(view)

    def to_login(request: HttpRequest) -> HttpResponse:
        back = request.htmx.current_url_abs_path or request.get_full_path()
        return HttpResponseClientRedirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': back})}")

    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.htmx and not (await request.auser()).is_authenticated:
                return to_login(request)
            return await protected(request, *args, **kwargs)

        return async_wrapper

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            return to_login(request)
        return protected(request, *args, **kwargs)

    return wrapper


def _partial_request(request: HttpRequest) -> bool:
    # A history-restore request comes from htmx but wants the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    partials: tuple[str, ...] = (),
    status: int = 200,
) -> HttpResponse:
    """The page, or for htmx the partial named by `hx-target` (the first of `partials` when it names none)."""
    name = template
    if partials and _partial_request(request):
        target = request.htmx.target
        name = f"{template}#{target if target in partials else partials[0]}"
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _principal(request: HttpRequest) -> Principal:
    # SessionPrincipalMiddleware attaches the signed-in user with their access attributes; the policy uses them.
    return getattr(request, "principal", None) or Principal(request.user.get_username())


def _actor(request: HttpRequest) -> dict:
    return {"principal": _principal(request), "created_by": request.user.get_username()}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _gone(request: HttpRequest, prompt_id: str, exc: StackAdminError) -> HttpResponse:
    """A prompt (or version) that does not exist: a page, or for htmx a notice in place of the region."""
    region = request.htmx.target if _partial_request(request) else None
    context = {"prompt_id": prompt_id, "reason": exc.message, "region_id": region or "gone", "nav": "prompts"}
    name = "prompts/prompt_missing.html#gone" if region else "prompts/prompt_missing.html"
    return render(request, name, context, status=404)


def _refused(request: HttpRequest, exc: StackAdminError, back: str) -> HttpResponse:
    """The access policy forbids the action: say so where the user is, and change nothing on the page."""
    if _partial_request(request):
        response = reswap(HttpResponse(status=403), "none")
        return trigger_client_event(response, "stackadmin:notice", {"message": exc.message})
    messages.error(request, exc.message)
    return HttpResponseRedirect(back)


# ------------------------------------------------------------------------------------------ list
@dashboard_view
@require_GET
def prompt_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY_CHARS]
    listing = selectors.prompt_list(query=query or None, principal=_principal(request))
    page = Paginator(listing.data, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "total": listing.total, "nav": "prompts"}
    context["sparklines"] = usage.sparklines(prompt_ids=[p.prompt_id for p in page], principal=_principal(request))
    return _render(request, "prompts/prompt_list.html", context, partials=("prompt-list",))


# ------------------------------------------------------------------------------------------ create / edit
# What the editor's choices offer; the settings' validators (apps.core.model_settings) decide what is valid.
EDITOR_CHOICES = {
    "roles": MESSAGE_ROLES,
    "efforts": REASONING_EFFORTS,
    "summaries": REASONING_SUMMARIES,
    "verbosities": VERBOSITIES,
    "flags": ("true", "false"),
    "truncations": ("disabled", "auto"),
}


def _form_context(form: dict, **extra) -> dict:
    texts = template_texts(form["kind"], form["text"], form["messages"])
    report = templating.texts_report(texts, form["variables"])
    return {
        "form": form,
        "errors": form["errors"],
        "problem_links": error_links(form["errors"]),
        "report": report,
        "base": form["base_version"],
        **EDITOR_CHOICES,
        **extra,
    }


def _editor(request: HttpRequest, form: dict, *, status: int = 200, **context) -> HttpResponse:
    """The editor page, or for htmx its form region, showing `form`'s values."""
    return _render(
        request, "prompts/prompt_form.html", _form_context(form, **context), partials=("prompt-form",), status=status
    )


@dashboard_view
@require_http_methods(["GET", "POST"])
def prompt_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _editor(request, PromptForm.initial_values(), nav="prompts")
    bound = PromptForm(request.POST)
    form = bound.values
    if bound.declaring or bound.problem:
        return _editor(request, form, nav="prompts")
    try:
        created = services.prompt_create(**bound.content, message=form["message"] or None, **_actor(request))
    except BadRequestError as exc:
        return _editor(request, with_error(form, exc), nav="prompts")
    messages.success(request, f"Created {created.prompt_id} (version 1).")
    return _after_save(request, reverse("prompts:detail", args=[created.prompt_id]))


def _after_save(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


@dashboard_view
@require_http_methods(["GET", "POST"])
def prompt_edit(request: HttpRequest, prompt_id: str) -> HttpResponse:
    """The editor of a prompt's next version: GET opens it, POST saves it (or shows it again for a chip button)."""
    if request.method == "POST":
        return _edit_submit(request, prompt_id)
    try:
        versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    latest = versions[-1]
    # The template and settings start from the version `?from=` names (to build on an older one), else the latest;
    # either way the save builds on the latest.
    wanted = _int(request.GET.get("from"))
    source = next((v for v in versions if v.version == wanted), latest)
    form = PromptForm.initial_values(source=source, base_version=latest.version)
    return _editor(request, form, prompt_id=prompt_id, latest=latest, source=source, nav="prompts")


def _edit_submit(request: HttpRequest, prompt_id: str) -> HttpResponse:
    try:
        versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        return _edit_of_deleted(request, prompt_id, exc)
    context = {"prompt_id": prompt_id, "latest": versions[-1], "nav": "prompts"}
    bound = PromptForm(request.POST, latest=versions[-1])
    form = bound.values
    if bound.declaring or bound.problem:
        return _editor(request, form, **context)
    try:
        saved = services.prompt_update(
            prompt_id=prompt_id,
            **bound.content,
            version=form["base_version"],
            set_as_default=form["make_default"],
            message=form["message"] or None,
            **_actor(request),
        )
    except ConflictError:
        return _edit_conflict(request, prompt_id, form, bound.content, context)
    except NotFoundError as exc:
        return _edit_of_deleted(request, prompt_id, exc, form)
    except BadRequestError as exc:
        return _editor(request, with_error(form, exc), **context)
    except PermissionDeniedError as exc:
        return _editor(request, form, error=exc.message, **context)
    default_note = " and made it the default" if saved.is_default else " (the default is unchanged)"
    messages.success(request, f"Saved version {saved.version}{default_note}.")
    return _after_save(request, f"{reverse('prompts:detail', args=[prompt_id])}?version={saved.version}")


def _edit_conflict(request: HttpRequest, prompt_id: str, form: dict, content: dict, context: dict) -> HttpResponse:
    """Someone saved a newer version since this editor opened: keep the editor as it is, show what they changed,
    and let the next save build on their version."""
    versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    latest = versions[-1]
    started_from = next((v for v in versions if v.version == form["base_version"]), None)
    theirs = presenters.version_diff(started_from, latest) if started_from else None
    messages_ = content["messages"]
    draft = PromptVersion(
        prompt_id=prompt_id,
        prompt=content["text"] if messages_ is None else templating.messages_text(messages_),
        messages=messages_,
        settings=content["settings"],
        version=latest.version + 1,
        variables=content["variables"],
    )
    conflict = {
        "started_from": form["base_version"],
        "latest": latest,
        "newer": [v for v in versions if v.version > (form["base_version"] or 0)],
        "theirs": theirs,
        "yours": presenters.version_diff(latest, draft),
    }
    form = {**form, "base_version": latest.version}
    context = {**context, "latest": latest, "conflict": conflict}
    return _editor(request, form, status=409, **context)


def _edit_of_deleted(request: HttpRequest, prompt_id: str, exc: StackAdminError, form: dict | None = None):
    """The prompt went away while being edited: keep the text and offer to save it as a new prompt."""
    form = form or PromptForm(request.POST).values
    return _editor(request, form, prompt_id=prompt_id, deleted=True, error=exc.message, nav="prompts")


@dashboard_view
@require_GET
def prompt_edit_notice(request: HttpRequest, prompt_id: str) -> HttpResponse:
    """Whether versions newer than the one an open editor started from exist (refreshed by live updates)."""
    base = _int(request.GET.get("base")) or 0
    try:
        versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        if not _partial_request(request):
            return _gone(request, prompt_id, exc)
        context = {"prompt_id": prompt_id, "base": base, "newer": [], "deleted": True}
        return render(request, "prompts/prompt_form.html#edit-notice", context)
    if not _partial_request(request):
        return HttpResponseRedirect(reverse("prompts:edit", args=[prompt_id]))
    context = {"prompt_id": prompt_id, "base": base, "newer": [v for v in versions if v.version > base]}
    return render(request, "prompts/prompt_form.html#edit-notice", context)


@dashboard_view
@require_POST
def template_analyze(request: HttpRequest) -> HttpResponse:
    """The variable chips for the editor's current text: declared, undeclared and malformed placeholders.

    Only the editor's htmx calls reach this; without JavaScript the same buttons post the whole form to the
    create or edit view, which re-renders it with the chips.
    """
    return render(request, "prompts/prompt_form.html#variable-chips", _form_context(PromptForm(request.POST).values))


SETTING_CHECKS = ("check-tools", "check-text_format")


@dashboard_view
@require_POST
def settings_check(request: HttpRequest) -> HttpResponse:
    """What is wrong with the JSON of the tools or the text format as it is typed: the note under the field the
    request's `hx-target` names (`check-tools`, `check-text_format`), checked by the validators a save runs.

    Only the editor's htmx calls reach this; without JavaScript a save (or "Check") shows the same notes."""
    target = request.htmx.target if request.htmx and request.htmx.target in SETTING_CHECKS else SETTING_CHECKS[0]
    return render(request, f"prompts/prompt_form.html#{target}", _form_context(PromptForm(request.POST).values))


@dashboard_view
@require_GET
async def model_options(request: HttpRequest) -> HttpResponse:
    """The models the server can reach, as the editor's model field suggests them (a <datalist> for htmx), or as a
    page of their own (the editor links to it for browsers without JavaScript). Any other id can be typed.

    Async, as `/v1/models` is: listing a provider's models may wait on its server, which must not hold up the one
    thread that runs the dashboard's synchronous views; the page is rendered there, where its session is read."""
    try:
        models = [m.model_id for m in await inference_selectors.model_list() if m.model_type == "llm"]
        problem = None
    except StackAdminError as exc:
        models, problem = [], exc.message
    context = {"models": models, "problem": problem, "nav": "prompts"}
    return await sync_to_async(_render)(request, "prompts/model_list.html", context, partials=("model-options",))


# ------------------------------------------------------------------------------------------ detail
def _preview(request: HttpRequest, prompt_id: str, selected: PromptVersion, values: dict[str, str]):
    filled = {name: value for name, value in values.items() if value}  # an empty field is "not filled in"
    if selected.is_chat:
        return presenters.chat_preview(selected.messages, filled)
    return selectors.prompt_render(
        prompt_id=prompt_id,
        version=selected.version,
        variables=filled,
        principal=_principal(request),
        allow_missing=True,
    ).rendering


def _detail_context(request: HttpRequest, prompt_id: str, versions: list[PromptVersion], selected: PromptVersion):
    default = next((v for v in versions if v.is_default), None)
    values = {name: normalize_newlines(request.POST.get(f"var_{name}", "")) for name in selected.variables}
    history = selectors.prompt_history(prompt_id=prompt_id, limit=TIMELINE_ENTRIES, principal=_principal(request))
    return {
        "prompt_id": prompt_id,
        "versions": versions[::-1],
        "timeline": presenters.timeline(versions[::-1], history.data),
        "history_more": history.has_more,
        "latest": versions[-1],
        "default": default,
        "selected": selected,
        "previous": next((v for v in reversed(versions) if v.version < selected.version), None),
        "values": values,
        "preview": _preview(request, prompt_id, selected, values),
        "setting_rows": presenters.setting_rows(selected.settings),
        **_label_choices(versions, selected),
        **_usage_context(request, prompt_id, versions, history.data),
        "nav": "prompts",
    }


def _usage_context(request: HttpRequest, prompt_id: str, versions: list[PromptVersion], moves: list) -> dict:
    """The usage region: its queries run only when a template renders it (not for another region's refresh)."""
    panel = usage.UsagePanel.from_query(request.GET, prompt_id=prompt_id, principal=_principal(request), moves=moves)
    labels = sorted({"default", *(label for v in versions for label in v.labels)})
    return {"usage": panel, "usage_labels": labels}


def _label_choices(versions: list[PromptVersion], selected: PromptVersion) -> dict:
    """What the label controls offer: the protected labels (marked with a lock; the ones not on the selected
    version get a "Promote" button) and, as suggestions, every label the prompt has."""
    protected = prompts_config().protected_labels
    existing = {label for v in versions for label in v.labels}
    return {
        "protected_labels": protected,
        "promotable": [label for label in protected if label != "default" and label not in selected.labels],
        "label_suggestions": sorted((existing | set(protected)) - {"default"}),
    }


def _load_detail(request: HttpRequest, prompt_id: str, version: int | None):
    versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    if version is None:
        selected = next((v for v in versions if v.is_default), versions[-1])
    else:
        selected = next((v for v in versions if v.version == version), None)
        if selected is None:
            raise NotFoundError(f"Prompt '{prompt_id}' has no version {version}.", param="version")
    return _detail_context(request, prompt_id, versions, selected)


def _load_shown(request: HttpRequest, prompt_id: str, shown: int | None):
    """The page of version `shown`, or of the default version once `shown` is deleted."""
    try:
        return _load_detail(request, prompt_id, shown)
    except NotFoundError:
        if shown is None:
            raise
        return _load_detail(request, prompt_id, None)


DETAIL_PARTIALS = (
    "prompt-workspace",
    "version-list",
    "version-status",
    "label-form",
    "preview-output",
    "prompt-usage",
)


@dashboard_view
@require_GET
def prompt_detail(request: HttpRequest, prompt_id: str) -> HttpResponse:
    try:
        context = _load_detail(request, prompt_id, _int(request.GET.get("version")))
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    return _render(request, "prompts/prompt_detail.html", context, partials=DETAIL_PARTIALS)


@dashboard_view
@require_POST
def prompt_version_preview(request: HttpRequest, prompt_id: str, version: int) -> HttpResponse:
    """The selected version rendered with the submitted values; missing ones are marked."""
    try:
        context = _load_detail(request, prompt_id, version)
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    return _render(request, "prompts/prompt_detail.html", context, partials=("preview-output",))


@dashboard_view
@require_POST
def prompt_version_set_default(request: HttpRequest, prompt_id: str, version: int) -> HttpResponse:
    try:
        services.prompt_version_set_default(prompt_id=prompt_id, version=version, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    except PermissionDeniedError as exc:
        return _refused(request, exc, reverse("prompts:detail", args=[prompt_id]))
    if not _partial_request(request):
        messages.success(request, f"Version {version} is now the default.")
        return HttpResponseRedirect(f"{reverse('prompts:detail', args=[prompt_id])}?version={version}")
    try:
        context = _load_detail(request, prompt_id, _int(request.POST.get("shown")) or version)
    except NotFoundError as exc:
        return _gone(request, prompt_id, exc)
    # The timeline and the shown version's status both show the default: swap the one that asked, and the other
    # out of band.
    target = "version-status" if request.htmx.target == "version-status" else "version-list"
    other = "version-list" if target == "version-status" else "version-status"
    return _regions(request, context, target, (other,))


def _regions(request: HttpRequest, context: dict, target: str, others: tuple[str, ...], *, status: int = 200):
    """The detail page's region `target`, and `others` out of band."""
    template = "prompts/prompt_detail.html"
    html = render_to_string(f"{template}#{target}", context, request)
    for other in others:
        html += render_to_string(f"{template}#{other}", {**context, "oob_region": other}, request)
    response = HttpResponse(html, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


# ------------------------------------------------------------------------------------------ labels
# Where each label control answers (its own region), and what else shows labels (swapped out of band).
LABEL_REGIONS = {"label-form": ("version-status", "version-list"), "version-status": ("version-list",)}


def _label_outcome(
    request: HttpRequest,
    prompt_id: str,
    shown: int | None,
    *,
    target: str,
    notice: str | None = None,
    problem: StackAdminError | None = None,
    form: dict | None = None,
) -> HttpResponse:
    """After a label move (`target` "label-form") or removal ("version-status"): the version page as it now is,
    for htmx the region that asked with the others out of band. A refusal is said where it was asked (400; 403 for
    a protected label, which the timeline then shows as refused), keeping what was typed."""
    if notice and not _partial_request(request):
        messages.success(request, notice)
        query = f"?version={shown}" if shown else ""
        return HttpResponseRedirect(f"{reverse('prompts:detail', args=[prompt_id])}{query}")
    try:
        context = _load_shown(request, prompt_id, shown)
    except NotFoundError as exc:
        return _gone(request, prompt_id, exc)
    said = "label" if target == "label-form" else "status"
    context.update({f"{said}_notice": notice, f"{said}_error": problem.message if problem else None})
    context["label_form"] = form or {}
    status = problem.status_code if problem else 200
    if _partial_request(request):
        return _regions(request, context, target, LABEL_REGIONS[target], status=status)
    return render(request, "prompts/prompt_detail.html", context, status=status)


@dashboard_view
@require_POST
def prompt_label_move(request: HttpRequest, prompt_id: str, version: int) -> HttpResponse:
    """Point a label at `version`: the one typed, or the protected one a "Promote to …" button names."""
    label = (request.POST.get("promote") or request.POST.get("label") or "").strip()
    message = request.POST.get("message", "").strip()
    try:
        services.prompt_label_move(
            prompt_id=prompt_id, label=label, version=version, principal=_principal(request), message=message or None
        )
    except NotFoundError as exc:
        return _gone(request, prompt_id, exc)
    except (BadRequestError, PermissionDeniedError) as exc:
        if exc.param == "prompt_id":
            return _gone(request, prompt_id, exc)
        form = {"label": label, "message": message}
        return _label_outcome(request, prompt_id, version, target="label-form", problem=exc, form=form)
    notice = f"'{label}' now points at version {version}."
    return _label_outcome(request, prompt_id, version, target="label-form", notice=notice)


@dashboard_view
@require_POST
def prompt_label_remove(request: HttpRequest, prompt_id: str, label: str) -> HttpResponse:
    shown = _int(request.POST.get("shown"))
    try:
        services.prompt_label_remove(prompt_id=prompt_id, label=label, principal=_principal(request))
    except (BadRequestError, PermissionDeniedError, ConflictError, NotFoundError) as exc:
        if exc.param == "prompt_id":
            return _gone(request, prompt_id, exc)
        return _label_outcome(request, prompt_id, shown, target="version-status", problem=exc)
    return _label_outcome(request, prompt_id, shown, target="version-status", notice=f"Removed the label '{label}'.")


# ------------------------------------------------------------------------------------------ delete a version
@dashboard_view
@require_http_methods(["GET", "POST"])
def prompt_version_delete(request: HttpRequest, prompt_id: str, version: int) -> HttpResponse:
    """A confirmation naming the version, then the delete; refused (409, said in the confirmation) while the
    default or a label points at the version."""
    try:
        record = selectors.prompt_version_get(prompt_id=prompt_id, version=version, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    context = {"prompt_id": prompt_id, "version": record, "nav": "prompts"}
    if request.method == "POST":
        try:
            services.prompt_version_delete(prompt_id=prompt_id, version=version, principal=_principal(request))
        except NotFoundError as exc:
            return _gone(request, prompt_id, exc)
        except PermissionDeniedError as exc:
            return _refused(request, exc, f"{reverse('prompts:detail', args=[prompt_id])}?version={version}")
        except ConflictError as exc:
            return _render(
                request,
                "prompts/version_confirm_delete.html",
                {**context, "error": exc.message},
                partials=("version-delete-confirm",),
                status=409,
            )
        messages.success(request, f"Deleted version {version} of {prompt_id}.")
        return _after_save(request, reverse("prompts:detail", args=[prompt_id]))
    return _render(request, "prompts/version_confirm_delete.html", context, partials=("version-delete-confirm",))


# ------------------------------------------------------------------------------------------ diff
@dashboard_view
@require_GET
def prompt_diff(request: HttpRequest, prompt_id: str) -> HttpResponse:
    try:
        versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    by_number = {v.version: v for v in versions}
    new = by_number.get(_int(request.GET.get("to")) or 0, versions[-1])
    older = [v for v in versions if v.version < new.version]
    old = by_number.get(_int(request.GET.get("from")) or 0, older[-1] if older else new)
    context = {
        "prompt_id": prompt_id,
        "versions": versions[::-1],
        "old": old,
        "new": new,
        "diff": presenters.version_diff(old, new),
        "nav": "prompts",
    }
    return _render(request, "prompts/prompt_diff.html", context, partials=("diff-view",))


# ------------------------------------------------------------------------------------------ delete
@dashboard_view
@require_http_methods(["GET", "POST"])
def prompt_delete(request: HttpRequest, prompt_id: str) -> HttpResponse:
    try:
        versions = selectors.prompt_versions_list(prompt_id=prompt_id, principal=_principal(request))
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    if request.method == "POST":
        try:
            services.prompt_delete(prompt_id=prompt_id, principal=_principal(request))
        except NotFoundError as exc:
            return _gone(request, prompt_id, exc)
        except PermissionDeniedError as exc:
            return _refused(request, exc, reverse("prompts:detail", args=[prompt_id]))
        messages.success(request, f"Deleted {prompt_id} and its {len(versions)} version(s).")
        return _after_save(request, reverse("prompts:list"))
    default = next((v for v in versions if v.is_default), versions[-1])
    context = {"prompt_id": prompt_id, "versions": versions, "default": default, "nav": "prompts"}
    return _render(request, "prompts/prompt_confirm_delete.html", context, partials=("delete-confirm",))


# ------------------------------------------------------------------------------------------ activity
ACTIVITY_PAGE_SIZE = 50


def filtered_page(
    request: HttpRequest, form: Any, *, nav: str, fetch: Callable[[Any, str | None], Any]
) -> tuple[dict, Any]:
    """(context, page) of a list page filtered by `form` and paged by `after` (the last row of the page before),
    `page` None when the filters are refused or `after` is not in the list (the context then says why, and the
    page is a 400)."""
    after = request.GET.get("after") or None
    context = {"form": form, "after": after, "rows": [], "has_more": False, "last_id": None, "nav": nav}
    if not form.is_valid():
        return context, None
    try:
        return context, fetch(form.filters(), after)
    except BadRequestError as exc:  # an `after` row that is not in this (filtered) list
        context["problem"] = exc.message
        return context, None


@dashboard_view
@require_GET
def prompt_activity(request: HttpRequest) -> HttpResponse:
    """Every prompt's history the user may read, newest first, filtered, 50 entries a page (`after`: the last
    entry of the page before). Entries link to their prompt while it exists."""
    principal = _principal(request)
    context, page = filtered_page(
        request,
        HistoryFilterForm(request.GET),
        nav="activity",
        fetch=lambda filters, after: selectors.prompts_history(
            filters=filters, limit=ACTIVITY_PAGE_SIZE, after=after, principal=principal
        ),
    )
    if page is None:
        return _render(request, "prompts/history_list.html", context, partials=("history-list",), status=400)
    form = context["form"]
    existing = selectors.prompt_index().by_id
    context.update(
        rows=[{"entry": e, "prompt": existing.get(e.prompt_id)} for e in page.data],
        has_more=page.has_more,
        last_id=page.last_id,
        protected_labels=prompts_config().protected_labels,
        filtered=any(form.cleaned_data.values()),
    )
    return _render(request, "prompts/history_list.html", context, partials=("history-list",))


# ------------------------------------------------------------------------------------------ import / export
@dashboard_view
@require_GET
def prompt_export(request: HttpRequest) -> HttpResponse:
    """Every prompt the user may read, or those the list shows for its search (`q`), as a download in the format
    of `stackadmin prompts export`, streamed."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_CHARS]
    try:
        dumps = selectors.prompts_dump_for(principal=_principal(request), query=query or None)
    except StackAdminError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("prompts:list"))
    return archives.archive_download(dumps)


def _import_page(request: HttpRequest, form: ImportForm, *, status: int = 200, **context) -> HttpResponse:
    context = {"form": form, "limit": settings.STACKADMIN_IMPORT_MAX_BYTES, "nav": "prompts", **context}
    return _render(request, "prompts/prompt_import.html", context, partials=("import-result",), status=status)


@dashboard_view
@csrf_exempt  # checked by `_import_submit`, once the upload's size limit is in place (reading the token reads the body)
@require_http_methods(["GET", "POST"])
def prompt_import(request: HttpRequest) -> HttpResponse:
    """Upload an archive: "Preview" shows what importing it would do, prompt by prompt; "Import" does it and shows
    what was done. For htmx the result table replaces the one below the form, and the chosen file stays chosen."""
    if request.method == "GET":
        return _import_page(request, ImportForm())
    refusal = archives.limit_upload(request)
    if refusal:
        return _import_page(request, ImportForm(), error=refusal, status=413)
    return _import_submit(request)


@csrf_protect
def _import_submit(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    refusal = archives.upload_exceeded(request)
    if refusal:
        return _import_page(request, form, error=refusal, status=413)
    if not form.is_valid():
        return _import_page(request, form, status=400)
    with archives.saved_upload(form.cleaned_data["archive"]) as (root, path):
        report = services.prompts_import(
            paths=[path],
            skip_invalid=form.cleaned_data["skip_invalid"],
            on_conflict=form.cleaned_data["on_conflict"],
            principal=_principal(request),
            dry_run=form.dry_run,
            root=root,
        )
    return _import_page(request, form, report=report, file_name=path.name, rechoose=not _partial_request(request))


# ------------------------------------------------------------------------------------------ playground
def _who(request: HttpRequest) -> tuple[Principal, int]:
    """The signed-in user as the policy sees them, and their id: read here, on a thread that may use the session."""
    principal = _principal(request)
    _ = principal.name  # the lazy principal is resolved now, not later on the event loop
    return principal, request.user.pk


async def _playground_runs(request: HttpRequest, prompt_id: str, version: int, principal: Principal, user_id: int):
    """The run of `version` and, when the form asks, of a second version on the same input; each checked."""
    runs = []
    numbers = [version] + [n for n in [_int(request.POST.get("compare"))] if n and n != version]
    for number in numbers:
        record = await selectors.aread(
            selectors.prompt_version_get, prompt_id=prompt_id, version=number, principal=principal
        )
        run = PlaygroundRun.from_form(
            request.POST, prompt_id=prompt_id, version=number, variables=list(record.variables), user_id=user_id
        )
        await run_check(run, principal)
        runs.append(run)
    return runs


@dashboard_view
@require_POST
async def prompt_version_run(request: HttpRequest, prompt_id: str, version: int) -> HttpResponse:
    """Run a version in the playground: for htmx, the answer region streaming from `prompt_run_stream`; without
    JavaScript, the page with the answer (run without streaming)."""
    principal, user_id = await sync_to_async(_who)(request)
    try:
        runs = await _playground_runs(request, prompt_id, version, principal, user_id)
        error = None
    except StackAdminError as exc:
        runs, error = [], exc.message
    stream_url = reverse("prompts:run_stream", args=[prompt_id])
    if _partial_request(request):
        shown = [
            {"version": r.version, "model": r.model, "url": f"{stream_url}?{urlencode({'run': r.sign()})}"}
            for r in runs
        ]
        context = {"prompt_id": prompt_id, "playground_runs": shown, "playground_error": error}
        return await sync_to_async(_render)(
            request,
            "prompts/prompt_detail.html",
            context,
            partials=("playground-output",),
            status=400 if error else 200,
        )
    shown = []
    for run in runs:
        try:
            response = await run_once(run, principal)
            shown.append(
                {
                    "version": run.version,
                    "model": run.model,
                    "text": response_output_text(response),
                    "summary": summary(response),
                }
            )
        except StackAdminError as exc:
            error = exc.message
    return await sync_to_async(_playground_page)(request, prompt_id, version, shown, error)


def _playground_page(request: HttpRequest, prompt_id: str, version: int, shown: list, error: str | None):
    try:
        context = _load_detail(request, prompt_id, version)
    except (NotFoundError, BadRequestError) as exc:
        return _gone(request, prompt_id, exc)
    context.update(playground_runs=shown, playground_error=error, playground_form=request.POST)
    return _render(request, "prompts/prompt_detail.html", context, status=400 if error and not shown else 200)


@dashboard_view
@require_GET
async def prompt_run_stream(request: HttpRequest, prompt_id: str) -> HttpResponse:
    """The answer of a playground run as server-sent events (htmx's SSE extension swaps them into the page)."""
    principal, user_id = await sync_to_async(_who)(request)
    try:
        run = PlaygroundRun.from_token(request.GET.get("run", ""), user_id=user_id)
    except StackAdminError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    return event_stream_response(run_stream(run, principal))
