"""The prompts dashboard, mounted at /dashboard/ (with the dashboard's login and logout pages)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from apps.prompts import replay_views, response_views, views

app_name = "prompts"

urlpatterns = [
    path("", views.prompt_list, name="list"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("new/", views.prompt_create, name="create"),
    path("analyze/", views.template_analyze, name="analyze"),
    path("check-settings/", views.settings_check, name="check_settings"),
    path("models/", views.model_options, name="models"),
    path("activity/", views.prompt_activity, name="activity"),
    path("import/", views.prompt_import, name="import"),
    path("export/", views.prompt_export, name="export"),
    path("responses/", response_views.response_list, name="responses"),
    path("responses/<str:response_id>/", response_views.response_detail, name="response_detail"),
    path("<str:prompt_id>/", views.prompt_detail, name="detail"),
    path("<str:prompt_id>/edit/", views.prompt_edit, name="edit"),
    path("<str:prompt_id>/edit/notice/", views.prompt_edit_notice, name="edit_notice"),
    path("<str:prompt_id>/diff/", views.prompt_diff, name="diff"),
    path("<str:prompt_id>/delete/", views.prompt_delete, name="delete"),
    path("<str:prompt_id>/versions/<int:version>/default/", views.prompt_version_set_default, name="set_default"),
    path("<str:prompt_id>/versions/<int:version>/preview/", views.prompt_version_preview, name="preview"),
    path("<str:prompt_id>/versions/<int:version>/run/", views.prompt_version_run, name="run"),
    path("<str:prompt_id>/run-stream/", views.prompt_run_stream, name="run_stream"),
    path("<str:prompt_id>/versions/<int:version>/delete/", views.prompt_version_delete, name="version_delete"),
    path("<str:prompt_id>/versions/<int:version>/labels/", views.prompt_label_move, name="label_move"),
    path("<str:prompt_id>/labels/<str:label>/remove/", views.prompt_label_remove, name="label_remove"),
    path("<str:prompt_id>/replays/", replay_views.prompt_replays, name="replays"),
    path("<str:prompt_id>/replays/<str:run_id>/", replay_views.replay_detail, name="replay_detail"),
    path("<str:prompt_id>/replays/<str:run_id>/cancel/", replay_views.replay_cancel, name="replay_cancel"),
    path("<str:prompt_id>/replays/<str:run_id>/delete/", replay_views.replay_delete, name="replay_delete"),
]
