"""Every API error is ``{"error": {"code", "message", "fields"}}`` with its status."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_unknown_path_is_a_json_404(api_as, personas):
    for client in (api_as("member"), api_as(None)):
        error = assert_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")
        assert "/api/v1/no-such-thing/" in error["message"]


def test_a_missing_slash_is_pointed_out(api_as, personas):
    error = assert_error(api_as("member").get("/api/v1/projects"), 404, "not_found")
    assert "end with a slash: /api/v1/projects/" in error["message"]
    error = assert_error(api_as("member").get("/api/v1/nothing"), 404, "not_found")
    assert "slash" not in error["message"]


def test_odd_paths_are_json_404s_too(personas, client_for):
    browser = client_for(personas["member"])  # a session, so CSRF would apply
    for path in ("/api/v1/a%0Ab/", "/api/v1/registries/null,null/verify/"):
        assert_error(browser.get(path), 404, "not_found")
        assert_error(browser.post(path), 404, "not_found")


def test_missing_object_is_a_json_404(api_as, personas):
    client = api_as("portal_admin")
    assert_error(client.get("/api/v1/registries/999999/"), 404, "not_found")
    # Beyond any database integer: still a plain 404, not an overflow.
    assert_error(client.get("/api/v1/registries/99999999999999999999999/"), 404)
    assert_error(client.get("/api/v1/projects/nope/"), 404, "not_found")
    assert_error(client.get("/api/v1/projects/team-a/members/nobody/"), 404)


def test_wrong_method_is_a_json_405(api_as, personas):
    error = assert_error(
        api_as("portal_admin").client.put(
            "/api/v1/projects/team-a/",
            data="{}",
            content_type="application/json",
            **api_as("portal_admin").headers,
        ),
        405,
        "method_not_allowed",
    )
    assert "PUT" in error["message"]


def test_body_that_is_not_json_is_a_415(api_as, personas):
    client = api_as("portal_admin")
    response = client.client.post(
        "/api/v1/projects/",
        data="name=x",
        content_type="application/x-www-form-urlencoded",
        **client.headers,
    )
    assert_error(response, 415, "unsupported_media_type")


def test_broken_json_is_a_400(api_as, personas):
    client = api_as("portal_admin")
    response = client.client.post(
        "/api/v1/projects/",
        data="{nope",
        content_type="application/json",
        **client.headers,
    )
    error = assert_error(response, 400, "parse_error")
    assert "JSON" in error["message"]


def test_asking_for_html_is_a_json_406(api_as, personas):
    client = api_as("member")
    response = client.get("/api/v1/me/", HTTP_ACCEPT="text/html")
    assert_error(response, 406, "not_acceptable")


def test_field_errors_name_their_fields(api_as, personas):
    client = api_as("portal_admin")
    error = assert_error(client.post("/api/v1/registries/", {}), 400, "invalid")
    assert set(error["fields"]) == {"name", "address"}
    assert "name:" in error["message"] and "address:" in error["message"]


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("ftp://registry.example.com", "https:// or http://"),
        ("https://user:pw@registry.example.com", "credentials"),
        ("https://registry.example.com/?q=1", "query"),
        ("https://bad_host!/", "valid"),
        ("http://registry.example.com", "Allow plain HTTP"),
    ],
)
def test_invalid_addresses_are_400_with_a_message(api_as, personas, address, says):
    client = api_as("portal_admin")
    error = assert_error(
        client.post("/api/v1/registries/", {"name": "X", "address": address}),
        400,
        "invalid",
    )
    assert says in error["message"]
    assert error["fields"]


def test_an_edit_with_bad_input_changes_nothing(api_as, registry_a):
    client = api_as("project_admin")
    error = assert_error(
        client.patch(
            f"/api/v1/registries/{registry_a.pk}/",
            {"name": "Renamed", "address": "ftp://nope"},
        ),
        400,
    )
    assert "address" in error["fields"]
    registry_a.refresh_from_db()
    assert (registry_a.name, registry_a.address) == (
        "Team A images",
        "https://images.example.com:5000",
    )


def test_duplicate_entry_is_a_400_naming_the_rule(api_as, registry_a):
    client = api_as("project_admin")
    error = assert_error(
        client.post(
            "/api/v1/registries/?project=team-a",
            {
                "name": "Again",
                "address": "images.example.com:5000",
                "namespace": "team-a",
            },
        ),
        400,
    )
    assert "already has an entry" in error["message"]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("page_size=100000", "page_size", "at most 100"),
        ("page_size=0", "page_size", "at least 1"),
        ("page_size=ten", "page_size", "whole number"),
        ("page=-1", "page", "at least 1"),
        ("page=" + "9" * 40, "page", "whole number"),
        ("colour=blue", "colour", "Unknown query parameter"),
        ("project=team-a&project=team-b", "project", "once"),
        ("project=not%20a%20slug", "project", "slug"),
    ],
)
def test_bad_query_parameters_are_400(api_as, personas, query, field, says):
    error = assert_error(
        api_as("portal_admin").get(f"/api/v1/registries/?{query}"), 400, "invalid"
    )
    assert field in error["fields"]
    assert says in " ".join(error["fields"][field])


def test_a_page_number_too_high_speaks_of_the_page(api_as, registry_a):
    client = api_as("member")
    path = f"/api/v1/registries/{registry_a.pk}/repositories/team-a/app/"
    error = assert_error(client.get(f"{path}?project=team-a&page=99999"), 400)
    assert set(error["fields"]) == {"page"}
    message = error["fields"]["page"][0]
    assert "page" in message and "10000" in message
    assert "items per page" not in message
    # Sizes still speak of the size.
    error = assert_error(client.get("/api/v1/registries/?page_size=101"), 400)
    assert "at most 100 items per page" in error["fields"]["page_size"][0]


def test_page_beyond_the_last_says_which_is_last(api_as, personas):
    error = assert_error(
        api_as("portal_admin").get("/api/v1/projects/?page=7"), 404, "not_found"
    )
    assert "last page is 1" in error["message"]


def test_pages_split_results(api_as, personas):
    client = api_as("portal_admin")
    first = client.get("/api/v1/projects/?page_size=1").json()
    second = client.get("/api/v1/projects/?page_size=1&page=2").json()
    assert first["count"] == second["count"] == 2
    assert [p["slug"] for p in first["results"] + second["results"]] == [
        "team-a",
        "team-b",
    ]
    assert first["next"].endswith("page=2&page_size=1")


def test_unknown_filter_on_the_audit_log(api_as, personas):
    error = assert_error(api_as("portal_admin").get("/api/v1/audit/?who=me"), 400)
    assert (
        "Known parameters: action, actor, object_type, page, page_size, project"
        in (error["message"])
    )


def test_invalid_token_is_a_401(personas):
    from django.test import Client

    client = Client()
    for header in ("Token ptl_not-a-real-key", "Token", "Token a b", "Token \u00e9"):
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
        error = assert_error(response, 401, "authentication_failed")
        assert "token" in error["message"].lower()
        assert response["WWW-Authenticate"] == "Token"


def test_throttled_requests_get_429_with_retry_after(api_as, personas, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "2/minute"},
    }
    client = api_as("member")
    try:
        statuses = [client.get("/api/v1/me/").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        response = client.get("/api/v1/me/")
        error = assert_error(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        assert "throttled" in error["message"]
        # Anonymous callers (of what is open to them) are limited by address.
        anonymous = api_as(None)
        statuses = [anonymous.get("/api/v1/schema/").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert_error(anonymous.get("/api/v1/schema/"), 429, "throttled")
        # A forged X-Forwarded-For is no way round it without a proxy in front.
        forged = anonymous.get("/api/v1/schema/", HTTP_X_FORWARDED_FOR="10.9.8.7")
        assert_error(forged, 429, "throttled")
    finally:
        cache.clear()


def test_session_writes_need_the_csrf_token(personas):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas["portal_admin"])
    body = '{"name": "Team C"}'
    refused = browser.post(
        "/api/v1/projects/", data=body, content_type="application/json"
    )
    error = assert_error(refused, 403, "permission_denied")
    assert "CSRF" in error["message"]

    page = browser.get("/account/api-tokens/")
    token = page.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/projects/",
        data=body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 201, accepted.content
    # Reads work with the session alone.
    assert browser.get("/api/v1/me/").json()["username"] == "root"


def test_unexpected_failure_is_a_json_500(api_as, personas, monkeypatch):
    from portal import selectors

    def boom(user):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(selectors, "projects_for_user", boom)
    error = assert_error(api_as("member").get("/api/v1/me/"), 500, "server_error")
    assert "simulated" not in error["message"]
