"""`/v1/openapi.json` describes the real contract: the errors each operation may answer (OpenAI's error body), the
API key when authentication is on, and the limits the server enforces (id formats, page sizes, orders, item counts).

tests/test_fuzz.py holds the server to this document; these tests hold the document to what it must say.
"""

from __future__ import annotations

from apps.conversations.selectors import CONVERSATION_ID_RE
from apps.files.disk import FILE_ID_RE
from apps.prompts.keys import PROMPT_ID_RE

ERROR_BODY = {"$ref": "#/components/schemas/ErrorResponse"}


async def document(v1) -> dict:
    response = await v1.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(doc: dict):
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def parameter(doc: dict, path: str, method: str, name: str) -> dict:
    (found,) = [p["schema"] for p in doc["paths"][path][method]["parameters"] if p["name"] == name]
    return found


def error_schema(operation: dict, status: str) -> dict | None:
    declared = operation["responses"].get(status)
    return declared and declared["content"]["application/json"]["schema"]


async def test_every_operation_declares_400_and_500_with_openais_error_body(v1):
    doc = await document(v1)
    undeclared = [
        (method, path, status)
        for path, method, operation in operations(doc)
        for status in ("400", "500")
        if error_schema(operation, status) != ERROR_BODY
    ]
    assert undeclared == []


async def test_the_error_body_is_openais_envelope(v1):
    schemas = (await document(v1))["components"]["schemas"]
    assert schemas["ErrorResponse"]["required"] == ["error"]
    assert schemas["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert schemas["ErrorDetail"]["required"] == ["message", "type", "param", "code"]


async def test_operations_on_one_object_declare_404(v1):
    doc = await document(v1)
    missing = [
        (method, path)
        for path, method, operation in operations(doc)
        if "{" in path and error_schema(operation, "404") != ERROR_BODY
    ]
    assert missing == []


async def test_writes_declare_their_conflicts_and_body_errors(v1):
    doc = await document(v1)
    for path, method in (
        ("/v1/prompts/{prompt_id}", "put"),
        ("/v1/conversations/{conversation_id}/items", "post"),
    ):
        assert error_schema(doc["paths"][path][method], "409") == ERROR_BODY, (method, path)
    for path in ("/v1/prompts", "/v1/conversations", "/v1/files", "/v1/responses", "/v1/chat/completions"):
        assert error_schema(doc["paths"][path]["post"], "413") == ERROR_BODY, path


async def test_model_calls_declare_the_model_servers_failures(v1):
    doc = await document(v1)
    for path in ("/v1/responses", "/v1/chat/completions"):
        operation = doc["paths"][path]["post"]
        assert [s for s in ("429", "502", "504") if error_schema(operation, s) != ERROR_BODY] == [], path
        assert "text/event-stream" in operation["responses"]["200"]["content"], path


async def test_id_formats_are_declared(v1):
    doc = await document(v1)
    assert parameter(doc, "/v1/prompts/{prompt_id}", "get", "prompt_id")["pattern"] == PROMPT_ID_RE.pattern
    conversation = parameter(doc, "/v1/conversations/{conversation_id}/items", "get", "conversation_id")
    assert conversation["pattern"] == CONVERSATION_ID_RE.pattern
    assert parameter(doc, "/v1/files/{file_id}/content", "get", "file_id")["pattern"] == FILE_ID_RE.pattern


async def test_page_sizes_and_orders_are_declared(v1):
    doc = await document(v1)
    limits = {
        path: parameter(doc, path, "get", "limit")
        for path in ("/v1/prompts", "/v1/conversations", "/v1/files", "/v1/responses", "/v1/chat/completions")
    }
    assert {path: (s["minimum"], s["maximum"]) for path, s in limits.items()} == {
        "/v1/prompts": (1, 1000),
        "/v1/conversations": (1, 100),
        "/v1/files": (1, 10_000),
        "/v1/responses": (1, 100),
        "/v1/chat/completions": (1, 100),
    }
    assert parameter(doc, "/v1/conversations/{conversation_id}/items", "get", "order")["enum"] == ["asc", "desc"]
    assert parameter(doc, "/v1/files", "get", "order")["enum"] == ["asc", "desc"]


async def test_items_added_at_once_are_declared_1_to_20(v1):
    schemas = (await document(v1))["components"]["schemas"]
    items = schemas["AddConversationItemsRequest"]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, 20)


async def test_initial_items_are_declared_up_to_20(v1):
    schemas = (await document(v1))["components"]["schemas"]
    items = schemas["CreateConversationRequest"]["properties"]["items"]
    assert [branch.get("maxItems") for branch in items["anyOf"] if branch["type"] == "array"] == [20]


async def test_without_authentication_no_key_is_declared(v1, settings):
    settings.STACKADMIN_AUTH_ENABLED = False
    doc = await document(v1)
    assert "securitySchemes" not in doc["components"]
    assert "401" not in doc["paths"]["/v1/prompts"]["get"]["responses"]


async def test_with_authentication_on_a_bearer_key_is_declared(v1, settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    doc = await document(v1)
    assert doc["components"]["securitySchemes"]["APIKey"]["scheme"] == "bearer"
    assert doc["security"] == [{"APIKey": []}]
    unauthorized = [
        (method, path) for path, method, operation in operations(doc) if error_schema(operation, "401") == ERROR_BODY
    ]
    assert len(unauthorized) == sum(1 for _ in operations(doc)) - 2  # all but the public health probes
    assert doc["paths"]["/v1/health"]["get"]["security"] == []
    assert doc["paths"]["/v1/health/ready"]["get"]["security"] == []
