"""Run by test_llama_stack_client.py under Python >= 3.12 with llama-stack-client installed (it needs 3.12).

Exercises every `client.prompts.*` call against the server given as argv[1]; exits non-zero on any mismatch.
"""

import sys

import llama_stack_client
from llama_stack_client import LlamaStackClient

client = LlamaStackClient(base_url=sys.argv[1], max_retries=0)

created = client.prompts.create(prompt="Hello {{ name }}, welcome to {{ place }}", variables=["name", "place"])
assert created.prompt_id.startswith("pmpt_"), created
assert created.version == 1, created
assert created.is_default, created
pid = created.prompt_id

got = client.prompts.retrieve(pid)
assert got.prompt == "Hello {{ name }}, welcome to {{ place }}", got
assert got.variables == ["name", "place"], got

v2 = client.prompts.update(pid, prompt="Hi {{ name }}", variables=["name"], version=1)
assert v2.version == 2, v2
assert v2.is_default, v2
v3 = client.prompts.update(pid, prompt="Hey {{ name }}", variables=["name"], version=2, set_as_default=False)
assert v3.version == 3, v3
assert not v3.is_default, v3

versions = client.prompts.versions.list(pid)
assert [(v.version, v.is_default) for v in versions] == [(1, False), (2, True), (3, False)], versions

assert client.prompts.retrieve(pid, version=1).prompt.startswith("Hello"), "version=1"
moved = client.prompts.set_default_version(pid, version=3)
assert moved.version == 3, moved
assert moved.is_default, moved
listed = [p for p in client.prompts.list() if p.prompt_id == pid]
assert [(p.version, p.is_default) for p in listed] == [(3, True)], listed

try:
    client.prompts.update(pid, prompt="stale", version=1)
    raise AssertionError("a stale update must fail")
except llama_stack_client.ConflictError as exc:
    assert "latest is 3" in str(exc), exc

client.prompts.delete(pid)
try:
    client.prompts.retrieve(pid)
    raise AssertionError("a deleted prompt must be gone")
except llama_stack_client.NotFoundError:
    pass

# A chat prompt with model settings (an OpenAI prompt object) reads without error: the template shows as `prompt`
# text, and its messages and settings come along as extra fields.
import httpx  # noqa: E402  (llama-stack-client cannot create one: it knows only `prompt` text)

chat = httpx.post(
    sys.argv[1] + "/v1/prompts",
    json={
        "messages": [
            {"role": "system", "content": "You help {{ company }}."},
            {"role": "user", "content": [{"type": "input_text", "text": "I am {{ name }}."}]},
        ],
        "variables": ["company", "name"],
        "model": "gpt-5",
        "temperature": 0.2,
    },
).json()
read = client.prompts.retrieve(chat["prompt_id"])
assert read.prompt == "[system]\nYou help {{ company }}.\n\n[user]\nI am {{ name }}.", read
assert read.variables == ["company", "name"], read
assert read.to_dict()["model"] == "gpt-5", read
assert read.to_dict()["messages"][0]["role"] == "system", read
assert chat["prompt_id"] in [p.prompt_id for p in client.prompts.list()]
assert [v.version for v in client.prompts.versions.list(chat["prompt_id"])] == [1]
# Updating through llama-stack-client makes a text version, as llama-stack's update does.
text = client.prompts.update(chat["prompt_id"], prompt="Plain {{ name }}", variables=["name"], version=1)
assert (text.version, text.prompt) == (2, "Plain {{ name }}"), text
assert text.to_dict().get("messages") is None, text

print("llama-stack-client", llama_stack_client.__version__, "ok")
