"""The OpenAPI schema and the Swagger UI, served from our own static files."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_without_warnings(tmp_path):
    # --fail-on-warn: an endpoint drf-spectacular cannot describe fails here.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml")
    )
    assert "/api/v1/access-check/" in (tmp_path / "s.yml").read_text()


def test_schema_documents_every_operation_and_its_errors(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["tokenAuth"][
            "description"
        ],
    }
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
    }
    for expected in [
        ("GET", "/api/v1/me/"),
        ("GET", "/api/v1/projects/"),
        ("POST", "/api/v1/projects/"),
        ("DELETE", "/api/v1/projects/{slug}/"),
        ("PATCH", "/api/v1/projects/{slug}/members/{username}/"),
        ("POST", "/api/v1/registries/"),
        ("PATCH", "/api/v1/registries/{id}/"),
        ("POST", "/api/v1/registries/{id}/enable/"),
        ("POST", "/api/v1/registries/{id}/disable/"),
        ("POST", "/api/v1/registries/{id}/verify/"),
        ("POST", "/api/v1/registries/{id}/trust-certificate/"),
        ("GET", "/api/v1/audit/"),
        ("POST", "/api/v1/access-check/"),
    ]:
        assert expected in operations, expected
    error_ref = "#/components/schemas/Error"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "403", "404", "429"):
                content = operation["responses"][status]["content"]
                assert content["application/json"]["schema"]["$ref"] == error_ref, (
                    method,
                    path,
                    status,
                )
    page_size = next(
        p
        for p in schema["paths"]["/api/v1/projects/"]["get"]["parameters"]
        if p["name"] == "page_size"
    )
    assert page_size["schema"]["maximum"] == 100


def test_swagger_ui_is_served_locally(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/schema/" in html
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert external == [], "the docs page must not load anything from a CDN"
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html)
    assert any("swagger-ui-bundle" in asset for asset in assets), assets
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        body = (
            b"".join(served.streaming_content) if served.streaming else served.content
        )
        assert len(body) > 100, asset
