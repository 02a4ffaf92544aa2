"""The built-in registry end to end: the real docker-registry trusting the portal's
token service (live server), driven by the real skopeo and by raw requests.

Refusals of forged tokens are checked by sending them straight to the registry,
each beside a control token that differs only in what was forged.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.builtin.conftest import fetch_token
from tests.builtin.oci import oci_layout
from tests.conftest import PASSWORD
from tests.support.images import ImagePusher

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]

MANIFEST_ACCEPT = (
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)


@pytest.fixture
def base_image(registry_settings, personas):
    """Push team-a/base:1 as the portal admin through the token endpoint."""
    server = registry_settings

    def authorize(scope: str) -> dict[str, str]:
        token = fetch_token(server, [scope], "root", PASSWORD)
        return {"Authorization": f"Bearer {token}"}

    pusher = ImagePusher(server.url, verify=server.ca_path, authorize=authorize)
    # A fresh repository per test: the registry lives for the whole session.
    return pusher.image(f"team-a/base-{uuid.uuid4().hex[:8]}", "1")


def assert_denied(result) -> None:
    """Assert skopeo failed because the registry refused the token's access."""
    assert result.returncode != 0
    assert "requested access to the resource is denied" in result.stderr, result.stderr


def _tags(server, repository: str) -> list[str]:
    token = fetch_token(server, [f"repository:{repository}:pull"], "root", PASSWORD)
    response = server.get(f"/v2/{repository}/tags/list", token)
    assert response.status_code == 200, response.text
    return sorted(response.json().get("tags") or [])


def test_member_logs_in_and_pushes_with_skopeo(skopeo, personas, tmp_path):
    refused = skopeo.login("bob", "wrong-password")
    assert refused.returncode != 0
    assert "invalid username/password" in refused.stderr, refused.stderr
    login = skopeo.login("bob", PASSWORD)
    assert login.returncode == 0, login.stderr
    oci_layout(tmp_path / "image", "1")
    pushed = skopeo.push(tmp_path / "image", "1", "team-a/app:1")
    assert pushed.returncode == 0, pushed.stderr
    assert _tags(skopeo.server, "team-a/app") == ["1"]
    # The same member cannot push outside the project's namespace.
    assert_denied(skopeo.push(tmp_path / "image", "1", "team-b/app:1"))


def test_viewer_pulls_but_cannot_push(skopeo, base_image, tmp_path):
    creds = f"carol:{PASSWORD}"
    pulled = skopeo.pull(f"{base_image.repository}:1", tmp_path / "out", creds)
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "out" / "index.json").exists()
    oci_layout(tmp_path / "image", "2")
    pushed = skopeo.push(tmp_path / "image", "2", f"{base_image.repository}:2", creds)
    assert_denied(pushed)
    assert _tags(skopeo.server, base_image.repository) == ["1"]


def test_member_of_another_project_can_neither_pull_nor_push(
    skopeo, base_image, tmp_path
):
    creds = f"mallory:{PASSWORD}"
    pulled = skopeo.pull(f"{base_image.repository}:1", tmp_path / "out", creds)
    assert_denied(pulled)
    oci_layout(tmp_path / "image", "2")
    pushed = skopeo.push(tmp_path / "image", "2", f"{base_image.repository}:2", creds)
    assert_denied(pushed)
    assert _tags(skopeo.server, base_image.repository) == ["1"]


def test_anonymous_client_gets_nothing(skopeo, base_image, tmp_path):
    server = skopeo.server
    assert_denied(skopeo.pull(f"{base_image.repository}:1", tmp_path / "out"))
    # The token service answers anonymously, with no access at all...
    token = fetch_token(server, [f"repository:{base_image.repository}:pull"])
    assert jwt.decode(token, options={"verify_signature": False})["access"] == []
    # ...which the registry refuses for the manifest and the catalog.
    path = f"/v2/{base_image.repository}/manifests/1"
    assert server.get(path, token, Accept=MANIFEST_ACCEPT).status_code == 401
    assert server.get("/v2/_catalog", token).status_code == 401
    assert server.get("/v2/").status_code == 401


