"""Run by tests/responses/test_background.py under Python >= 3.12 with llama-stack-client 0.7: a background
response created and polled until it completes. (The client has no cancel, stream resume or compact.)

    python llama_stack_background_check.py BASE_URL API_KEY
"""

from __future__ import annotations

import sys
import time

from llama_stack_client import LlamaStackClient

base_url, api_key = sys.argv[1], sys.argv[2]
client = LlamaStackClient(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
created = client.responses.create(model="fake-model", input="from llama-stack", background=True)
assert created.status == "queued", created.status
assert created.background is True, created.background
deadline = time.monotonic() + 30
done = client.responses.retrieve(created.id)
while done.status in ("queued", "in_progress"):
    if time.monotonic() > deadline:
        raise SystemExit(f"{created.id} still {done.status} after 30 s")
    time.sleep(0.05)
    done = client.responses.retrieve(created.id)
assert done.status == "completed", done.status
text = done.output[0].content[0].text
assert text == "Hello! You said: from llama-stack", text
print("ok")
