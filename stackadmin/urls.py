from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from stackadmin.api import api
from stackadmin.observability import metrics_view

admin.site.site_header = "stackadmin"
admin.site.site_title = "stackadmin admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    path("dashboard/keys/", include("apps.accounts.urls")),
    path("dashboard/", include("apps.prompts.urls")),
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
]
