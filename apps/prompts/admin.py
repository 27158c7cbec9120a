"""Operators' view of prompts. Prompts live in the KV store, so the changelist and change pages are custom views
over the prompts selectors, and every action (set default, delete) goes through the prompts services.

Operators (staff with the model permissions) see and manage every prompt: the admin calls the services without a
principal, so the access policy, which governs API keys and the dashboard, does not hide anything here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.errors import StackAdminError
from apps.prompts import presenters, selectors, services
from apps.prompts.models import Prompt
from apps.prompts.records import PromptVersion

PAGE_SIZE = 50


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
                version = int(request.POST.get("version", ""))
                services.prompt_version_set_default(prompt_id=prompt_id, version=version)
                messages.success(request, f"Version {version} is now the default of {prompt_id}.")
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
        context = self._context(
            request,
            title=f"Prompt {prompt_id}",
            prompt_id=prompt_id,
            versions=[_shown(v) for v in reversed(versions)],
            default=next((v for v in versions if v.is_default), None),
            can_change=self.has_change_permission(request),
            can_delete=self.has_delete_permission(request),
        )
        return TemplateResponse(request, "admin/prompts/prompt/change_form.html", context)

    def delete_view(self, request, object_id=None, extra_context=None, prompt_id=None):
        prompt_id = prompt_id or object_id
        if not self.has_delete_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                services.prompt_delete(prompt_id=prompt_id)
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
