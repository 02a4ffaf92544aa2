"""Tests for the probe ("Verify") and ``adapter_for``.

Against the faithful fakes built from the documented shapes (PROTOCOLS.md; the
real Docker Hub, Harbor, Artifactory and V1 registries cannot be reached here),
and against the real distribution registry (``docker-registry``) in its plain,
TLS, Basic and token modes from ``tests/registries/conftest.py``.
"""

from __future__ import annotations

import pytest

from registries.clients import errors
from registries.clients.artifactory import ArtifactoryClient
from registries.clients.dockerhub import DockerHubClient
from registries.clients.harbor import HarborClient
from registries.clients.probe import adapter_for, probe
from registries.clients.types import ApiVersion, AuthScheme, ClientConfig, Flavour
from registries.clients.v1 import V1Client
from registries.clients.v2 import V2Client
from tests.fakes import FakeServer, text_reply
from tests.registries.conftest_fakes import (
    fake_artifactory,
    fake_dockerhub,
    fake_harbor,
    fake_v1_index,
    fake_v1_standalone,
)
from tests.support.registry import refused_port
from tests.support.tokenserver import Reply, StubServer

__all__ = [
    "fake_artifactory",
    "fake_dockerhub",
    "fake_harbor",
    "fake_v1_index",
    "fake_v1_standalone",
]


def config_for(url: str, username: str = "", password: str = "", **kw) -> ClientConfig:
    return ClientConfig(
        base_url=url, username=username, password=password, allow_plain_http=True, **kw
    )


# -- V1 -------------------------------------------------------------------------


def test_open_v1_index_is_found_by_its_ping(fake_v1_index):
    result = probe(config_for(fake_v1_index.url))
    assert result.api_version is ApiVersion.V1
    assert result.auth_scheme is AuthScheme.NONE
    assert result.credentials_ok is None
    assert "V1" in result.message


def test_v1_with_basic_checks_the_credentials(fake_v1_standalone):
    fake_v1_standalone.users = {"alice": "s3cret"}
    url = fake_v1_standalone.url

    good = probe(config_for(url, "alice", "s3cret"))
    wrong = probe(config_for(url, "alice", "nope"))
    anonymous = probe(config_for(url))

    assert (good.api_version, good.auth_scheme) == (ApiVersion.V1, AuthScheme.BASIC)
    assert "standalone" in good.message
    assert good.credentials_ok is True
    assert wrong.credentials_ok is False
    assert "refused" in wrong.message
    assert anonymous.credentials_ok is None
    assert "credentials needed" in anonymous.message


# -- Harbor ---------------------------------------------------------------------


@pytest.fixture
def harbor(fake_harbor):
    fake_harbor.add_project("library", public=True)
    fake_harbor.add_project("team", public=False, members=["robot$team+ci"])
    fake_harbor.add_user("robot$team+ci", "robotpass")
    fake_harbor.store.add_image("library/nginx", "1.25")
    fake_harbor.store.add_image("team/app", "v1")
    return fake_harbor


def test_harbor_admin_is_verified_with_a_readable_listing(harbor):
    result = probe(config_for(harbor.url, "admin", "Harbor12345"))
    assert result.flavour is Flavour.HARBOR
    assert result.api_version is ApiVersion.V2
    assert result.auth_scheme is AuthScheme.BEARER
    assert result.credentials_ok is True
    assert result.catalog_readable is True
    assert harbor.version in result.message


def test_harbor_robot_account_is_verified(harbor):
    result = probe(config_for(harbor.url, "robot$team+ci", "robotpass"))
    assert result.credentials_ok is True
    token_requests = [r for r in harbor.requests if r.path == "/service/token"]
    assert any(
        r.basic_credentials() == ("robot$team+ci", "robotpass") for r in token_requests
    )


