"""API fixtures: token-authenticated clients per persona, and a real registry.

``api_as(persona)`` returns a client that sends ``Authorization: Token <key>``
with a key made by the real token service, so every API test also exercises
token authentication. ``api_as(None)`` is anonymous.
"""

from __future__ import annotations

import json

import pytest

from tests.support.registry import RegistryServer, registry_binary

PERSONAS = ("portal_admin", "project_admin", "member", "viewer", "other_admin")


class ApiClient:
    """A thin JSON client over Django's test client."""

    def __init__(self, client, key: str | None):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}

    def _send(self, method: str, path: str, data=None, **extra):
        kwargs = dict(self.headers)
        kwargs.update(extra)
        if data is not None:
            kwargs["data"] = json.dumps(data)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path, **extra):
        return self._send("get", path, **extra)

    def post(self, path, data=None, **extra):
        return self._send("post", path, data if data is not None else {}, **extra)

    def patch(self, path, data=None, **extra):
        return self._send("patch", path, data if data is not None else {}, **extra)

    def delete(self, path, **extra):
        return self._send("delete", path, **extra)


@pytest.fixture
def token_for(db):
    """Return a fresh API key for ``user`` made by the real token service."""
    from portal.api.tokens import api_token_create

    counter = iter(range(1_000_000))

    def make(user) -> str:
        return api_token_create(
            acting_user=user, user=user, name=f"test-{next(counter)}"
        ).key

    return make


@pytest.fixture
def api_as(personas, token_for):
    """Return an ``ApiClient`` for a persona name (or a user); None is anonymous."""
    from django.test import Client

    def make(who) -> ApiClient:
        if who is None:
            return ApiClient(Client(), None)
        user = personas[who] if isinstance(who, str) else who
        return ApiClient(Client(), token_for(user))

    return make


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Assert the shared error body and status; return the error object."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def start_registry(tmp_path_factory, mode: str = "http", **kwargs) -> RegistryServer:
    """Start a real distribution registry, or skip when the binary is missing."""
    if registry_binary() is None:
        pytest.skip(
            "docker-registry (Debian package 'docker-registry') is not installed"
        )
    workdir = tmp_path_factory.mktemp(f"api-registry-{mode}")
    return RegistryServer(mode, workdir=workdir, **kwargs).start()


@pytest.fixture(scope="session")
def live_registry(tmp_path_factory):
    """Run one real plain-HTTP distribution registry for the session."""
    server = start_registry(tmp_path_factory)
    yield server
    server.stop()
