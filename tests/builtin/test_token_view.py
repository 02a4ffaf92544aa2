"""The token endpoint through Django's test client: who gets what, and refusals.

The registry's own verdict on these tokens is in ``test_registry.py``; here the
JWTs are verified with PyJWT against the certificate the header carries.
"""

from __future__ import annotations

import base64
import logging

import jwt
import pytest
from cryptography import x509

from registries.builtin import keys
from tests.builtin.conftest import basic
from tests.conftest import PASSWORD

URL = "/auth/token"
SERVICE = "portolan-registry"


@pytest.fixture
def ask(client, builtin_settings, personas):
    """GET the endpoint as ``username`` (None: anonymous) for ``scopes``."""

    def call(username, *scopes, secret=PASSWORD, service=SERVICE, **extra):
        headers = {}
        if username is not None:
            headers["HTTP_AUTHORIZATION"] = basic(username, secret)["Authorization"]
        params = [("service", service)] + [("scope", s) for s in scopes]
        query = "&".join(f"{k}={v}" for k, v in params)
        return client.get(f"{URL}?{query}", **headers, **extra)

    return call


def claims(response) -> dict:
    """Verify the token with the certificate in its x5c header and return claims."""
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    header = jwt.get_unverified_header(token)
    der = base64.b64decode(header["x5c"][0])
    public_key = x509.load_der_x509_certificate(der).public_key()
    assert header["kid"] == keys.libtrust_kid(public_key)
    return jwt.decode(
        token,
        public_key,
        algorithms=[header["alg"]],
        audience=SERVICE,
        issuer="portolan",
    )


def access(response) -> dict[str, list[str]]:
    return {entry["name"]: entry["actions"] for entry in claims(response)["access"]}


REPOS = (
    "repository:team-a/app:pull,push,delete",
    "repository:team-b/app:pull,push",
    "registry:catalog:*",
)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        (
            "portal_admin",
            {
                "team-a/app": ["pull", "push", "delete"],
                "team-b/app": ["pull", "push"],
                "catalog": ["*"],
            },
        ),
        ("project_admin", {"team-a/app": ["pull", "push", "delete"]}),
        ("member", {"team-a/app": ["pull", "push"]}),
        ("viewer", {"team-a/app": ["pull"]}),
        ("other_admin", {"team-b/app": ["pull", "push"]}),
    ],
)
def test_each_persona_gets_the_intersection(ask, personas, persona, expected):
    response = ask(personas[persona].username, *REPOS)
    assert access(response) == expected


def test_anonymous_gets_a_token_with_no_access(ask):
    response = ask(None, *REPOS)
    assert access(response) == {}
    assert claims(response)["sub"] == ""


def test_token_claims_follow_the_spec(ask):
    response = ask("bob", "repository:team-a/app:pull")
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"].endswith("Z")
    data = claims(response)
    assert data["aud"] == SERVICE  # a string, not a list
    assert data["iss"] == "portolan"
    assert data["sub"] == "bob"
    assert data["exp"] - data["iat"] == 300
    assert data["nbf"] <= data["iat"]
    assert len(data["jti"]) == 32
    assert response["Cache-Control"].startswith("max-age=0")


def test_es256_tokens(ask, builtin_settings):
    builtin_settings.BUILTIN_REGISTRY_TOKEN_ALGORITHM = "ES256"
    response = ask("bob", "repository:team-a/app:pull")
    assert jwt.get_unverified_header(response.json()["token"])["alg"] == "ES256"
    assert access(response) == {"team-a/app": ["pull"]}


def test_wrong_password_is_401_with_a_clear_body(ask, caplog):
    caplog.set_level(logging.INFO, logger="portolan.builtin.token")
    response = ask("bob", "repository:team-a/app:pull", secret="not-the-password")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert (
        "Wrong username, password or token" in response.json()["errors"][0]["message"]
    )
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert "token refused: account='bob'" in caplog.text
    assert "not-the-password" not in caplog.text


def test_grants_are_logged_without_secrets(ask, caplog):
    caplog.set_level(logging.INFO, logger="portolan.builtin.token")
    response = ask("bob", "repository:team-a/app:pull,push", "repository:team-b/x:pull")
    token = response.json()["token"]
    assert "token granted: account=bob kind=user" in caplog.text
    assert "granted=[repository:team-a/app:pull,push]" in caplog.text
    assert PASSWORD not in caplog.text
    assert token not in caplog.text


