"""`llama-stack-client`'s `client.prompts.*` works unchanged against a running stackadmin.

The client needs Python >= 3.12, so it runs in its own virtualenv (the `llama_stack_python` fixture in
tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def test_llama_stack_client_prompts(stackadmin_server, llama_stack_python):
    result = subprocess.run(
        [llama_stack_python, str(HERE / "llama_stack_client_check.py"), stackadmin_server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
