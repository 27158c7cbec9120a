"""Operators' view of prompts. Prompts live in the KV store, so the changelist and change pages are custom views
over the prompts selectors, and every action (set the default, move or remove a label, delete) goes through the
prompts services; the prompts' history is a read-only list over the history selector.

Operators (staff with the model permissions) see and manage every prompt: the admin calls the services as an
operator principal (`via="admin"`), which the access policy does not filter. Moving a protected label still needs
`promote`, which an operator holds only as the user they are, and every action is recorded in the history under
their user name."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from apps.accounts.services import principal_for_user
from apps.core.errors import StackAdminError
from apps.core.principal import Principal
from apps.prompts import archives, presenters, selectors, services
from apps.prompts.config import prompts_config
from apps.prompts.forms import AdminImportForm, HistoryFilterForm
from apps.prompts.models import Prompt, PromptHistory
from apps.prompts.records import PromptVersion

PAGE_SIZE = 50


def _operator(request) -> Principal:
    """The staff user as the services see them in the admin: recorded as themselves, via the admin."""
    return principal_for_user(request.user, via="admin", operator=True)


def _shown(version: PromptVersion) -> dict:
    """A version as its change page lists it: the record, its messages (a chat template) and its model settings."""
    return {
        "v": version,
        "messages": presenters.message_views(version.messages) if version.is_chat else [],
        "settings": presenters.setting_rows(version.settings),
    }


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{prefix}_changelist"),
            # CSRF is checked by the view itself, once the upload's size limit is in place.
            path("import/", wrap(csrf_exempt(self.import_view)), name=f"{prefix}_import"),
            path("export/", wrap(self.export_view), name=f"{prefix}_export"),
            path("<str:prompt_id>/change/", wrap(self.change_view), name=f"{prefix}_change"),
            path("<str:prompt_id>/delete/", wrap(self.delete_view), name=f"{prefix}_delete"),
        ]

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.opts, **extra}

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()
        after = request.GET.get("after") or None
        try:
            page = selectors.prompt_list(limit=PAGE_SIZE, after=after, query=query or None)
        except StackAdminError as exc:
            messages.error(request, exc.message)
            page = selectors.prompt_list(limit=PAGE_SIZE, query=query or None)
        context = self._context(request, title="Prompts", page=page, query=query, page_size=PAGE_SIZE)
        return TemplateResponse(request, "admin/prompts/prompt/change_list.html", context)

    def change_view(self, request, object_id=None, form_url="", extra_context=None, prompt_id=None):
        prompt_id = prompt_id or object_id
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            try:
                messages.success(request, self._change(request, prompt_id))
            except ValueError:
                messages.error(request, "Choose a version number.")
            except StackAdminError as exc:
                messages.error(request, exc.message)
            return HttpResponseRedirect(request.path)
        try:
            versions = selectors.prompt_versions_list(prompt_id=prompt_id)
        except StackAdminError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:prompts_prompt_changelist"))
        protected = prompts_config().protected_labels
        labels = sorted((label, v.version) for v in versions for label in v.labels)
        context = self._context(
            request,
            title=f"Prompt {prompt_id}",
            prompt_id=prompt_id,
            versions=[_shown(v) for v in reversed(versions)],
            default=next((v for v in versions if v.is_default), None),
            labels=[{"name": name, "version": number, "protected": name in protected} for name, number in labels],
            label_suggestions=sorted(({name for name, _ in labels} | set(protected)) - {"default"}),
            protected_labels=protected,
            can_change=self.has_change_permission(request),
            can_delete=self.has_delete_permission(request),
        )
        return TemplateResponse(request, "admin/prompts/prompt/change_form.html", context)

    def _change(self, request, prompt_id: str) -> str:
        """Carry out the change form's action (set the default, move or remove a label) through the services, as
        the operator; what was done, said for the page."""
        action = request.POST.get("action", "set_default")
        operator = _operator(request)
        label = request.POST.get("label", "").strip()
        message = request.POST.get("message", "").strip() or None
        if action == "remove_label":
            services.prompt_label_remove(prompt_id=prompt_id, label=label, principal=operator, message=message)
            return f"Removed the label '{label}' of {prompt_id}."
        version = int(request.POST.get("version", ""))
        if action == "move_label":
            services.prompt_label_move(
                prompt_id=prompt_id, label=label, version=version, principal=operator, message=message
            )
            return f"The label '{label}' of {prompt_id} now points at version {version}."
        services.prompt_version_set_default(prompt_id=prompt_id, version=version, principal=operator, message=message)
        return f"Version {version} is now the default of {prompt_id}."

    # -------------------------------------------------------------------------------------- import / export
    def export_view(self, request):
        """Every prompt (or those the search shows, or the `prompt` ids ticked in the list) as a download in the
        format of `stackadmin prompts export`, streamed."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        ids = request.GET.getlist("prompt")
        if request.GET.get("selected") and not ids:
            messages.error(request, "Tick the prompts to export first.")
            return HttpResponseRedirect(reverse("admin:prompts_prompt_changelist"))
        query = request.GET.get("q", "").strip()
        try:
            dumps = selectors.prompts_dump_for(principal=_operator(request), query=query or None, ids=ids or None)
        except StackAdminError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:prompts_prompt_changelist"))
        return archives.archive_download(dumps)

    def import_view(self, request):
        """The dashboard's Import page for operators: the archive's owners may be kept (as the command keeps
        them), and every prompt may be added to; "Preview" is a dry run, "Import" does it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._import_page(request, AdminImportForm())
        refusal = archives.limit_upload(request)  # before anything reads the body (the CSRF check would)
        if refusal:
            return self._import_page(request, AdminImportForm(), error=refusal, status=413)
        return csrf_protect(self._import_submit)(request)

    def _import_submit(self, request):
        form = AdminImportForm(request.POST, request.FILES)
        refusal = archives.upload_exceeded(request)
        if refusal or not form.is_valid():
            return self._import_page(request, form, error=refusal, status=413 if refusal else 400)
        data = form.cleaned_data
        with archives.saved_upload(data["archive"]) as (root, path):
            report = services.prompts_import(
                paths=[path],
                skip_invalid=data["skip_invalid"],
                on_conflict=data["on_conflict"],
                owner=None if data["keep_owners"] else request.user.get_username(),
                principal=_operator(request),
                dry_run=form.dry_run,
                root=root,
            )
        return self._import_page(request, form, report=report, file_name=path.name, rechoose=not request.htmx)

    def _import_page(self, request, form, *, status: int = 200, **extra):
        context = self._context(
            request, title="Import prompts", form=form, limit=settings.STACKADMIN_IMPORT_MAX_BYTES, **extra
        )
        template = "admin/prompts/prompt/import.html"
        if request.htmx and not request.htmx.history_restore_request:
            template += "#import-result"
        return TemplateResponse(request, template, context, status=status)

    def delete_view(self, request, object_id=None, extra_context=None, prompt_id=None):
        prompt_id = prompt_id or object_id
        if not self.has_delete_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                services.prompt_delete(prompt_id=prompt_id, principal=_operator(request))
                messages.success(request, f"Deleted prompt {prompt_id} and all its versions.")
            except StackAdminError as exc:
                messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:prompts_prompt_changelist"))
        try:
            versions = selectors.prompt_versions_list(prompt_id=prompt_id)
        except StackAdminError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:prompts_prompt_changelist"))
        context = self._context(request, title="Delete prompt?", prompt_id=prompt_id, version_count=len(versions))
        return TemplateResponse(request, "admin/prompts/prompt/delete_confirmation.html", context)


@admin.register(PromptHistory)
class PromptHistoryAdmin(admin.ModelAdmin):
    """Every prompt's history, newest first, filtered like the dashboard's Activity page. Entries are records of
    what happened: no one adds, changes or deletes them, here or anywhere."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=f"{prefix}_changelist")]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = HistoryFilterForm(request.GET)
        after = request.GET.get("after") or None
        page = None
        if form.is_valid():
            try:
                page = selectors.prompts_history(
                    filters=form.filters(), limit=PAGE_SIZE, after=after, principal=_operator(request)
                )
            except StackAdminError as exc:
                messages.error(request, exc.message)
        existing = selectors.prompt_index().by_id
        rows = [{"entry": e, "exists": e.prompt_id in existing} for e in (page.data if page else [])]
        context = self._context(request, title="Prompt history", form=form, page=page, rows=rows, after=after)
        return TemplateResponse(request, "admin/prompts/prompthistory/change_list.html", context)

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.opts, **extra}