def test_harbor_wrong_password_does_not_verify(harbor):
    # Harbor's API would quietly answer as anonymous: the probe must not rely on it.
    result = probe(config_for(harbor.url, "admin", "wrong"))
    assert result.flavour is Flavour.HARBOR
    assert result.credentials_ok is False
    assert result.catalog_readable is None
    token_requests = [r for r in harbor.requests if r.path == "/service/token"]
    assert any(r.basic_credentials() == ("admin", "wrong") for r in token_requests)


def test_harbor_anonymous_reads_public_projects(harbor):
    result = probe(config_for(harbor.url))
    assert result.credentials_ok is None
    assert result.catalog_readable is True


# -- Artifactory ----------------------------------------------------------------


@pytest.fixture
def jfrog(fake_artifactory):
    fake_artifactory.users["deployer"] = "pa55word"
    fake_artifactory.access_tokens["tok-1"] = "deployer"
    fake_artifactory.add_docker_repository("docker-local").add_image("app", "1")
    return fake_artifactory


def test_artifactory_is_found_by_its_headers_without_a_v2_ping(jfrog):
    result = probe(config_for(jfrog.url, "deployer", "pa55word"))

    assert result.flavour is Flavour.ARTIFACTORY
    assert result.api_version is ApiVersion.V2
    assert result.auth_scheme is AuthScheme.BEARER
    assert result.credentials_ok is True
    assert result.catalog_readable is True
    assert "docker-local" in result.message
    catalog = jfrog.requests_to("/artifactory/api/docker/docker-local/v2/_catalog")
    assert {r.param("n") for r in catalog} == {"1"}


def test_artifactory_access_token_is_verified(jfrog):
    assert probe(config_for(jfrog.url, "", "tok-1")).credentials_ok is True


def test_artifactory_wrong_password_does_not_verify_even_with_anonymous_access(jfrog):
    jfrog.anonymous = True
    assert probe(config_for(jfrog.url)).credentials_ok is None
    result = probe(config_for(jfrog.url, "deployer", "wrong"))
    assert result.credentials_ok is False
    assert "Bad credentials" in result.message


def test_artifactory_without_anonymous_access_needs_credentials(jfrog):
    result = probe(config_for(jfrog.url))
    assert result.credentials_ok is None
    assert result.catalog_readable is False
    assert result.auth_scheme is AuthScheme.BASIC


# -- Docker Hub -----------------------------------------------------------------


@pytest.fixture
def hub(fake_dockerhub):
    fake_dockerhub.add_repository("library/alpine", description="tiny")
    fake_dockerhub.users["alice"] = "hunter2"
    return fake_dockerhub


@pytest.mark.parametrize("host", ["registry-1.docker.io", "index.docker.io"])
def test_docker_hub_is_recognised_by_host(hub, host):
    config = config_for(f"https://{host}", "alice", "hunter2")
    result = probe(config, dockerhub_urls=hub.client_kwargs())
    assert result.flavour is Flavour.DOCKER_HUB
    assert result.auth_scheme is AuthScheme.BEARER
    assert result.credentials_ok is True
    assert result.catalog_readable is False
    assert hub.hub.requests_to("/v2/search/repositories/")


def test_docker_hub_wrong_password_does_not_verify(hub):
    config = config_for("https://registry-1.docker.io", "alice", "wrong")
    result = probe(config, dockerhub_urls=hub.client_kwargs())
    assert result.credentials_ok is False
    assert (
        probe(
            config_for("https://docker.io"), dockerhub_urls=hub.client_kwargs()
        ).credentials_ok
        is None
    )


# -- failures -------------------------------------------------------------------


class NotARegistryServer(FakeServer):
    def handle(self, request):
        return text_reply("<html>Welcome to nginx!</html>", 404)


class WebPage(FakeServer):
    def handle(self, request):
        return text_reply("<html>Hello</html>")


@pytest.mark.parametrize("server_class", [NotARegistryServer, WebPage])
def test_a_web_server_is_not_a_registry(server_class):
    with server_class() as server:
        with pytest.raises(errors.NotARegistry):
            probe(config_for(server.url))


