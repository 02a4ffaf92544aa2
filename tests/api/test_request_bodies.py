"""Request bodies: too large, nested too deeply, bad certificates.

Every case goes through Django's test client as a real HTTP request and must be
a 4xx in the shared error body, never a 500, and must change nothing.
"""

from __future__ import annotations

import json

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
