"""`/v1` and web pages (stackadmin/browser_guard.py, CORS from `server.cors`), in-process with authentication off
(the loopback default): the wrong `Host` is a 400, a foreign page a 403, a body that is not JSON a 415, and a page
from a configured origin gets CORS. Clients that are not browsers are covered by the rest of the suite."""

from __future__ import annotations

import pytest

from apps.core.config import ConfigError
from stackadmin import browser_guard
from stackadmin.config import parse_config
from tests.support.names import unique

APP = "http://app.example:3000"  # the origin a test configures for CORS
MISSING_PROMPT = "/v1/prompts/pmpt_" + "0" * 48


def error_of(response) -> dict:
    return response.json()["error"]


async def prompt_texts(v1) -> list[str]:
    return [prompt["prompt"] for prompt in (await v1.get("/v1/prompts")).json()["data"]]


# ------------------------------------------------------------------------------------------ Host
async def test_a_request_for_another_host_is_a_400(v1):
    response = await v1.get("/v1/prompts", headers={"Host": "attacker.example:8321"})
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"
    assert error_of(response)["code"] == "invalid_host"


async def test_a_write_for_another_host_stores_nothing(v1):
    text = unique("rebound ")
    response = await v1.post("/v1/prompts", json={"prompt": text}, headers={"Host": "attacker.example"})
    assert response.status_code == 400
    assert text not in await prompt_texts(v1)


async def test_an_allowed_host_with_a_port_is_served(v1):
    response = await v1.get("/v1/health", headers={"Host": "localhost:8321"})
    assert response.status_code == 200


async def test_behind_a_proxy_the_forwarded_host_is_checked(v1, settings):
    settings.USE_X_FORWARDED_HOST = True
    response = await v1.get("/v1/health", headers={"X-Forwarded-Host": "attacker.example"})
    assert response.status_code == 400


def test_without_a_host_header_the_servers_address_is_the_host(settings):
    scope = {"method": "GET", "path": "/v1/health", "scheme": "http", "server": ("127.0.0.1", 8321), "headers": []}
    assert browser_guard.refusal(scope) is None


# ------------------------------------------------------------------------------------------ Origin, Sec-Fetch-Site
@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "https://127.0.0.1", "null"])
async def test_a_simple_post_from_a_foreign_page_is_a_403_and_stores_nothing(v1, origin):
    text = unique("foreign ")
    response = await v1.post(
        "/v1/prompts",
        content=f'{{"prompt": "{text}"}}'.encode(),
        headers={"Origin": origin, "Content-Type": "text/plain"},
    )
    assert response.status_code == 403
    assert error_of(response)["type"] == "permission_error"
    assert error_of(response)["code"] == "cross_site_request"
    assert text not in await prompt_texts(v1)


async def test_a_json_post_from_a_foreign_page_is_a_403(v1):
    response = await v1.post("/v1/prompts", json={"prompt": "x"}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


async def test_a_read_the_browser_marks_cross_site_is_a_403(v1):
    response = await v1.get("/v1/prompts", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "cross_site_request"


async def test_a_foreign_preflight_is_a_403_without_cors_headers(v1):
    response = await v1.options(
        "/v1/prompts", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


async def test_a_page_of_the_servers_own_origin_is_served(v1):
    response = await v1.post(
        "/v1/prompts",
        json={"prompt": unique("same origin ")},
        headers={"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200


async def test_a_configured_origin_gets_cors(v1, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    text = unique("configured ")
    response = await v1.post(
        "/v1/prompts", json={"prompt": text}, headers={"Origin": APP, "Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert text in await prompt_texts(v1)


async def test_a_configured_origin_gets_a_preflight_answer(v1, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    response = await v1.options(
        "/v1/prompts",
        headers={
            "Origin": APP,
            "Sec-Fetch-Site": "cross-site",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "*"} <= allowed_headers


async def test_with_authentication_a_preflight_needs_no_key_and_a_401_is_readable(v1, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    settings.STACKADMIN_AUTH_ENABLED = True
    preflight = await v1.options("/v1/prompts", headers={"Origin": APP, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    refused = await v1.post("/v1/prompts", json={"prompt": "x"}, headers={"Origin": APP})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP


# ------------------------------------------------------------------------------------------ content type
@pytest.mark.parametrize(
    "content_type", ["text/plain", None, "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_a_body_that_is_not_declared_json_is_a_415(v1, content_type):
    text = unique("plain ")
    headers = {"Content-Type": content_type} if content_type else {}
    response = await v1.post("/v1/prompts", content=f'{{"prompt": "{text}"}}'.encode(), headers=headers)
    assert response.status_code == 415
    assert error_of(response)["type"] == "invalid_request_error"
    assert error_of(response)["code"] == "unsupported_media_type"
    assert text not in await prompt_texts(v1)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/conversations"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/responses"),
        ("PUT", MISSING_PROMPT),
    ],
)
async def test_every_json_route_wants_json(v1, method, path):
    response = await v1.request(method, path, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


async def test_json_with_a_charset_is_json(v1):
    response = await v1.post(
        "/v1/prompts",
        content=f'{{"prompt": "{unique("charset ")}"}}'.encode(),
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200


async def test_a_post_without_a_body_needs_no_content_type(v1):
    response = await v1.post("/v1/prompts")
    assert response.status_code == 400


async def test_a_delete_needs_no_content_type(v1):
    response = await v1.delete(MISSING_PROMPT)
    assert response.status_code == 404


# ------------------------------------------------------------------------------------------ server.cors
def cors_of(raw, tmp_path):
    return parse_config({"server": {"cors": raw}}, source="t", home=str(tmp_path)).cors


def test_configured_origins_are_kept_as_browsers_send_them(tmp_path):
    cors = cors_of(
        {"allowed_origins": ["HTTP://LocalHost:3000", "https://app.example.com:443", "http://[::1]:8080"]}, tmp_path
    )
    assert cors.allowed_origins == ("http://localhost:3000", "https://app.example.com", "http://[::1]:8080")


def test_no_cors_section_allows_no_origin(tmp_path):
    assert parse_config({}, source="t", home=str(tmp_path)).cors.allowed_origins == ()


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (["http://a.example"], "server.cors: must be a mapping"),
        ({"origins": []}, "server.cors.origins: unknown field"),
        ({"allowed_origins": "http://a.example"}, "server.cors.allowed_origins: must be a list"),
        ({"allowed_origins": ["http://a.example", "http://b.example/"]}, "server.cors.allowed_origins[1]: must be"),
        ({"allowed_origins": ["*"]}, "server.cors.allowed_origins[0]: '*' would let any web page"),
        ({"allowed_origins": ["null"]}, "server.cors.allowed_origins[0]: 'null' would let any web page"),
        ({"allowed_origins": ["ftp://a.example"]}, "server.cors.allowed_origins[0]: must be"),
        ({"allowed_origins": ["a.example:3000"]}, "server.cors.allowed_origins[0]: must be"),
        ({"allowed_origins": ["http://a.example:99999"]}, "server.cors.allowed_origins[0]: must be"),
        ({"allowed_origins": [3000]}, "server.cors.allowed_origins[0]: must be"),
    ],
)
def test_a_bad_cors_section_names_its_path(tmp_path, raw, where):
    with pytest.raises(ConfigError) as caught:
        cors_of(raw, tmp_path)
    assert str(caught.value).startswith(where)
