from __future__ import annotations

from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.apikey_list, name="keys"),
    path("<int:key_id>/revoke/", views.apikey_revoke, name="revoke"),
]
