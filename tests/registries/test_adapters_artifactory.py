"""Tests for the Artifactory adapter against the fake Artifactory.

Faithful fake built from the documented shapes (PROTOCOLS.md, section JFrog
Artifactory, after JFrog's Docker REST API docs); no Artifactory can be run or
reached here.
"""

from __future__ import annotations

import pytest

from registries.clients import errors
from registries.clients.artifactory import ArtifactoryClient, is_artifactory
from registries.clients.base import RegistryAdapter
from registries.clients.types import ClientConfig, Platform
from tests.registries.conftest_fakes import fake_artifactory

__all__ = ["fake_artifactory"]

TOKEN = "eyJ2ZXIiOiIyIn0.access-token"


@pytest.fixture
def jfrog(fake_artifactory):
    """Return the fake Artifactory with two Docker keys, a user and a token."""
    fake_artifactory.users["deployer"] = "pa55word"
    fake_artifactory.access_tokens[TOKEN] = "deployer"
    local = fake_artifactory.add_docker_repository("docker-local")
    local.add_image("app/web", "1.0", labels={"team": "web"})
    local.add_image("app/web", "2.0")
    local.add_index(
        "tools/cli", "latest", [("linux", "amd64", ""), ("linux", "arm64", "")]
    )
    remote = fake_artifactory.add_docker_repository("docker-remote")
    remote.add_image("library/alpine", "3.20")
    return fake_artifactory


def client_for(fake, username="deployer", password="pa55word", **kwargs):
    config = ClientConfig(
        base_url=fake.url, username=username, password=password, allow_plain_http=True
    )
    return ArtifactoryClient(config, **kwargs)


def all_names(fake) -> list[str]:
    return sorted(
        f"{key}/{name}" for key, store in fake.docker.items() for name in store.tags
    )


def test_artifactory_client_is_a_registry_adapter(jfrog):
    client = client_for(jfrog)
    assert isinstance(client, RegistryAdapter)
    with pytest.raises(errors.NotSupported):
        client.search("web")


def test_fake_carries_the_markers_the_detection_looks_for(jfrog):
    assert is_artifactory({"X-JFrog-Version": "Artifactory/7.77.3"})
    assert is_artifactory({"Server": "Artifactory/7.77.3 77703900"})
    assert not is_artifactory({"Server": "nginx"})
    headers = dict(jfrog.extra_headers())
    assert is_artifactory(headers)


def test_list_repositories_joins_every_docker_key(jfrog):
    listed = [info.name for info in client_for(jfrog).list_repositories()]

    assert sorted(listed) == all_names(jfrog)
    [keys_request] = jfrog.requests_to("/artifactory/api/repositories")
    assert keys_request.param("packageType") == "docker"


def test_prefix_with_a_key_reads_only_that_key(jfrog):
    listed = [
        info.name for info in client_for(jfrog).list_repositories("docker-local/app")
    ]
    assert listed == ["docker-local/app/web"]
    assert not jfrog.requests_to("/artifactory/api/docker/docker-remote/")


def test_repo_key_limits_the_adapter_to_one_key(jfrog):
    client = client_for(jfrog, repo_key="docker-remote")
    assert [info.name for info in client.list_repositories()] == [
        "docker-remote/library/alpine"
    ]
    assert not jfrog.requests_to("/artifactory/api/repositories")
    with pytest.raises(errors.NotFound):
        client.list_tags("docker-local/app/web")


def test_list_tags_and_describe_use_the_keys_v2_api(jfrog):
    client = client_for(jfrog)
    store = jfrog.docker["docker-local"]

    tags = client.list_tags("docker-local/app/web")
    details = client.describe("docker-local/app/web", "1.0")

    assert sorted(tags) == sorted(store.tags["app/web"])
    assert details.repository == "docker-local/app/web"
    assert details.digest == store.tags["app/web"]["1.0"]
    assert details.size == store.manifest_size(details.digest)
    assert details.labels == {"team": "web"}
    assert jfrog.requests_to(
        "/artifactory/api/docker/docker-local/v2/app/web/tags/list"
    )


def test_describe_an_index(jfrog):
    details = client_for(jfrog).describe("docker-local/tools/cli", "latest")
    assert details.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64"))


def test_base_url_may_include_the_artifactory_context_path(jfrog):
    config = ClientConfig(
        base_url=jfrog.url + "/artifactory/",
        username="deployer",
        password="pa55word",
        allow_plain_http=True,
    )
    listed = [info.name for info in ArtifactoryClient(config).list_repositories()]
    assert sorted(listed) == all_names(jfrog)


def test_a_base_url_naming_a_key_limits_the_adapter_to_it(jfrog):
    config = ClientConfig(
        base_url=jfrog.url + "/artifactory/api/docker/docker-remote",
        username="deployer",
        password="pa55word",
        allow_plain_http=True,
    )
    client = ArtifactoryClient(config)
    assert client.repo_key == "docker-remote"
    assert client.list_tags("docker-remote/library/alpine") == ["3.20"]


def test_access_token_goes_as_bearer(jfrog):
    client = client_for(jfrog, username="", password=TOKEN)

    listed = [info.name for info in client.list_repositories()]
    client.describe("docker-local/app/web", "2.0")

    assert sorted(listed) == all_names(jfrog)
    assert {r.bearer_token() for r in jfrog.requests} == {TOKEN}


def test_user_with_access_token_goes_as_basic(jfrog):
    client = client_for(jfrog, username="deployer", password=TOKEN)
    assert client.list_tags("docker-remote/library/alpine") == ["3.20"]
    assert {r.basic_credentials() for r in jfrog.requests} == {("deployer", TOKEN)}


def test_a_docker_api_challenge_is_answered_with_a_token(jfrog):
    jfrog.docker_basic = False
    client = client_for(jfrog)
    assert client.list_tags("docker-remote/library/alpine") == ["3.20"]
    token_path = "/artifactory/api/docker/docker-remote/v2/token"
    [token_request] = [r for r in jfrog.requests_to(token_path) if r.method == "GET"]
    assert token_request.basic_credentials() == ("deployer", "pa55word")
    assert jfrog.requests[-1].bearer_token()


def test_wrong_credentials_fail_with_artifactorys_message(jfrog):
    with pytest.raises(errors.AuthFailed, match="Bad credentials"):
        list(client_for(jfrog, password="wrong").list_repositories())


def test_anonymous_access_when_disabled_is_auth_failed(jfrog):
    with pytest.raises(errors.AuthFailed):
        list(client_for(jfrog, username="", password="").list_repositories())


def test_missing_image_is_not_found_with_the_status_shaped_error(jfrog):
    with pytest.raises(errors.NotFound, match="repository name not known"):
        client_for(jfrog).list_tags("docker-local/absent")
    with pytest.raises(errors.NotFound):
        client_for(jfrog).list_tags("no-image-part")
