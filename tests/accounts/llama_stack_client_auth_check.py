"""Run by test_access_everywhere.py under Python >= 3.12 with llama-stack-client installed.

argv: server URL, alice's key, bob's key, carol's key. alice's prompts work for her and for carol (who shares a
team with her); for bob they do not exist; a wrong key is an AuthenticationError. Exits non-zero on any mismatch.
"""

import sys

import llama_stack_client
from llama_stack_client import LlamaStackClient

url, alice_key, bob_key, carol_key = sys.argv[1:5]
alice = LlamaStackClient(base_url=url, api_key=alice_key, max_retries=0)
bob = LlamaStackClient(base_url=url, api_key=bob_key, max_retries=0)
carol = LlamaStackClient(base_url=url, api_key=carol_key, max_retries=0)


def not_found(call, what: str) -> str:
    try:
        call()
    except llama_stack_client.NotFoundError as exc:
        return str(exc)
    raise AssertionError(f"{what} must be a NotFoundError")


created = alice.prompts.create(prompt="Only alice's team reads {{ this }}", variables=["this"])
pid = created.prompt_id
assert alice.prompts.retrieve(pid).prompt == "Only alice's team reads {{ this }}"
assert pid in [p.prompt_id for p in alice.prompts.list()]

missing = "pmpt_" + "0" * 48
for what, call in [
    ("retrieve", lambda p: bob.prompts.retrieve(p)),
    ("retrieve version", lambda p: bob.prompts.retrieve(p, version=1)),
    ("versions", lambda p: bob.prompts.versions.list(p)),
    ("update", lambda p: bob.prompts.update(p, prompt="bob was here", version=1)),
    ("set default", lambda p: bob.prompts.set_default_version(p, version=1)),
    ("delete", lambda p: bob.prompts.delete(p)),
]:
    theirs = not_found(lambda call=call: call(pid), what)
    nobodys = not_found(lambda call=call: call(missing), what)
    assert theirs.replace(pid, "<id>") == nobodys.replace(missing, "<id>"), (what, theirs, nobodys)
assert pid not in [p.prompt_id for p in bob.prompts.list()]

v2 = carol.prompts.update(pid, prompt="carol edits {{ this }}", variables=["this"], version=1)
assert v2.version == 2
assert pid in [p.prompt_id for p in carol.prompts.list()]
assert alice.prompts.retrieve(pid).prompt == "carol edits {{ this }}"

for client in (
    LlamaStackClient(base_url=url, api_key="sk-sa-not-a-key-not-a-key-not-a-key", max_retries=0),
    LlamaStackClient(base_url=url, api_key=alice_key + "x", max_retries=0),
):
    try:
        client.prompts.list()
        raise AssertionError("a wrong key must be refused")
    except llama_stack_client.AuthenticationError:
        pass

alice.prompts.delete(pid)
not_found(lambda: alice.prompts.retrieve(pid), "retrieve after delete")
print("llama-stack-client", llama_stack_client.__version__, "ok")
