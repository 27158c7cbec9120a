"""The text and nesting rules of every `/v1` request (apps/core/text.py), in-process: text no store can hold
(lone surrogates, NUL), numbers JSON has not (NaN, Infinity) and nesting past 64 levels are a 400 naming the field,
and nothing is stored."""

from __future__ import annotations

import json
import math

import pytest

from apps.conversations.models import Conversation, ConversationItem
from apps.core.errors import BadRequestError
from apps.core.text import MAX_JSON_DEPTH, loads, scrubbed
from apps.files.models import File

JSON = {"content-type": "application/json"}


def raw(body: object) -> bytes:
    """`body` as JSON text with `\\u` escapes, which is how a client spells a lone surrogate; NaN as `NaN`."""
    return json.dumps(body).encode()


def error_of(response) -> dict:
    return response.json()["error"]


def message(text: str, **extra) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}], **extra}


def nested(depth: int, leaf: object = "x") -> object:
    """`leaf` inside `depth` objects."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


async def new_conversation(v1) -> str:
    response = await v1.post("/v1/conversations", json={"items": [message("first")]})
    assert response.status_code == 200
    return response.json()["id"]


# ------------------------------------------------------------------------------------------ conversations
@pytest.mark.parametrize(
    ("metadata", "param", "code"),
    [
        ({"k\udc80": "v"}, "metadata.k\\udc80", "invalid_unicode"),
        ({"k": "v\udc80"}, "metadata.k", "invalid_unicode"),
        ({"k\x00": "v"}, "metadata.k\\x00", "invalid_null_character"),
        ({"k": "v\x00"}, "metadata.k", "invalid_null_character"),
    ],
)
async def test_unstorable_metadata_is_a_400_and_no_conversation_is_created(v1, metadata, param, code):
    response = await v1.post("/v1/conversations", content=raw({"metadata": metadata}), headers=JSON)
    assert response.status_code == 400
    assert error_of(response)["param"] == param
    assert error_of(response)["code"] == code
    assert await Conversation.objects.acount() == 0


async def test_the_conversation_list_still_reads_after_a_refused_create(v1):
    await v1.post("/v1/conversations", content=raw({"metadata": {"k\udc80": "v"}}), headers=JSON)
    assert (await v1.get("/v1/conversations")).status_code == 200


async def test_unstorable_metadata_on_update_is_a_400_and_the_metadata_is_kept(v1):
    conversation_id = await new_conversation(v1)
    response = await v1.post(
        f"/v1/conversations/{conversation_id}", content=raw({"metadata": {"k": "\udc80"}}), headers=JSON
    )
    assert response.status_code == 400
    assert error_of(response)["param"] == "metadata.k"
    assert (await v1.get(f"/v1/conversations/{conversation_id}")).json()["metadata"] == {}


@pytest.mark.parametrize(
    ("item", "param", "code"),
    [
        (message("bad \udc80 text"), "items[0].content[0].text", "invalid_unicode"),
        (message("bad \x00 text"), "items[0].content[0].text", "invalid_null_character"),
        (message("x", score=math.nan), "items[0].score", "invalid_number"),
        (message("x", score=math.inf), "items[0].score", "invalid_number"),
        (message("x", score=-math.inf), "items[0].score", "invalid_number"),
    ],
)
async def test_an_unstorable_item_is_a_400_and_nothing_is_added(v1, item, param, code):
    conversation_id = await new_conversation(v1)
    response = await v1.post(f"/v1/conversations/{conversation_id}/items", content=raw({"items": [item]}), headers=JSON)
    assert response.status_code == 400
    assert error_of(response)["param"] == param
    assert error_of(response)["code"] == code
    assert await ConversationItem.objects.acount() == 1
    assert (await v1.get(f"/v1/conversations/{conversation_id}/items")).status_code == 200


async def test_a_number_that_overflows_to_infinity_is_a_400(v1):
    response = await v1.post(
        "/v1/conversations", content=b'{"items": [{"role": "user", "content": "x", "n": 1e999}]}', headers=JSON
    )
    assert response.status_code == 400
    assert error_of(response)["param"] == "items[0].n"
    assert error_of(response)["code"] == "invalid_number"


async def test_nul_in_a_query_parameter_is_a_400(v1):
    response = await v1.get("/v1/conversations", params={"after": "conv_\x00"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "after"
    assert error_of(response)["code"] == "invalid_null_character"


async def test_nul_in_a_path_parameter_is_a_400(v1):
    conversation_id = await new_conversation(v1)
    response = await v1.get(f"/v1/conversations/{conversation_id}/items/msg_%00")
    assert response.status_code == 400
    assert error_of(response)["param"] == "item_id"
    assert error_of(response)["code"] == "invalid_null_character"


# ------------------------------------------------------------------------------------------ prompts
@pytest.mark.parametrize(("text", "code"), [("Hi \udc80", "invalid_unicode"), ("Hi \x00", "invalid_null_character")])
async def test_unstorable_prompt_text_is_a_400_and_no_prompt_is_created(v1, text, code):
    before = (await v1.get("/v1/prompts")).json()["data"]
    response = await v1.post("/v1/prompts", content=raw({"prompt": text}), headers=JSON)
    assert response.status_code == 400
    assert error_of(response)["param"] == "prompt"
    assert error_of(response)["code"] == code
    assert (await v1.get("/v1/prompts")).json()["data"] == before


# ------------------------------------------------------------------------------------------ nesting
async def test_nesting_up_to_the_limit_is_accepted(v1):
    # The body, `items` and the item are three levels: the field may nest the rest.
    item = message("x", extra=nested(MAX_JSON_DEPTH - 3))
    response = await v1.post("/v1/conversations", content=raw({"items": [item]}), headers=JSON)
    assert response.status_code == 200


async def test_nesting_past_the_limit_is_a_400_naming_where(v1):
    item = message("x", extra=nested(MAX_JSON_DEPTH - 2))
    response = await v1.post("/v1/conversations", content=raw({"items": [item]}), headers=JSON)
    assert response.status_code == 400
    assert error_of(response)["code"] == "nesting_too_deep"
    assert error_of(response)["param"] == "items[0].extra" + ".a" * (MAX_JSON_DEPTH - 3)


async def test_nesting_far_past_the_limit_is_the_same_400(v1):
    body = b'{"items": [{"role": "user", "content": "x", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"
    response = await v1.post("/v1/conversations", content=body, headers=JSON)
    assert response.status_code == 400
    assert error_of(response)["code"] == "nesting_too_deep"
    assert await Conversation.objects.acount() == 0


# ------------------------------------------------------------------------------------------ file uploads
@pytest.fixture
def files_storage(tmp_path, settings):
    import dataclasses

    from apps.files.config import FilesConfig

    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        settings.STACKADMIN_RUN_CONFIG, files=FilesConfig(storage_dir=str(tmp_path / "files"))
    )
    return tmp_path / "files"


async def test_a_deeply_nested_expires_after_is_a_400_and_no_file_is_stored(v1, files_storage):
    response = await v1.post(
        "/v1/files",
        files={"file": ("a.txt", b"hello", "text/plain")},
        data={"purpose": "assistants", "expires_after": "[" * 5000 + "]" * 5000},
    )
    assert response.status_code == 400
    assert error_of(response)["param"] == "expires_after"
    assert error_of(response)["code"] == "nesting_too_deep"
    assert await File.objects.acount() == 0


async def test_nan_in_expires_after_is_a_400(v1, files_storage):
    response = await v1.post(
        "/v1/files",
        files={"file": ("a.txt", b"hello", "text/plain")},
        data={"purpose": "assistants", "expires_after": '{"anchor": "created_at", "seconds": NaN}'},
    )
    assert response.status_code == 400
    assert error_of(response)["param"] == "expires_after.seconds"
    assert error_of(response)["code"] == "invalid_number"


# ------------------------------------------------------------------------------------------ model output
def test_model_output_is_scrubbed_of_what_no_store_can_hold():
    answer = {"choices": [{"message": {"content": "a\x00b\udc80c"}, "logprobs": {"x\x00": math.nan}}], "n": 1}
    assert scrubbed(answer) == {
        "choices": [{"message": {"content": "a\ufffdb\ufffdc"}, "logprobs": {"x\ufffd": None}}],
        "n": 1,
    }


def test_scrubbing_walks_deep_output_without_recursion():
    deep = nested(5000, "\x00")
    value = scrubbed(deep)
    for _ in range(5000):
        value = value["a"]
    assert value == "\ufffd"


# ------------------------------------------------------------------------------------------ the decoder's shortcuts
def test_a_surrogate_encoded_in_the_bytes_is_refused():
    with pytest.raises(BadRequestError) as raised:
        loads(b'{"a": "x\xed\xb2\x80"}')
    assert raised.value.param == "a"
    assert raised.value.code == "invalid_unicode"


def test_nul_in_a_utf16_body_is_refused():
    with pytest.raises(BadRequestError) as raised:
        loads('{"a": "x\\u0000"}'.encode("utf-16"))
    assert raised.value.code == "invalid_null_character"


def test_an_escaped_surrogate_pair_is_one_character():
    assert loads(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_many_shallow_containers_are_not_deep():
    assert len(loads(json.dumps({"items": [{"a": [1]} for _ in range(200)]}).encode())["items"]) == 200
