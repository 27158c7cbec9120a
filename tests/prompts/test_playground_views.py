"""The playground's views in-process: what is refused before anything runs (a missing variable, a forged or
someone else's run, a cross-site post), as the htmx fragment and as a page. The runs themselves stream through a
model in test_playground_e2e.py."""

from __future__ import annotations

from django.test import Client

import pytest

from apps.prompts import services
from apps.prompts.playground import PlaygroundRun
from apps.responses.models import StoredResponse
from tests.support.dashboard import assert_page, assert_partial, hx

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def prompt_id() -> str:
    return services.prompt_create(text="Explain {{ topic }}", variables=["topic"], settings={"model": "m"}).prompt_id


def test_a_missing_variable_is_said_in_the_fragment_and_nothing_runs(web, prompt_id):
    response = web.post(f"/dashboard/{prompt_id}/versions/1/run/", {"input": "hi"}, headers=hx("playground-output"))
    body = assert_partial(response, "playground-output", status=400)
    assert "Missing value for prompt variable &#x27;topic&#x27;" in body
    assert "sse-connect" not in body
    assert StoredResponse.objects.count() == 0


def test_without_javascript_the_page_says_it_at_the_form(web, prompt_id):
    response = web.post(f"/dashboard/{prompt_id}/versions/1/run/", {"input": "<b>hi</b>"})
    body = assert_page(response, "playground-output", status=400)
    assert "Missing value for prompt variable" in body
    assert "&lt;b&gt;hi&lt;/b&gt;" in body  # the input is kept, escaped


def test_a_run_signed_for_someone_else_is_refused(web, prompt_id, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    run = PlaygroundRun(prompt_id, 1, {"topic": "x"}, "hi", None, "r1", bob.pk)
    response = web.get(f"/dashboard/{prompt_id}/run-stream/", {"run": run.sign()})
    assert response.status_code == 400
    assert response.content == b"This run was started by someone else."


def test_a_forged_run_is_refused(web, prompt_id):
    response = web.get(f"/dashboard/{prompt_id}/run-stream/", {"run": "not-signed"})
    assert response.status_code == 400
    assert b"expired or is not valid" in response.content


def test_a_post_from_another_site_is_refused(alice, prompt_id):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(f"/dashboard/{prompt_id}/versions/1/run/", {"var_topic": "x", "input": "hi"})
    assert response.status_code == 403
    assert StoredResponse.objects.count() == 0


def test_an_input_too_long_for_the_stream_url_is_refused_at_the_form(web, prompt_id):
    import secrets

    noise = secrets.token_hex(8000)  # does not compress
    data = {"var_topic": "x", "input": noise}
    response = web.post(f"/dashboard/{prompt_id}/versions/1/run/", data, headers=hx("playground-output"))
    body = assert_partial(response, "playground-output", status=400)
    assert "too long for the playground" in body
