"""The opt-in access log (`server.access_log: text | json`): one line per request on a live server's stdout, with
method, route (the pattern, not the path), status, duration and principal."""

from __future__ import annotations

import json

import httpx
import pytest

from apps.core.config import ConfigError
from stackadmin.config import parse_config
from tests.support.waiting import wait_until


def access_lines(server, marker: str) -> list[str]:
    return [line for line in server.log_path.read_text().splitlines() if marker in line]


def test_json_lines_name_the_route_status_and_principal(start_server):
    server = start_server("server:\n  auth: {enabled: true}\n  access_log: json\n")
    key = server.manage("create_api_key", "admin").strip().split()[-1]
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        created = http.post("/v1/prompts", json={"prompt": "logged"}, headers=auth)
        prompt_id = created.json()["prompt_id"]
        assert http.get(f"/v1/prompts/{prompt_id}", headers=auth).status_code == 200
        assert http.get("/v1/prompts").status_code == 401
        assert http.get("/v1/no-such-thing", headers=auth).status_code == 404
    lines = wait_until(lambda: (found := access_lines(server, '"route"')) and len(found) >= 4 and found, timeout=10)
    records = [json.loads(line) for line in lines]
    by_request = {(r["method"], r["path"]): r for r in records}
    got = by_request[("GET", f"/v1/prompts/{prompt_id}")]
    assert got["route"] == "/v1/prompts/<prompt_id>"
    assert (got["status"], got["principal"]) == (200, "admin")
    assert isinstance(got["duration_ms"], float | int)
    assert by_request[("POST", "/v1/prompts")]["status"] == 200
    assert by_request[("GET", "/v1/prompts")]["status"] == 401
    assert by_request[("GET", "/v1/prompts")]["principal"] == "-"
    assert by_request[("GET", "/v1/no-such-thing")]["route"] == "unmatched"


def test_text_lines_and_nothing_when_off(start_server, stackadmin_server):
    server = start_server("server:\n  access_log: text\n")
    assert httpx.get(server.url + "/v1/models", timeout=30).status_code == 200
    (line,) = wait_until(lambda: access_lines(server, "route=/v1/models"), timeout=10)
    assert line.startswith("method=GET route=/v1/models path=/v1/models status=200 duration_ms=")
    assert "principal=-" in line
    assert httpx.get(stackadmin_server.url + "/v1/models", timeout=30).status_code == 200
    assert access_lines(stackadmin_server, "route=") == []  # off by default


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"access_log": "xml"}, "server.access_log: must be one of text, json or false (got 'xml')"),
        ({"metrics": {"enabled": "yes"}}, "server.metrics.enabled: must be true or false (got 'yes')"),
        ({"metrics": {"enabled": True, "token": "short"}}, "server.metrics.token: must be a string of at least 16"),
        ({"metrics": {"enabled": True, "port": 9100}}, "server.metrics.port: unknown field (known: enabled, token)"),
    ],
)
def test_config_mistakes_name_the_key(server, message):
    with pytest.raises(ConfigError) as raised:
        parse_config({"server": server}, source="run.yaml", home="/tmp/home")
    assert str(raised.value).startswith(message)


def test_both_are_off_by_default():
    config = parse_config({}, source="run.yaml", home="/tmp/home")
    assert (config.metrics.enabled, config.access_log) == (False, None)
