"""The admin over conversations: read-only pages, items inline, deletion through the services."""

from __future__ import annotations

from django.urls import reverse

import pytest

from apps.conversations import admin as conversations_admin
from apps.conversations import services
from apps.conversations.models import Conversation, ConversationItem

pytestmark = pytest.mark.django_db


def msg(text: str) -> dict:
    return {"type": "message", "role": "user", "content": text}


def test_changelist_and_read_only_change_page_with_items_inline(admin_client):
    conversation = services.conversation_create(items=[msg("first words"), msg("second")], metadata={"topic": "t"})
    listing = admin_client.get(reverse("admin:conversations_conversation_changelist"))
    assert listing.status_code == 200
    assert conversation.public_id in listing.content.decode()
    page = admin_client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "first words" in html
    assert "second" in html
    assert 'name="_save"' not in html  # view-only: nothing to save
    assert reverse("admin:conversations_conversationitem_changelist") in html
    assert reverse("admin:conversations_conversation_add") not in html


def test_inline_shows_only_the_first_items(admin_client):
    conversation = services.conversation_create(items=[msg(f"m{i:03d}") for i in range(110)])
    html = admin_client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk])).content.decode()
    shown = conversations_admin.INLINE_ITEMS_SHOWN
    assert f"m{shown - 1:03d}" in html
    assert f"m{shown:03d}" not in html
    assert "110 (" in html  # the full count, with a link to the paginated item list


def test_item_list_filters_by_conversation(admin_client):
    one = services.conversation_create(items=[msg("in one")])
    services.conversation_create(items=[msg("in other")])
    url = reverse("admin:conversations_conversationitem_changelist") + f"?conversation__id__exact={one.pk}"
    html = admin_client.get(url).content.decode()
    assert "in one" in html
    assert "in other" not in html


def test_delete_goes_through_the_service_and_takes_the_items(admin_client):
    doomed = services.conversation_create(items=[msg(str(i)) for i in range(3)])
    kept = services.conversation_create(items=[msg("kept")])
    url = reverse("admin:conversations_conversation_delete", args=[doomed.pk])
    confirm = admin_client.get(url).content.decode()
    assert "3 items" in confirm
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]
    assert ConversationItem.objects.count() == 1


def test_bulk_delete_action(admin_client):
    conversations = [services.conversation_create(items=[msg("x")]) for _ in range(3)]
    response = admin_client.post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "delete_selected", "_selected_action": [c.pk for c in conversations[:2]], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(Conversation.objects.values_list("pk", flat=True)) == [conversations[2].pk]
    assert ConversationItem.objects.count() == 1


def test_item_delete_from_the_admin(admin_client):
    conversation = services.conversation_create(items=[msg("a"), msg("b")])
    item = ConversationItem.objects.get(conversation=conversation, sequence=1)
    response = admin_client.post(
        reverse("admin:conversations_conversationitem_delete", args=[item.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert list(ConversationItem.objects.values_list("sequence", flat=True)) == [2]
