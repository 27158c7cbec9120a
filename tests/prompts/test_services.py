"""Prompt services and selectors, in-process, on the SQLite KV backend."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.core.errors import BadRequestError, ConflictError, NotFoundError
from apps.core.principal import Principal
from apps.prompts import selectors, services
from apps.prompts.keys import GENERATION_KEY, default_key, version_key
from apps.prompts.records import PromptVersion, encode_record
from apps.storage import kv
from apps.storage.kv import kv_store

pytestmark = pytest.mark.usefixtures("prompts_backend")


def snapshot() -> list[tuple[str, str]]:
    return [(k, v) for k, v in kv_store("prompts").items_in_range("prompts:", "prompts:\xff")]


def test_create_writes_version_one_and_default_pointer():
    p = services.prompt_create(text="Hello {{ name }}", variables=["name"], message="first")
    assert p.prompt_id.startswith("pmpt_")
    assert len(p.prompt_id) == 53
    assert p.version == 1
    assert p.is_default is True
    assert p.message == "first"
    store = kv_store("prompts")
    assert store.get(default_key(p.prompt_id)) == "1"
    assert store.get(version_key(p.prompt_id, 1)) is not None
    got = selectors.prompt_get(prompt_id=p.prompt_id)
    assert got.prompt == "Hello {{ name }}"
    assert got.is_default is True
    assert got.variables == ["name"]


def test_update_claims_latest_plus_one_and_moves_default():
    p = services.prompt_create(text="v1", variables=[])
    v2 = services.prompt_update(prompt_id=p.prompt_id, text="v2 {{ a }}", variables=["a"], version=1)
    assert v2.version == 2
    assert v2.is_default is True
    v3 = services.prompt_update(prompt_id=p.prompt_id, text="v3", version=2, set_as_default=False)
    assert v3.version == 3
    assert v3.is_default is False
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 2
    versions = selectors.prompt_versions_list(prompt_id=p.prompt_id)
    assert [(v.version, v.is_default) for v in versions] == [(1, False), (2, True), (3, False)]
    assert versions[0].variables == []
    assert versions[1].variables == ["a"]  # replaced, not inherited


def test_stale_update_is_a_conflict_naming_the_latest():
    p = services.prompt_create(text="v1")
    services.prompt_update(prompt_id=p.prompt_id, text="v2", version=1)
    before = snapshot()
    with pytest.raises(ConflictError) as info:
        services.prompt_update(prompt_id=p.prompt_id, text="other", version=1)
    assert info.value.status_code == 409
    assert "the latest is 2" in info.value.message
    assert snapshot() == before


def test_is_default_follows_the_pointer_everywhere():
    p = services.prompt_create(text="one")
    services.prompt_update(prompt_id=p.prompt_id, text="two", version=1)
    moved = services.prompt_version_set_default(prompt_id=p.prompt_id, version=1)
    assert moved.version == 1
    assert moved.is_default is True
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 1
    assert selectors.prompt_get(prompt_id=p.prompt_id, version=2).is_default is False
    assert selectors.prompt_get(prompt_id=p.prompt_id, version=1).is_default is True
    listed = selectors.prompt_list().data
    assert [(s.prompt_id, s.default.version, s.default.is_default) for s in listed] == [(p.prompt_id, 1, True)]
    assert listed[0].latest_version == 2


def test_not_found_and_bad_versions():
    missing = "pmpt_" + "0" * 48
    with pytest.raises(NotFoundError):
        selectors.prompt_get(prompt_id=missing)
    p = services.prompt_create(text="x")
    with pytest.raises(NotFoundError, match="no version 7"):
        selectors.prompt_get(prompt_id=p.prompt_id, version=7)
    for bad in (0, -1):
        with pytest.raises(BadRequestError):
            selectors.prompt_get(prompt_id=p.prompt_id, version=bad)
    with pytest.raises(NotFoundError):
        services.prompt_version_set_default(prompt_id=p.prompt_id, version=9)
    with pytest.raises(NotFoundError):
        services.prompt_update(prompt_id=missing, text="x", version=1)
    with pytest.raises(BadRequestError, match="pmpt_"):
        selectors.prompt_get(prompt_id="../../etc/passwd")
    with pytest.raises(BadRequestError):
        selectors.prompt_get(prompt_id="pmpt_x:1:default")


def test_delete_removes_every_key():
    p = services.prompt_create(text="a")
    services.prompt_update(prompt_id=p.prompt_id, text="b", version=1)
    keep = services.prompt_create(text="keep")
    services.prompt_delete(prompt_id=p.prompt_id)
    assert not any(p.prompt_id in k for k, _ in snapshot())
    assert [s.prompt_id for s in selectors.prompt_list().data] == [keep.prompt_id]
    with pytest.raises(NotFoundError):
        services.prompt_delete(prompt_id=p.prompt_id)


@pytest.mark.parametrize(
    ("text", "variables", "fragment"),
    [
        ("Hi {{ name }}", [], "undeclared variables: ['name']"),
        ("Hi {{ b }} {{ a }}", ["c"], "undeclared variables: ['a', 'b']"),
        ("Hi {{ name", ["name"], "malformed placeholder"),
        ("Hi {{ }}", [], "malformed placeholder"),
        ("Hi {{ two words }}", [], "malformed placeholder"),
        ("Hi {{ name }}", ["na-me"], "not a valid variable name"),
        ("Hi {{ name }}", ["1name"], "not a valid variable name"),
        ("Hi {{ 1x }}", [], "placeholder {{ 1x }} uses an invalid variable name"),
        ("Hi", ["ok", "with space"], "not a valid variable name"),
        ("", [], "empty"),
        ("x" * 1_000_000, [], "over the limit"),
    ],
)
def test_bad_templates_are_rejected_and_write_nothing(text, variables, fragment):
    before = snapshot()
    with pytest.raises(BadRequestError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        services.prompt_create(text=text, variables=variables)
    assert snapshot() == before


def test_declared_but_unused_variables_and_unicode_are_fine():
    text = "Bonjour {{ prénom }} 🎉 — {{name}}"
    p = services.prompt_create(text=text, variables=["name", "prénom", "unused", "name"])
    assert p.variables == ["name", "prénom", "unused"]
    assert selectors.prompt_get(prompt_id=p.prompt_id).prompt == text


def test_list_is_newest_first_with_cursor_paging():
    ids = [services.prompt_create(text=f"p{i}").prompt_id for i in range(5)]
    page = selectors.prompt_list(limit=2)
    assert [s.prompt_id for s in page.data] == ids[::-1][:2]
    assert page.has_more
    page2 = selectors.prompt_list(limit=2, after=page.last_id)
    assert [s.prompt_id for s in page2.data] == ids[::-1][2:4]
    assert page2.has_more
    page3 = selectors.prompt_list(limit=2, after=page2.last_id)
    assert [s.prompt_id for s in page3.data] == ids[::-1][4:]
    assert not page3.has_more
    assert [s.prompt_id for s in selectors.prompt_list(order="asc").data] == ids
    with pytest.raises(BadRequestError):
        selectors.prompt_list(after="pmpt_" + "f" * 48)


def test_search_matches_id_and_text():
    a = services.prompt_create(text="Summarise the ticket")
    services.prompt_create(text="Translate to French")
    assert [s.prompt_id for s in selectors.prompt_list(query="TICKET").data] == [a.prompt_id]
    assert [s.prompt_id for s in selectors.prompt_list(query=a.prompt_id[5:20]).data] == [a.prompt_id]


def test_list_index_is_rebuilt_when_another_process_changes_the_generation():
    first = services.prompt_create(text="one")
    assert [s.prompt_id for s in selectors.prompt_list().data] == [first.prompt_id]
    # Another worker process writes a prompt to the shared store, in the batch shape the service uses.
    other = PromptVersion(prompt_id="pmpt_" + "a" * 48, prompt="two", version=1, variables=[], created_at=time.time())
    store = kv_store("prompts")
    store.write_batch({version_key(other.prompt_id, 1): encode_record(other), default_key(other.prompt_id): "1"})
    # Without a generation change this process keeps serving its index (it is a real cache) ...
    assert [s.prompt_id for s in selectors.prompt_list().data] == [first.prompt_id]
    # ... and the generation change that accompanies every service write makes it rebuild.
    store.set(GENERATION_KEY, "changed-elsewhere")
    assert [s.prompt_id for s in selectors.prompt_list().data] == [other.prompt_id, first.prompt_id]


def test_author_and_owner_are_recorded():
    alice = Principal("alice", {"teams": ["a"]})
    p = services.prompt_create(text="x", principal=alice)
    assert p.created_by == "alice"
    assert p.owner_principal == "alice"
    again = selectors.prompt_get(prompt_id=p.prompt_id)
    assert again.owner_principal == "alice"
    assert again.access_attributes == {"teams": ["a"]}
    v2 = services.prompt_update(prompt_id=p.prompt_id, text="y", version=1, created_by="bob (dashboard)")
    assert v2.created_by == "bob (dashboard)"


def test_changes_publish_events():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.EVENTS_GROUP, channel)
    try:
        p = services.prompt_create(text="x")
        services.prompt_update(prompt_id=p.prompt_id, text="y", version=1)
        services.prompt_version_set_default(prompt_id=p.prompt_id, version=1)
        services.prompt_delete(prompt_id=p.prompt_id)
        kinds = [async_to_sync(layer.receive)(channel)["event"]["kind"] for _ in range(4)]
        assert kinds == ["created", "version_created", "default_changed", "deleted"]
    finally:
        async_to_sync(layer.group_discard)(services.EVENTS_GROUP, channel)


def test_latest_version_is_found_past_a_lagging_default():
    p = services.prompt_create(text="v1")
    for version in range(1, 7):
        services.prompt_update(prompt_id=p.prompt_id, text=f"v{version + 1}", version=version, set_as_default=False)
    services.prompt_version_set_default(prompt_id=p.prompt_id, version=2)
    assert selectors.latest_version(p.prompt_id) == 7
    with pytest.raises(ConflictError, match="the latest is 7"):
        services.prompt_update(prompt_id=p.prompt_id, text="stale", version=6)
    assert services.prompt_update(prompt_id=p.prompt_id, text="v8", version=7).version == 8


# ------------------------------------------------------------------------------------------ rendering
def test_render_uses_the_default_version_unless_one_is_named():
    p = services.prompt_create(text="Hi {{ name }}", variables=["name"])
    services.prompt_update(prompt_id=p.prompt_id, text="Bye {{ name }}", variables=["name"], version=1)
    default = selectors.prompt_render(prompt_id=p.prompt_id, variables={"name": "Ada"})
    assert default.prompt.version == 2
    assert default.text == "Bye Ada"
    pinned = selectors.prompt_render(
        prompt_id=p.prompt_id, version=1, variables={"name": {"type": "input_text", "text": "Bo"}}
    )
    assert pinned.prompt.version == 1
    assert pinned.text == "Hi Bo"
    assert pinned.media == {}


def test_render_checks_the_variables_against_the_declared_ones():
    p = services.prompt_create(text="{{ a }} {{ b }}", variables=["a", "b"])
    with pytest.raises(BadRequestError) as unknown:
        selectors.prompt_render(prompt_id=p.prompt_id, variables={"a": "1", "b": "2", "c": "3"})
    assert unknown.value.code == "unknown_variable"
    assert unknown.value.param == "variables.c"
    with pytest.raises(BadRequestError) as missing:
        selectors.prompt_render(prompt_id=p.prompt_id, variables={"b": "2"}, param="prompt.variables")
    assert missing.value.code == "missing_variable"
    assert missing.value.param == "prompt.variables.a"
    assert "Missing value for prompt variable 'a' of prompt" in missing.value.message
    preview = selectors.prompt_render(prompt_id=p.prompt_id, variables={"b": "2"}, allow_missing=True)
    assert preview.text == "{{ a }} 2"
    assert preview.rendering.missing == ["a"]


def test_render_hands_back_image_and_file_values():
    p = services.prompt_create(text="See {{ photo }} and {{ doc }}", variables=["photo", "doc"])
    image = {"type": "input_image", "image_url": "https://example.com/cat.png"}
    document = {"type": "input_file", "file_data": "data:text/plain;base64,aGk="}
    rendered = selectors.prompt_render(prompt_id=p.prompt_id, variables={"doc": document, "photo": image})
    assert rendered.text == "See [Image: photo] and [File: doc]"
    assert list(rendered.media.items()) == [("doc", document), ("photo", image)]


def test_render_of_an_invisible_prompt_is_not_found(settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    alice = Principal("alice")
    p = services.prompt_create(text="private", principal=alice)
    with pytest.raises(NotFoundError):
        selectors.prompt_render(prompt_id=p.prompt_id, variables={}, principal=Principal("bob"))
    assert selectors.prompt_render(prompt_id=p.prompt_id, variables={}, principal=alice).text == "private"


def test_another_users_prompt_reads_what_a_missing_one_does(settings, monkeypatch):
    """Listing versions decides visibility before it reads the versions: bob asking for alice's prompt of many
    versions reads the same two keys he reads for an id that does not exist, so the time taken does not tell him
    that the prompt exists."""
    monkeypatch.setitem(kv._BACKEND_CLASSES, "kv_sqlite", "tests.support.kv.ReadLoggingSqliteKVStore")
    settings.STACKADMIN_AUTH_ENABLED = True
    alice, bob = Principal("alice"), Principal("bob")
    p = services.prompt_create(text="private " * 1000, principal=alice)
    for version in range(1, 20):
        text = f"private {version} " * 1000
        services.prompt_update(prompt_id=p.prompt_id, text=text, version=version, principal=alice)
    missing = "pmpt_" + "0" * 48
    store = kv_store("prompts")
    reads = {}
    for prompt_id in (p.prompt_id, missing):
        store.reads.clear()
        with pytest.raises(NotFoundError) as info:
            selectors.prompt_versions_list(prompt_id=prompt_id, principal=bob)
        assert info.value.message == f"Prompt '{prompt_id}' not found."
        reads[prompt_id] = [(method, key.replace(prompt_id, "<id>"), found) for method, key, found in store.reads]
    assert [read[:2] for read in reads[p.prompt_id]] == [read[:2] for read in reads[missing]]
    assert [read[:2] for read in reads[missing]] == [("get", "prompts:v1:<id>:1"), ("get", "prompts:v1:<id>:default")]
    assert sum(found for *_, found in reads[p.prompt_id]) == 2  # her first version and pointer, not her twenty
    assert len(selectors.prompt_versions_list(prompt_id=p.prompt_id, principal=alice)) == 20


def test_the_global_history_is_read_again_after_every_write():
    """Each process keeps the decoded history while the store's generation stays; any write changes it."""
    from dataclasses import replace

    from apps.prompts.keys import history_keys, new_history_stamp
    from apps.prompts.records import encode_history

    p = services.prompt_create(text="one")
    first = selectors.prompts_history(limit=100).data
    assert selectors.prompts_history(limit=100).data == first
    services.prompt_label_move(prompt_id=p.prompt_id, label="beta", version=1)
    assert [e.action for e in selectors.prompts_history(limit=100).data] == ["label_moved", "created"]
    # A write by another process, as it reaches the store: an entry and a new generation in one batch.
    stamp = new_history_stamp()
    entry = replace(first[0], id=f"phe_{stamp.replace('-', '')}", action="label_removed", label="beta")
    keys = dict.fromkeys(history_keys(p.prompt_id, stamp), encode_history(entry))
    kv_store("prompts").write_batch({**keys, GENERATION_KEY: "from-elsewhere"})
    assert [e.action for e in selectors.prompts_history(limit=100).data] == ["label_removed", "label_moved", "created"]
