"""Operators browse files read-only, download them, and delete them through the services (bytes included).

Operators see and manage every file: the admin calls the services without a principal, so the access policy,
which governs API keys and the dashboard, hides nothing here (as in the prompts admin)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.errors import StackAdminError
from apps.files import disk, selectors, services
from apps.files.models import File
from apps.files.schemas import content_disposition


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return (("never", "never expires"), ("pending", "expires later"), ("expired", "expired, not yet purged"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "never":
            return queryset.filter(expires_at__isnull=True)
        if self.value() == "pending":
            return queryset.filter(expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ("public_id", "filename", "purpose", "size", "created_at", "expires_at", "download")
    list_filter = ("purpose", ExpiryFilter, "created_at")
    search_fields = ("=public_id", "filename", "owner_principal")
    ordering = ("-pk",)
    fields = (
        "public_id",
        "filename",
        "purpose",
        "size",
        "created_at",
        "expires_at",
        "path",
        "owner_principal",
        "access_attributes",
        "download",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="size", ordering="bytes")
    def size(self, obj: File) -> str:
        return disk.human_size(obj.bytes)

    @admin.display(description="download")
    def download(self, obj: File):
        url = reverse("admin:files_file_download", args=[obj.public_id])
        return format_html('<a href="{}">download</a>', url)

    def get_urls(self):
        return [
            path("<str:file_id>/download/", self.admin_site.admin_view(self.download_view), name="files_file_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, file_id: str):
        """Operators may also fetch files that have expired but are not purged yet."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            file = selectors.file_get(file_id=file_id, include_expired=True)
            handle = selectors.file_open(file)
        except StackAdminError:
            raise Http404("No such file, or its bytes are missing from the file storage.") from None
        response = StreamingHttpResponse(disk.read_chunks(handle), content_type="application/octet-stream")
        response["Content-Length"] = str(file.bytes)
        response["Content-Disposition"] = content_disposition(file.filename)
        return response

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj: File) -> None:
        services.file_delete(file_id=obj.public_id, include_expired=True)

    def delete_queryset(self, request, queryset) -> None:
        for public_id in queryset.values_list("public_id", flat=True):
            services.file_delete(file_id=public_id, include_expired=True)
