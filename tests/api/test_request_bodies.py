"""Request bodies: too large or nested too deeply.

Every case goes through Django's test client as a real HTTP request and must be
a 4xx in the shared error body, never a 500, and must change nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import assert_error

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
