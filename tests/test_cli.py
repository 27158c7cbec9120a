"""`stackadmin run`: one clear line and a non-zero exit for every start-up problem, nothing half-created."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.inference import provider_yaml
from tests.support.live_server import LiveServer
from tests.support.live_updates import dashboard_session
from tests.support.paths import ROOT

GOOD_SQL = 'sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql.db"}'


def run_cli(tmp_path, config: str | None, *extra: str, env: dict | None = None):
    home = tmp_path / "home"
    args = [sys.executable, "-m", "stackadmin.cli", "run", "--port", "1", *extra]
    if config is not None:
        path = tmp_path / "run.yaml"
        path.write_text(config)
        args += ["--config", str(path)]
    result = subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "STACKADMIN_HOME": str(home), **(env or {})},
    )
    return result, home


@pytest.mark.parametrize(
    ("config", "code", "fragment"),
    [
        ("storage:\n  backends: {a: [unclosed\n  stores: {}\n", 2, "invalid YAML at line 3"),
        (
            'storage:\n  backends:\n    kv_default: {type: kv_sqlite, db_path: "${env.NOT_SET_ANYWHERE}"}\n',
            2,
            "storage.backends.kv_default.db_path: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            "storage:\n  backends:\n    kv_default: {type: kv_sqlitee, db_path: /tmp/x}\n",
            2,
            "storage.backends.kv_default.type: unknown backend type 'kv_sqlitee'",
        ),
        (
            f"storage:\n  backends:\n    kv_default: {{type: kv_postgres, user: u, port: 1, host: 127.0.0.1}}\n"
            f"    {GOOD_SQL}\n",
            3,
            "storage.backends.kv_default (kv_postgres): cannot connect to PostgreSQL at 127.0.0.1:1",
        ),
        (
            f"storage:\n  backends:\n    kv_default: {{type: kv_redis, port: 1, host: 127.0.0.1}}\n    {GOOD_SQL}\n",
            3,
            "storage.backends.kv_default (kv_redis): cannot reach Redis at 127.0.0.1:1",
        ),
        (
            "storage:\n  backends:\n    kv_default: {type: kv_sqlite, db_path: /tmp/kv.db}\n"
            "    sql_default: {type: sql_postgres, user: u, port: 1, host: 127.0.0.1}\n",
            3,
            "storage.backends.sql_default (sql_postgres): cannot connect to PostgreSQL at 127.0.0.1:1",
        ),
    ],
)
def test_start_up_problems_are_one_line_and_create_nothing(tmp_path, config, code, fragment):
    result, home = run_cli(tmp_path, config)
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stackadmin: error: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert not home.exists()


def test_missing_config_file(tmp_path):
    result, home = run_cli(tmp_path, None, "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "run config file not found" in result.stderr
    assert not home.exists()


def test_non_loopback_host_with_auth_turned_off_needs_an_explicit_flag(tmp_path):
    result, home = run_cli(tmp_path, "server:\n  auth: {enabled: false}\n", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
    assert not home.exists()


def test_authentication_defaults_to_on_beyond_loopback(tmp_path):
    from stackadmin.config import parse_config

    config = parse_config(None, source="t", home=str(tmp_path))
    assert config.auth.enabled_for("0.0.0.0") is True
    assert config.auth.enabled_for("127.0.0.1") is False
    assert config.auth.enabled_for("localhost") is False
    off = parse_config({"server": {"auth": {"enabled": False}}}, source="t", home=str(tmp_path))
    assert off.auth.enabled_for("0.0.0.0") is False


def test_ignored_sections_warn_once_each(tmp_path):
    config = (
        f"image_name: starter\napis: [prompts]\nstorage:\n  backends:\n"
        f"    kv_default: {{type: kv_redis, port: 1}}\n    {GOOD_SQL}\n"
    )
    result, _ = run_cli(tmp_path, config)
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert "'image_name'" in warnings[0]
    assert "'apis'" in warnings[1]
    assert result.returncode == 3


def test_first_start_prints_a_working_admin_login(start_server):
    server = start_server()
    log = server.log_path.read_text()
    for where in ("/dashboard/", "/admin/", "/v1/docs"):
        assert f"{server.url}{where}" in log
    assert server.admin_password
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        page = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "admin",
                "password": server.admin_password,
                "next": "/admin/",
            },
            headers={"Referer": server.url + "/admin/login/"},
        )
        assert response.status_code == 302
        assert response.headers["location"] == "/admin/"
        assert client.get("/admin/").status_code == 200
        assert client.get("/static/admin/css/base.css").status_code == 200


def test_second_start_keeps_the_data_and_prints_no_new_password(tmp_path_factory):
    home = tmp_path_factory.mktemp("restart-home")
    first = LiveServer(home)
    created = httpx.post(first.url + "/v1/prompts", json={"prompt": "survives restarts"}).json()
    first.stop()
    second = LiveServer(home)
    try:
        assert second.admin_password is None
        assert httpx.get(f"{second.url}/v1/prompts/{created['prompt_id']}").json()["prompt"] == "survives restarts"
        assert (home / "secret_key").stat().st_mode & 0o777 == 0o600
    finally:
        second.stop()


@pytest.mark.parametrize("config", [None, "server: {}\n"], ids=["default config", "run config"])
def test_the_printed_changepassword_hint_works_as_printed(start_server, config):
    server = start_server(config)
    (hint,) = [line for line in server.log_path.read_text().splitlines() if "Change it with:" in line]
    command = hint.split("Change it with:", 1)[1].strip()
    assert "stackadmin changepassword admin" in command
    # As a user would type it in a new shell: neither STACKADMIN_HOME nor STACKADMIN_CONFIG set.
    env = {k: v for k, v in os.environ.items() if k not in ("STACKADMIN_HOME", "STACKADMIN_CONFIG")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    new_password = "a-new-password-4821"
    result = subprocess.run(
        ["bash", "-c", command],
        input=f"{new_password}\n{new_password}\n",
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no terminal: the password prompts read standard input
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Password changed successfully for user 'admin'" in result.stdout
    server.admin_password = new_password
    assert dashboard_session(server)  # the new password signs in


def test_changepassword_for_an_unknown_user_is_one_line(start_server):
    server = start_server()
    result = subprocess.run(
        [sys.executable, "-m", "stackadmin.cli", "changepassword", "nobody"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "stackadmin: error: user 'nobody' does not exist"


def test_run_says_which_providers_and_how_many_models_it_serves(start_server, upstream):
    no_env_provider = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}
    bare = start_server(env=no_env_provider)
    log = bare.log_path.read_text()
    assert "Models     none: no inference provider is configured" in log
    assert "Add one under providers.inference in the run config" in log
    served = start_server(provider_yaml(upstream.url), env=no_env_provider)
    assert f"Models     2 registered models from provider 'fake' at {upstream.url}" in served.log_path.read_text()
