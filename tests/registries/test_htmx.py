"""HTMX answers: fragments for in-place changes, cut from the same template as the page.

A fragment must be the very HTML the full page shows for the same state, so the
two cannot drift; CSRF tokens are masked differently on each render and are
blanked before comparing.
"""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from registries import connect
from registries.models import Registry

HTMX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')


def html(response) -> str:
    return _CSRF.sub(r'\1-"', response.content.decode()).strip()


def assert_fragment(response) -> str:
    body = html(response)
    assert "<html" not in body.lower()
    assert "<body" not in body.lower()
    return body


@pytest.fixture
def admin_client(personas, client_for):
    return client_for(personas["portal_admin"])


@pytest.fixture
def team_admin_client(personas, client_for):
    return client_for(personas["project_admin"])


def test_disable_and_enable_answer_with_the_row_the_page_shows(
    team_admin_client, registry_a
):
    toggle = reverse("registry_toggle", args=[registry_a.pk])
    page = reverse("project_registries", args=["team-a"])

    row = assert_fragment(team_admin_client.post(toggle, headers=HTMX))
    assert row.startswith(f'<tr id="registry-{registry_a.pk}" class="disabled">')
    assert "Disabled" in row and ">Enable<" in row
    assert not Registry.objects.get(pk=registry_a.pk).enabled
    assert row in html(team_admin_client.get(page))

    row = assert_fragment(team_admin_client.post(toggle, headers=HTMX))
    assert "Enabled" in row and ">Disable<" in row
    assert Registry.objects.get(pk=registry_a.pk).enabled
    assert row in html(team_admin_client.get(page))


def test_toggle_without_htmx_goes_back_to_the_list(admin_client, global_registry):
    response = admin_client.post(reverse("registry_toggle", args=[global_registry.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("registry_global_list")


@pytest.mark.parametrize(
    ("url_name", "args", "client_name"),
    [
        ("registry_global_list", [], "admin_client"),
        ("project_registries", ["team-a"], "team_admin_client"),
    ],
)
def test_the_table_fragment_is_part_of_the_page(
    url_name, args, client_name, request, global_registry, registry_a
):
    client = request.getfixturevalue(client_name)
    url = reverse(url_name, args=args)
    table = assert_fragment(client.get(url, headers=HTMX))
    assert table.startswith('<table class="grid" id="registry-table">')
    assert global_registry.name in table
    assert table in html(client.get(url))
    # A boosted navigation is a page load: it gets the whole page.
    assert "<html" in html(client.get(url, headers=BOOSTED))


def test_form_errors_come_back_as_the_form_fragment(admin_client):
    url = reverse("registry_global_add")
    data = {
        "name": "",
        "address": "http://insecure.example:5000",
        "namespace": "Bad Namespace",
        "crawl_interval_minutes": "0",
    }
    response = admin_client.post(url, data, headers=HTMX)
    assert response.status_code == 422
    form = assert_fragment(response)
    assert form.startswith('<form id="registry-form"')
    assert "This field is required." in form
    assert "is not a valid namespace" in form
    assert "Tick “Allow plain HTTP”" in form
    assert "Crawl at most once a minute." in form or "greater than or equal" in form
    assert not Registry.objects.filter(address__contains="insecure").exists()

    full = admin_client.post(url, data)
    assert full.status_code == 422
    assert form in html(full)


def test_a_duplicate_is_reported_in_the_form(admin_client, global_registry):
    response = admin_client.post(
        reverse("registry_global_add"),
        {
            "name": "Again",
            "address": "HTTPS://registry.corp.example:443/",
            "crawl_interval_minutes": 60,
        },
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "already exists" in assert_fragment(response)
    assert Registry.objects.filter(address=global_registry.address).count() == 1


def test_a_saved_form_redirects_the_browser(admin_client):
    response = admin_client.post(
        reverse("registry_global_add"),
        {"name": "Ok", "address": "ok.example.com", "crawl_interval_minutes": 60},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("registry_global_list")
    assert Registry.objects.filter(address="https://ok.example.com").exists()


def test_the_edit_form_fragment_is_part_of_the_edit_page(team_admin_client, registry_a):
    url = reverse("registry_edit", args=[registry_a.pk])
    data = {"name": "", "address": registry_a.address, "crawl_interval_minutes": 5}
    fragment = assert_fragment(team_admin_client.post(url, data, headers=HTMX))
    assert fragment in html(team_admin_client.post(url, data))


def test_verify_answers_with_a_fragment(team_admin_client, registry_a, monkeypatch):
    monkeypatch.setattr(
        connect,
        "verify",
        lambda registry: connect.VerifyOutcome(
            ok=True, message="The registry answered.", api_version="v2"
        ),
    )
    response = team_admin_client.post(
        reverse("registry_verify", args=[registry_a.pk]), headers=HTMX
    )
    fragment = assert_fragment(response)
    assert "Verified" in fragment and "V2" in fragment
    registry_a.refresh_from_db()
    assert registry_a.verify_status == "ok"
    # The list shows the recorded health.
    page = html(team_admin_client.get(reverse("project_registries", args=["team-a"])))
    assert "Healthy" in page


def test_the_page_sends_csrf_for_htmx_and_loads_htmx_locally(team_admin_client):
    body = html(team_admin_client.get(reverse("project_registries", args=["team-a"])))
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", body)
    script = re.search(r'<script src="([^"]+htmx[^"]*)"', body)
    assert script and script.group(1).startswith("/static/")
    # Form errors come back as 422; htmx must still swap them in place.
    meta = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', body)
    assert meta, "no htmx-config"
    rules = json.loads(meta.group(1))["responseHandling"]
    first_match = next(r for r in rules if re.fullmatch(r["code"], "422"))
    assert first_match["swap"] is True
    assert next(r for r in rules if re.fullmatch(r["code"], "500"))["swap"] is False


def test_an_expired_session_sends_the_whole_page_to_login(client_for, registry_a):
    """Not a 302 the XHR would follow, swapping the login page into a row."""
    page = reverse("project_registries", args=["team-a"])
    response = client_for(None).post(
        reverse("registry_toggle", args=[registry_a.pk]),
        headers={**HTMX, "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={page}"
    assert Registry.objects.get(pk=registry_a.pk).enabled
    # Without htmx it stays the ordinary redirect.
    response = client_for(None).get(page)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={page}"


def test_global_entries_come_first_in_a_project_list(
    team_admin_client, personas, project_a
):
    from registries.services import registry_create

    registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="AAA first by name",
        address="aaa.example.com",
    )
    registry_create(acting_user=None, name="ZZZ global", address="zzz.example.com")
    body = html(team_admin_client.get(reverse("project_registries", args=["team-a"])))
    assert body.index("ZZZ global") < body.index("AAA first by name")
