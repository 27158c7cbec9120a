"""llama-stack-client 0.7 reads stackadmin's Responses API as it reads llama-stack's (each check is a function of
llama_stack_client_check.py, run in the client's own Python >= 3.12 virtualenv)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def llama_stack_check(responses_server, llama_stack_python):
    def run(check: str) -> str:
        result = subprocess.run(
            [llama_stack_python, str(HERE / "llama_stack_client_check.py"), responses_server.url, check],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    return run


def test_stream_events_parse_into_llama_stack_event_models(llama_stack_check):
    assert "ok" in llama_stack_check("stream")


def test_input_items_list_the_whole_chain(llama_stack_check):
    assert "ok" in llama_stack_check("input_items")


def test_missing_objects_are_refused_saying_not_found(llama_stack_check):
    assert "ok" in llama_stack_check("missing_objects")


def test_request_fields_and_logprobs(llama_stack_check):
    assert "ok" in llama_stack_check("request_fields")