def test_plain_http_refusal_propagates(fake_v1_index):
    with pytest.raises(errors.PlainHTTPNotAllowed):
        probe(ClientConfig(base_url=fake_v1_index.url))
    assert fake_v1_index.requests == []


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (429, {"Retry-After": "120"}, errors.RateLimited),
        (503, {}, errors.ServerError),
    ],
)
def test_a_busy_or_failing_registry_is_not_called_not_a_registry(
    status, headers, error
):
    reply = Reply(status, {"errors": [{"code": "X", "message": "busy"}]}, headers)
    with StubServer(lambda request: reply) as server:
        with pytest.raises(error) as caught:
            probe(config_for(server.url))
    assert caught.value.retryable
    if status == 429:
        assert caught.value.retry_after == 120


def test_connection_refused_propagates():
    with refused_port() as port, pytest.raises(errors.Unreachable):
        probe(config_for(f"http://127.0.0.1:{port}", connect_timeout=1.0))


# -- adapter_for ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "api_version", "expected"),
    [
        (Flavour.DISTRIBUTION, ApiVersion.V2, V2Client),
        (Flavour.UNKNOWN, ApiVersion.V2, V2Client),
        (Flavour.HARBOR, ApiVersion.V2, HarborClient),
        (Flavour.ARTIFACTORY, ApiVersion.V2, ArtifactoryClient),
        ("dockerhub", "v2", DockerHubClient),
        (Flavour.UNKNOWN, ApiVersion.V1, V1Client),
    ],
)
def test_adapter_for_picks_the_adapter(flavour, api_version, expected):
    config = config_for("http://127.0.0.1:1")
    assert type(adapter_for(config, flavour, api_version)) is expected


def test_probe_result_feeds_adapter_for(harbor):
    config = config_for(harbor.url, "admin", "Harbor12345")
    result = probe(config)
    adapter = adapter_for(config, result.flavour, result.api_version)
    assert sorted(info.name for info in adapter.list_repositories()) == sorted(
        harbor.store.tags
    )


# -- the real distribution registry ---------------------------------------------


@pytest.mark.registry
def test_real_plain_registry(http_registry):
    result = probe(http_registry.client_config())
    assert (result.api_version, result.flavour) == (ApiVersion.V2, Flavour.DISTRIBUTION)
    assert result.auth_scheme is AuthScheme.NONE
    assert result.credentials_ok is None
    assert result.catalog_readable is True


@pytest.mark.registry
def test_real_plain_registry_given_credentials_says_they_were_not_checked(
    http_registry,
):
    result = probe(http_registry.client_config(username="x", password="y"))
    assert result.credentials_ok is None
    assert "not checked" in result.message


@pytest.mark.registry
def test_real_tls_registry_untrusted_certificate_propagates(https_registry):
    assert probe(https_registry.client_config()).flavour is Flavour.DISTRIBUTION
    with pytest.raises(errors.TLSUntrusted) as caught:
        probe(https_registry.client_config(ca_pem=""))
    assert caught.value.certificate is not None
    assert caught.value.certificate.sha256_fingerprint


@pytest.mark.registry
@pytest.mark.parametrize(
    ("mode", "scheme"), [("basic", AuthScheme.BASIC), ("token", AuthScheme.BEARER)]
)
def test_real_registry_with_auth_checks_credentials(request, mode, scheme):
    server = request.getfixturevalue(f"{mode}_registry")

    good = probe(server.client_config())
    wrong = probe(server.client_config(password="not-the-password"))
    anonymous = probe(server.client_config(username="", password=""))

    assert good.auth_scheme is scheme
    assert (good.credentials_ok, good.catalog_readable) == (True, True)
    assert wrong.credentials_ok is False
    assert wrong.catalog_readable is None
    assert anonymous.credentials_ok is None
    assert anonymous.catalog_readable is False
