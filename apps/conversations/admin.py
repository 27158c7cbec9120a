"""Operators browse conversations read-only; deleting goes through the services like every other way in.

Operators see and manage every conversation: the admin calls the services without a principal, so the access
policy, which governs API keys and the dashboard, hides nothing here (as in the prompts admin)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from apps.conversations import services
from apps.conversations.models import Conversation, ConversationItem

INLINE_ITEMS_SHOWN = 100


def _preview(data: object, chars: int = 160) -> str:
    return Truncator(json.dumps(data, ensure_ascii=False)).chars(chars)


class _FirstItemsFormSet(BaseInlineFormSet):
    """Only the first items: a conversation can hold 100,000 of them, and inlines do not paginate."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[:INLINE_ITEMS_SHOWN]
        return self._queryset


class ConversationItemInline(admin.TabularInline):
    model = ConversationItem
    formset = _FirstItemsFormSet
    fields = ("sequence", "public_id", "type", "content")
    readonly_fields = fields
    ordering = ("sequence",)
    extra = 0
    can_delete = False
    verbose_name_plural = f"items (the first {INLINE_ITEMS_SHOWN}; the item list shows them all)"

    @admin.display(description="item")
    def content(self, obj: ConversationItem) -> str:
        return _preview(obj.data, 300)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _deleted_summary(modeladmin, request, conversations: list[Conversation]):
    """The delete confirmation lists counts, not every one of possibly 100,000 items."""
    counts = dict(
        ConversationItem.objects.filter(conversation__in=conversations)
        .values("conversation")
        .annotate(n=Count("pk"))
        .values_list("conversation", "n")
    )
    listed: list = []
    for conversation in conversations:
        n = counts.get(conversation.pk, 0)
        listed += [f"Conversation: {conversation.public_id}", [f"{n} item{'' if n == 1 else 's'}"]]
    model_count = {
        Conversation._meta.verbose_name_plural: len(conversations),
        ConversationItem._meta.verbose_name_plural: sum(counts.values()),
    }
    perms_needed = set() if modeladmin.has_delete_permission(request) else {Conversation._meta.verbose_name}
    return listed, model_count, perms_needed, []


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("public_id", "created_at", "metadata_preview", "owner_principal")
    list_filter = ("created_at",)
    search_fields = ("=public_id", "owner_principal")
    ordering = ("-pk",)
    fields = ("public_id", "created_at", "metadata", "owner_principal", "access_attributes", "item_count")
    readonly_fields = fields
    inlines = (ConversationItemInline,)
    show_full_result_count = False

    @admin.display(description="metadata")
    def metadata_preview(self, obj: Conversation) -> str:
        return _preview(obj.metadata, 80) if obj.metadata else "—"

    @admin.display(description="items")
    def item_count(self, obj: Conversation):
        n = obj.items.count()
        url = reverse("admin:conversations_conversationitem_changelist") + f"?conversation__id__exact={obj.pk}"
        return format_html('{} (<a href="{}">list them</a>)', n, url)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_deleted_objects(self, objs, request):
        return _deleted_summary(self, request, list(objs))

    def delete_model(self, request, obj: Conversation) -> None:
        services.conversation_delete(conversation_id=obj.public_id)

    def delete_queryset(self, request, queryset) -> None:
        for public_id in queryset.values_list("public_id", flat=True):
            services.conversation_delete(conversation_id=public_id)


@admin.register(ConversationItem)
class ConversationItemAdmin(admin.ModelAdmin):
    list_display = ("public_id", "conversation", "sequence", "type", "created_at", "content")
    list_filter = ("type",)
    search_fields = ("=public_id", "=conversation__public_id")
    list_select_related = ("conversation",)
    ordering = ("conversation", "sequence")
    fields = ("public_id", "conversation", "sequence", "type", "created_at", "owner_principal", "pretty_data")
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="item")
    def content(self, obj: ConversationItem) -> str:
        return _preview(obj.data)

    @admin.display(description="data")
    def pretty_data(self, obj: ConversationItem):
        return format_html("<pre>{}</pre>", json.dumps(obj.data, ensure_ascii=False, indent=2))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj: ConversationItem) -> None:
        services.conversation_item_delete(conversation_id=obj.conversation.public_id, item_id=obj.public_id)

    def delete_queryset(self, request, queryset) -> None:
        for conversation_id, item_id in queryset.values_list("conversation__public_id", "public_id"):
            services.conversation_item_delete(conversation_id=conversation_id, item_id=item_id)
