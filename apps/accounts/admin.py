"""Operators manage API keys (created here and shown once) and users' access attributes."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from apps.accounts import services
from apps.accounts.models import AccessAttributes, APIKey

ATTRIBUTES = ("roles", "teams", "projects", "namespaces")


class AccessAttributesForm(forms.ModelForm):
    """Comma-separated lists in the form, lists of strings in the database."""

    class Meta:
        model = AccessAttributes
        fields = ATTRIBUTES
        widgets = {attr: forms.TextInput(attrs={"size": 60}) for attr in ATTRIBUTES}
        help_texts = {attr: "Comma-separated values." for attr in ATTRIBUTES}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for attr in ATTRIBUTES:
            self.fields[attr] = forms.CharField(
                required=False, help_text="Comma-separated values.", widget=forms.TextInput(attrs={"size": 60})
            )
            if self.instance.pk:
                self.initial[attr] = ", ".join(getattr(self.instance, attr) or [])

    def _clean_list(self, attr):
        raw = self.cleaned_data.get(attr) or ""
        return list(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))

    def clean(self):
        cleaned = super().clean()
        for attr in ATTRIBUTES:
            cleaned[attr] = self._clean_list(attr)
        return cleaned


class AccessAttributesInline(admin.StackedInline):
    model = AccessAttributes
    form = AccessAttributesForm
    can_delete = False
    verbose_name_plural = "access attributes (compared by the access policy)"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StackAdminUserAdmin(UserAdmin):
    inlines = [AccessAttributesInline]


class APIKeyCreateForm(forms.ModelForm):
    class Meta:
        model = APIKey
        fields = ("user", "name")


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_keys"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = APIKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("user", "name") if obj is None else ("user", "name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("user", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = services.api_key_create(user=form.cleaned_data["user"], name=form.cleaned_data.get("name") or "")
        obj.pk = key.pk
        obj.__dict__.update(key.__dict__)
        messages.warning(request, f"New API key for {key.user}: {raw} — copy it now, it will not be shown again.")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead, so the key's history stays visible

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key_id=key.pk)
        messages.success(request, f"Revoked {queryset.count()} key(s).")