def _claims(server, repository: str, **changes) -> dict:
    from registries.builtin import tokens
    from registries.builtin.scopes import Access

    claims = tokens.claims_for("bob", [Access("repository", repository, ("pull",))])
    claims.update(changes)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_forged_tokens_are_refused_by_the_registry(registry_settings, base_image):
    from registries.builtin import keys, tokens

    server = registry_settings
    repository = base_image.repository
    path = f"/v2/{repository}/manifests/1"

    def status(token: str) -> int:
        return server.get(path, token, Accept=MANIFEST_ACCEPT).status_code

    # Control: a token from the endpoint, and one signed here, both work.
    issued = fetch_token(server, [f"repository:{repository}:pull"], "bob", PASSWORD)
    assert status(issued) == 200
    assert status(tokens.sign(_claims(server, repository))) == 200

    # An edited scope keeps the old signature: the registry refuses it.
    header, payload, signature = issued.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["access"][0]["name"] = f"{repository}-other"
    edited = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    assert status(edited) == 401
    claims["access"][0]["name"] = repository
    claims["sub"] = "root"
    assert (
        status(".".join([header, _b64(json.dumps(claims).encode()), signature])) == 401
    )

    # A wrong signature: another key, while claiming the portal's certificate.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pair = keys.signing_key("RS256")
    forged = jwt.encode(
        _claims(server, repository),
        stranger,
        algorithm="RS256",
        headers={
            "x5c": [base64.b64encode(pair.certificate_der).decode()],
            "kid": pair.kid,
        },
    )
    assert status(forged) == 401

    # The portal's own key, but another audience or issuer.
    assert status(tokens.sign(_claims(server, repository, aud="other-registry"))) == 401
    assert status(tokens.sign(_claims(server, repository, iss="someone-else"))) == 401
    # A list audience is refused by 2.8 even when it names the service.
    from django.conf import settings

    listed = _claims(server, repository, aud=[settings.BUILTIN_REGISTRY_SERVICE])
    assert status(tokens.sign(listed)) == 401

    # Expired beyond the registry's 60 s leeway.
    now = int(time.time())
    expired = _claims(server, repository, iat=now - 900, nbf=now - 900, exp=now - 120)
    assert status(tokens.sign(expired)) == 401


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_registry_finds_the_key_by_x5c_or_libtrust_kid(
    registry_settings, base_image, algorithm
):
    from registries.builtin import tokens

    server = registry_settings
    path = f"/v2/{base_image.repository}/manifests/1"
    claims = _claims(server, base_image.repository)
    for x5c, kid in ((True, False), (False, True)):
        token = tokens.sign(claims, algorithm=algorithm, x5c=x5c, kid=kid)
        assert server.get(path, token, Accept=MANIFEST_ACCEPT).status_code == 200
    # With neither, the registry cannot find the key.
    token = tokens.sign(claims, algorithm=algorithm, x5c=False, kid=False)
    assert server.get(path, token, Accept=MANIFEST_ACCEPT).status_code == 401


def test_robot_token_works_until_revoked(skopeo, personas, project_a, tmp_path):
    from registries.builtin.models import RobotScope
    from registries.builtin.services import robot_create, robot_revoke

    created = robot_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="ci",
        scope=RobotScope.PUSH,
    )
    creds = f"{created.obj.username}:{created.secret}"
    oci_layout(tmp_path / "image", "1")
    pushed = skopeo.push(tmp_path / "image", "1", "team-a/robot-app:1", creds)
    assert pushed.returncode == 0, pushed.stderr
    robot_revoke(acting_user=personas["project_admin"], robot=created.obj)
    again = skopeo.push(tmp_path / "image", "1", "team-a/robot-app:2", creds)
    assert again.returncode != 0
    assert "Wrong username, password or token" in again.stderr, again.stderr
    assert _tags(skopeo.server, "team-a/robot-app") == ["1"]


def test_pull_only_robot_cannot_push(skopeo, personas, project_a, base_image, tmp_path):
    from registries.builtin.services import robot_create

    created = robot_create(
        acting_user=personas["project_admin"], project=project_a, name="reader"
    )
    creds = f"{created.obj.username}:{created.secret}"
    pulled = skopeo.pull(f"{base_image.repository}:1", tmp_path / "out", creds)
    assert pulled.returncode == 0, pulled.stderr
    oci_layout(tmp_path / "image", "2")
    pushed = skopeo.push(tmp_path / "image", "2", f"{base_image.repository}:2", creds)
    assert_denied(pushed)


def test_catalog_only_for_portal_admins_and_the_crawler(registry_settings, base_image):
    from registries.builtin.services import builtin_registry_sync

    server = registry_settings
    scope = ["registry:catalog:*"]
    admin = fetch_token(server, scope, "root", PASSWORD)
    response = server.get("/v2/_catalog", admin)
    assert response.status_code == 200
    assert base_image.repository in response.json()["repositories"]
    for user in ("alice", "bob"):
        token = fetch_token(server, scope, user, PASSWORD)
        assert server.get("/v2/_catalog", token).status_code == 401
    entry = builtin_registry_sync()
    crawler = fetch_token(server, scope, entry.username, entry.password)
    assert server.get("/v2/_catalog", crawler).status_code == 200
    # The crawler pulls every project's repositories, and never pushes.
    repo_scope = f"repository:{base_image.repository}:pull,push"
    crawler = fetch_token(server, [repo_scope], entry.username, entry.password)
    claims = jwt.decode(crawler, options={"verify_signature": False})
    assert claims["access"][0]["actions"] == ["pull"]


def test_delete_tag_through_the_service(registry_settings, personas, base_image):
    from django.core.exceptions import PermissionDenied

    from registries.builtin.services import builtin_tag_delete

    server = registry_settings
    repository = base_image.repository
    with pytest.raises(PermissionDenied):
        builtin_tag_delete(
            acting_user=personas["member"], repository=repository, tag="1"
        )
    assert _tags(server, repository) == ["1"]
    digest = builtin_tag_delete(
        acting_user=personas["project_admin"], repository=repository, tag="1"
    )
    assert digest == base_image.digest
    assert _tags(server, repository) == []
