"""Request bodies: too large, nested too deeply, unknown fields, bad certificates.

Every case goes through Django's test client as a real HTTP request and must be
a 4xx in the shared error body, never a 500, and must change nothing.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.api.conftest import assert_error
from tests.support.certs import TestCA

pytestmark = pytest.mark.django_db


def _raw_post(client, path: str, body: str, method: str = "post"):
    return getattr(client.client, method)(
        path, data=body, content_type="application/json", **client.headers
    )


# -- size and depth --------------------------------------------------------------------


def test_a_body_over_the_upload_limit_is_a_413(api_as, personas, settings):
    from registries.models import Registry

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    client = api_as("portal_admin")
    before = Registry.objects.count()
    body = json.dumps(
        {"name": "Big", "address": "big.example.com", "ca_pem": "x" * 5_000}
    )
    error = assert_error(
        _raw_post(client, "/api/v1/registries/", body), 413, "request_too_large"
    )
    assert "2000 bytes" in error["message"]
    assert Registry.objects.count() == before
    # A body under the limit is read as usual.
    small = {"name": "Small", "address": "small.example.com"}
    assert client.post("/api/v1/registries/", small).status_code == 201


def test_a_body_over_the_upload_limit_is_a_413_on_bodiless_endpoints(
    api_as, registry_a, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = _raw_post(
        api_as("project_admin"),
        f"/api/v1/registries/{registry_a.pk}/disable/",
        json.dumps({"x": "y" * 200}),
    )
    assert_error(response, 413, "request_too_large")
    registry_a.refresh_from_db()
    assert registry_a.enabled


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, '{"a":' * 100_000, "[" * 100_000 + "]" * 100_000],
    ids=["arrays", "objects", "balanced"],
)
def test_json_nested_too_deeply_is_a_400(api_as, personas, body):
    client = api_as("portal_admin")
    for path in ("/api/v1/projects/", "/api/v1/access-check/"):
        error = assert_error(_raw_post(client, path, body), 400, "parse_error")
        assert "JSON" in error["message"] and "deep" in error["message"]


# -- the registry's CA certificate -----------------------------------------------------


@pytest.mark.parametrize(
    ("pem", "says"),
    [
        ("garbage", "PEM certificates"),
        (
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "PEM certificates",
        ),
        # ssl raises TypeError, not SSLError, for text that is not ASCII.
        ("é" * 200, "ASCII"),
        ("Société Générale root\n" + TestCA().cert_pem, "ASCII"),
    ],
    ids=["garbage", "bad-base64", "not-ascii", "not-ascii-comment"],
)
def test_a_ca_pem_that_is_not_a_certificate_is_a_400(api_as, registry_a, pem, says):
    from registries.models import Registry

    client = api_as("project_admin")
    before = Registry.objects.count()
    error = assert_error(
        client.post(
            "/api/v1/registries/?project=team-a",
            {"name": "Trusting", "address": "trust.example.com", "ca_pem": pem},
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"ca_pem"}
    assert says in error["fields"]["ca_pem"][0]
    assert Registry.objects.count() == before

    error = assert_error(
        client.patch(
            f"/api/v1/registries/{registry_a.pk}/", {"name": "Renamed", "ca_pem": pem}
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"ca_pem"}
    registry_a.refresh_from_db()
    assert (registry_a.name, registry_a.ca_pem) == ("Team A images", "")


def test_a_ca_pem_is_stored_as_the_page_form_stores_it(api_as, registry_a):
    client = api_as("project_admin")
    pem = TestCA().cert_pem
    response = client.patch(
        f"/api/v1/registries/{registry_a.pk}/", {"ca_pem": "\n  " + pem + "\n\n"}
    )
    assert response.status_code == 200, response.content
    registry_a.refresh_from_db()
    assert registry_a.ca_pem == pem.strip() + "\n"
    assert response.json()["connection"]["ca_pem"] == registry_a.ca_pem
    # Blank clears it.
    assert client.patch(f"/api/v1/registries/{registry_a.pk}/", {"ca_pem": " "})
    registry_a.refresh_from_db()
    assert registry_a.ca_pem == ""


# -- unknown fields --------------------------------------------------------------------


def test_a_project_in_the_body_is_refused_not_turned_into_a_global_entry(
    api_as, personas
):
    from registries.models import Registry

    before = Registry.objects.count()
    error = assert_error(
        api_as("portal_admin").post(
            "/api/v1/registries/",
            {"project": "team-b", "name": "B's", "address": "b.example.com"},
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"project"}
    assert "Unknown field" in error["fields"]["project"][0]
    # project is a query parameter here: say so.
    assert "?project=" in error["fields"]["project"][0]
    assert Registry.objects.count() == before


def test_a_typo_in_the_access_check_is_refused(api_as, personas):
    error = assert_error(
        api_as("member").post(
            "/api/v1/access-check/",
            {"project": "team-a", "image": "nginx:1.27", "require_exist": False},
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"require_exist"}
    message = error["fields"]["require_exist"][0]
    assert "Unknown field" in message and "require_exists" in message


def test_unknown_fields_are_named_together_with_other_errors(api_as, personas):
    error = assert_error(
        api_as("portal_admin").post(
            "/api/v1/registries/", {"nmae": "X", "adress": "x.example.com"}
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"nmae", "adress", "name", "address"}


def test_bodiless_endpoints_take_an_empty_object_or_nothing(api_as, registry_a):
    client = api_as("project_admin")
    path = f"/api/v1/registries/{registry_a.pk}/disable/"
    error = assert_error(client.post(path, {"enabled": True}), 400, "invalid")
    assert set(error["fields"]) == {"enabled"}
    assert "takes no fields" in error["fields"]["enabled"][0]
    error = assert_error(_raw_post(client, path, "[1]"), 400, "invalid")
    assert "no request body" in error["message"]
    registry_a.refresh_from_db()
    assert registry_a.enabled

    assert client.post(path, {}).status_code == 200
    response = _raw_post(client, path, "")  # no body at all
    assert response.status_code == 200, response.content


def test_many_unknown_fields_give_a_bounded_answer(api_as, personas):
    body = {f"field{index}": 1 for index in range(5_000)}
    body.update(name="Team C")
    response = api_as("portal_admin").post("/api/v1/projects/", body)
    error = assert_error(response, 400, "invalid")
    assert 0 < len(error["fields"]) <= 21
    assert len(response.content) < 20_000


def _fill(path: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def test_every_write_operation_refuses_unknown_fields(
    api_as, personas, registry_a, client
):
    """Walk the schema so a new write endpoint cannot forget the rule."""
    from registries.models import Registry

    schema = client.get("/api/v1/schema/").json()
    values = {"slug": "team-a", "username": "carol", "id": registry_a.pk}
    admin = api_as("portal_admin")
    checked = []
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"post", "put", "patch", "delete"}:
                continue
            path = _fill(template, values)
            send = getattr(admin, method)
            if method == "delete":
                response = admin.client.delete(
                    path,
                    data=json.dumps({"no_such_field": 1}),
                    content_type="application/json",
                    **admin.headers,
                )
            else:
                response = send(path, {"no_such_field": 1})
            error = assert_error(response, 400, "invalid")
            assert "no_such_field" in error["fields"], (method, template, error)
            checked.append((method, template))
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]
                name = ref["schema"]["$ref"].rsplit("/", 1)[1]
                component = schema["components"]["schemas"][name]
                assert component["additionalProperties"] is False, name
    assert len(checked) >= 14, checked
    # Nothing was written: the entry, the project and its members are unchanged.
    assert Registry.objects.filter(pk=registry_a.pk, enabled=True).exists()
    assert admin.get("/api/v1/projects/team-a/members/carol/").status_code == 200