def test_repeated_failures_are_throttled(ask, builtin_settings):
    builtin_settings.BUILTIN_REGISTRY_AUTH_MAX_FAILURES = 3
    for _attempt in range(3):
        assert ask("bob", secret="guess").status_code == 401
    # Now even the right password waits, for this username from this address.
    throttled = ask("bob")
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert throttled["Retry-After"] == "300"
    # Another username, or the same one from another address, is not held up.
    assert ask("carol").status_code == 200
    assert ask("bob", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_one_password_tried_on_many_usernames_is_throttled(ask, builtin_settings):
    builtin_settings.BUILTIN_REGISTRY_AUTH_MAX_FAILURES_PER_ADDRESS = 3
    for username in ("u1", "u2", "u3"):
        assert ask(username, secret="Summer2026").status_code == 401
    # Each username failed once only, but the address is held up now ...
    throttled = ask("bob")
    assert throttled.status_code == 429
    assert "from your address" in throttled.json()["errors"][0]["message"]
    # ... and only that address.
    assert ask("bob", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_forwarded_for_counts_only_behind_a_configured_proxy(ask, builtin_settings):
    builtin_settings.BUILTIN_REGISTRY_AUTH_MAX_FAILURES = 2
    # Without a configured proxy the header is the client's own words: ignored.
    for forged in ("10.0.0.1", "10.0.0.2"):
        ask("bob", secret="guess", HTTP_X_FORWARDED_FOR=forged)
    assert ask("bob", HTTP_X_FORWARDED_FOR="10.0.0.3").status_code == 429

    # Behind one proxy, the client is the entry the proxy appended (the last);
    # what the client wrote further left does not change it.
    builtin_settings.PORTAL_PROXY_COUNT = 1
    for forged in ("10.0.0.1", "10.0.0.2"):
        ask("carol", secret="guess", HTTP_X_FORWARDED_FOR=f"{forged}, 192.0.2.7")
    assert ask("carol", HTTP_X_FORWARDED_FOR="192.0.2.7").status_code == 429
    # Another client behind the same proxy signs in as carol fine.
    assert ask("carol", HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 200


def test_a_username_cannot_forge_log_lines(ask, caplog):
    caplog.set_level(logging.INFO, logger="portolan.builtin.token")
    forged = "x\ntoken granted: account=admin kind=user"
    assert ask(forged, secret="guess").status_code == 401
    lines = caplog.text.splitlines()
    assert not any(line.lstrip().startswith("token granted") for line in lines)
    assert any("token refused: account='x\\ntoken granted" in line for line in lines)


def test_success_clears_the_failure_count(ask, builtin_settings):
    builtin_settings.BUILTIN_REGISTRY_AUTH_MAX_FAILURES = 3
    for _round in range(2):
        assert ask("bob", secret="guess").status_code == 401
        assert ask("bob", secret="guess").status_code == 401
        assert ask("bob").status_code == 200


def test_inactive_user_is_refused(ask, personas):
    personas["member"].is_active = False
    personas["member"].save()
    assert ask("bob").status_code == 401


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer abc", "Basic authentication"),
        ("Basic !!!notbase64", "cannot be decoded"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "no password"),
    ],
)
def test_unusable_authorization_headers(client, builtin_settings, header, message):
    response = client.get(f"{URL}?service={SERVICE}", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert message in response.json()["errors"][0]["message"]


def test_malformed_scope_and_wrong_service_are_400(ask):
    bad_scope = ask("bob", "repository:team-a")
    assert bad_scope.status_code == 400
    assert bad_scope.json()["errors"][0]["code"] == "INVALID_SCOPE"
    other = ask("bob", "repository:team-a/app:pull", service="someone-else")
    assert other.status_code == 400
    assert "portolan-registry" in other.json()["errors"][0]["message"]


def test_session_login_does_not_count(client, builtin_settings, personas):
    client.force_login(personas["portal_admin"])
    response = client.get(f"{URL}?service={SERVICE}&scope=registry:catalog:*")
    assert access(response) == {}


def test_oauth2_password_grant(client, builtin_settings, personas):
    response = client.post(
        URL,
        {
            "grant_type": "password",
            "username": "bob",
            "password": PASSWORD,
            "service": SERVICE,
            "client_id": "skopeo",
            "scope": "repository:team-a/app:pull,push repository:team-b/app:pull",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "repository:team-a/app:pull,push"
    assert body["token_type"] == "Bearer"
    assert access(response) == {"team-a/app": ["pull", "push"]}


def test_oauth2_refusals(client, builtin_settings, personas):
    wrong = client.post(
        URL,
        {
            "grant_type": "password",
            "username": "bob",
            "password": "x",
            "service": SERVICE,
        },
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_grant"
    refresh = client.post(URL, {"grant_type": "refresh_token", "refresh_token": "x"})
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "unsupported_grant_type"
    missing = client.post(URL, {"grant_type": "password", "username": "bob"})
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_other_methods_are_405(client, builtin_settings):
    assert client.put(URL).status_code == 405


def test_personal_token_is_bounded_by_its_scope(ask, personas):
    from registries.builtin.models import TokenScope
    from registries.builtin.services import personal_token_create, personal_token_revoke

    admin = personas["project_admin"]
    created = personal_token_create(
        acting_user=admin, user=admin, name="laptop", scope=TokenScope.PULL
    )
    response = ask("alice", REPOS[0], secret=created.secret)
    assert access(response) == {"team-a/app": ["pull"]}
    # Only with its own user's name.
    assert ask("bob", REPOS[0], secret=created.secret).status_code == 401
    personal_token_revoke(acting_user=admin, token=created.obj)
    assert ask("alice", REPOS[0], secret=created.secret).status_code == 401


def test_robot_account_gets_its_project_only(ask, personas, project_a):
    from registries.builtin.models import RobotScope
    from registries.builtin.services import robot_create

    created = robot_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="ci",
        scope=RobotScope.PUSH,
    )
    response = ask("robot$team-a+ci", *REPOS, secret=created.secret)
    assert access(response) == {"team-a/app": ["pull", "push"]}
    assert claims(response)["sub"] == "robot$team-a+ci"
    # The token only opens its own robot.
    assert ask("robot$team-a+other", *REPOS, secret=created.secret).status_code == 401


def test_expired_robot_is_refused(ask, personas, project_a):
    from datetime import timedelta

    from django.utils import timezone

    from registries.builtin.models import RobotAccount
    from registries.builtin.services import robot_create

    created = robot_create(
        acting_user=personas["project_admin"], project=project_a, name="old"
    )
    RobotAccount.objects.filter(pk=created.obj.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert ask("robot$team-a+old", secret=created.secret).status_code == 401
