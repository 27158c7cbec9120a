"""llama-stack-client, the prompts API's own client, in a virtualenv of its own: it needs Python >= 3.12."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

CLIENT_SPEC = "llama-stack-client>=0.7,<0.8"
VENV = Path(os.path.expanduser("~/.cache/stackadmin-tests/llama-stack-client-0.7"))


def python312() -> str | None:
    """A Python >= 3.12 on this machine (`STACKADMIN_TEST_PYTHON312` first), or None."""
    candidates = [os.environ.get("STACKADMIN_TEST_PYTHON312"), shutil.which("python3.13"), shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def client_python(python: str) -> str:
    """The interpreter of a virtualenv (made from `python` on first use, kept between runs) with the client in it."""
    venv_python = VENV / "bin" / "python"
    if not venv_python.exists():
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    check = subprocess.run([str(venv_python), "-c", "import llama_stack_client"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(venv_python), "-m", "pip", "install", "--quiet", CLIENT_SPEC], check=True)
    return str(venv_python)
