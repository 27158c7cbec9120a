"""Conversation items for the conversations tests: one example of every item type, and user messages."""

from __future__ import annotations

# One valid example of every item type the Responses API produces, with fields beyond the essentials.
EXAMPLES = {
    "message": {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
        "status": "completed",
    },
    "function_call": {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
    "function_call_output": {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 20}'},
    "file_search_call": {"type": "file_search_call", "queries": ["q"], "status": "completed", "results": None},
    "web_search_call": {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "x"}},
    "image_generation_call": {"type": "image_generation_call", "status": "completed", "result": "aGk="},
    "computer_call": {
        "type": "computer_call",
        "call_id": "c",
        "action": {"type": "click", "x": 1, "y": 2},
        "pending_safety_checks": [],
        "status": "completed",
    },
    "computer_call_output": {
        "type": "computer_call_output",
        "call_id": "c",
        "output": {"type": "computer_screenshot", "image_url": "data:,"},
    },
    "tool_search_call": {"type": "tool_search_call", "arguments": {"query": "x"}},
    "tool_search_output": {"type": "tool_search_output", "tools": []},
    "additional_tools": {"type": "additional_tools", "role": "developer", "tools": []},
    "configuration_update": {"type": "configuration_update"},
    "reasoning": {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "thinking"}],
        "encrypted_content": "xyz",
    },
    "program": {"type": "program", "call_id": "p", "code": "1+1", "fingerprint": "f"},
    "program_output": {"type": "program_output", "call_id": "p", "result": "2", "status": "completed"},
    "compaction": {"type": "compaction", "encrypted_content": "opaque"},
    "code_interpreter_call": {
        "type": "code_interpreter_call",
        "code": "print(1)",
        "container_id": "cntr",
        "outputs": [],
        "status": "completed",
    },
    "local_shell_call": {
        "type": "local_shell_call",
        "call_id": "s",
        "action": {"type": "exec", "command": ["ls"], "env": {}},
        "status": "completed",
    },
    "local_shell_call_output": {"type": "local_shell_call_output", "output": "{}"},
    "shell_call": {"type": "shell_call", "call_id": "s", "action": {"commands": ["ls"]}},
    "shell_call_output": {"type": "shell_call_output", "call_id": "s", "output": []},
    "apply_patch_call": {
        "type": "apply_patch_call",
        "call_id": "a",
        "operation": {"type": "create_file", "path": "x", "diff": ""},
        "status": "completed",
    },
    "apply_patch_call_output": {"type": "apply_patch_call_output", "call_id": "a", "status": "completed"},
    "mcp_list_tools": {"type": "mcp_list_tools", "server_label": "srv", "tools": [{"name": "t", "input_schema": {}}]},
    "mcp_approval_request": {"type": "mcp_approval_request", "server_label": "srv", "name": "t", "arguments": "{}"},
    "mcp_approval_response": {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": True},
    "mcp_call": {"type": "mcp_call", "server_label": "srv", "name": "t", "arguments": "{}", "output": "ok"},
    "custom_tool_call": {"type": "custom_tool_call", "call_id": "x", "name": "grammar", "input": "raw"},
    "custom_tool_call_output": {"type": "custom_tool_call_output", "call_id": "x", "output": "done"},
}


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def text_of(item) -> str:
    return item.content[0].text
