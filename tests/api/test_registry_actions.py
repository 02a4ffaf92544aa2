"""Verify, trust a certificate and check existence with credentials, over the API.

Against real distribution registries on loopback: one over TLS from a test CA
the portal does not trust yet, one behind basic authentication.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, start_registry
from tests.support.certs import TestCA

pytestmark = [pytest.mark.django_db, pytest.mark.registry, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture(scope="module")
def tls_registry(ca, tmp_path_factory):
    server = start_registry(tmp_path_factory, "https", ca=ca)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def basic_registry(ca, tmp_path_factory):
    server = start_registry(tmp_path_factory, "basic", ca=ca)
    server.image = server.pusher().image("team-a/private", "v1")
    yield server
    server.stop()


def test_verify_then_trust_the_certificate_shown(api_as, personas, tls_registry):
    admin = api_as("project_admin")
    created = admin.post(
        "/api/v1/registries/?project=team-a",
        {"name": "TLS", "address": tls_registry.url},
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    outcome = admin.post(f"/api/v1/registries/{pk}/verify/").json()
    assert outcome["ok"] is False
    assert outcome["code"].startswith("tls")
    shown = outcome["certificate"]
    assert shown["sha256_fingerprint"]
    health = admin.get(f"/api/v1/registries/{pk}/").json()
    assert health["verify_status"] == "error"

    # A fingerprint other than the one presented is refused; nothing is stored.
    error = assert_error(
        admin.post(
            f"/api/v1/registries/{pk}/trust-certificate/", {"sha256": "ab" * 32}
        ),
        400,
    )
    assert "not the one you approved" in error["message"]
    assert admin.get(f"/api/v1/registries/{pk}/").json()["connection"]["ca_pem"] == ""
    # A member may look but not trust.
    assert_error(
        api_as("member").post(
            f"/api/v1/registries/{pk}/trust-certificate/",
            {"sha256": shown["sha256_fingerprint"]},
        ),
        403,
    )

    trusted = admin.post(
        f"/api/v1/registries/{pk}/trust-certificate/",
        {"sha256": shown["sha256_fingerprint"]},
    )
    assert trusted.status_code == 200, trusted.content
    assert trusted.json()["ok"] is True
    entry = admin.get(f"/api/v1/registries/{pk}/").json()
    assert entry["verify_status"] == "ok"
    assert entry["api_version"] == "v2"
    assert "BEGIN CERTIFICATE" in entry["connection"]["ca_pem"]

    # Trusting again: the registry now presents no untrusted certificate.
    error = assert_error(
        admin.post(
            f"/api/v1/registries/{pk}/trust-certificate/",
            {"sha256": shown["sha256_fingerprint"]},
        ),
        400,
    )
    assert "no certificate to trust" in error["message"]


def test_existence_check_uses_the_entrys_credentials(
    api_as, personas, project_a, basic_registry
):
    from registries.services import registry_create, registry_update

    username, password = basic_registry.credentials
    entry = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="Private",
        address=basic_registry.url,
        namespace="team-a",
        username=username,
        password=password,
        ca_pem=basic_registry.ca_pem,
    )
    body = {
        "project": "team-a",
        "image": f"{basic_registry.host_port}/team-a/private:v1",
    }
    answer = api_as("viewer").post("/api/v1/access-check/", body).json()
    assert answer["allowed"] is True, answer
    assert answer["digest"] == basic_registry.image.digest

    registry_update(
        acting_user=personas["project_admin"], registry=entry, password="wrong"
    )
    answer = api_as("viewer").post("/api/v1/access-check/", body).json()
    assert (answer["allowed"], answer["code"]) == (False, "registry_error")
    assert "Private" in answer["reason"]
    assert "wrong" not in answer["reason"] and password not in answer["reason"]
