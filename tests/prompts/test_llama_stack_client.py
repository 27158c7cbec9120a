"""`llama-stack-client`'s `client.prompts.*` works unchanged against a running stackadmin.

The client needs Python >= 3.12, so it runs in its own virtualenv (created once, cached under
~/.cache/stackadmin-tests) with the first Python >= 3.12 found on this machine.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CLIENT_SPEC = "llama-stack-client>=0.7,<0.8"
HERE = Path(__file__).parent


def _python312() -> str | None:
    candidates = [os.environ.get("STACKADMIN_TEST_PYTHON312"), shutil.which("python3.13"), shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture(scope="session")
def llama_stack_python() -> str:
    python = _python312()
    if python is None:
        message = "llama-stack-client needs Python >= 3.12 and none was found (set STACKADMIN_TEST_PYTHON312)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    venv = Path(os.path.expanduser("~/.cache/stackadmin-tests/llama-stack-client-0.7"))
    venv_python = venv / "bin" / "python"
    if not venv_python.exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(venv_python), "-c", "import llama_stack_client"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(venv_python), "-m", "pip", "install", "--quiet", CLIENT_SPEC], check=True)
    return str(venv_python)


def test_llama_stack_client_prompts(stackadmin_server, llama_stack_python):
    result = subprocess.run(
        [llama_stack_python, str(HERE / "llama_stack_client_check.py"), stackadmin_server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
