"""Tests for the Docker Hub adapter against the fake Docker Hub.

Faithful fake built from the documented shapes (PROTOCOLS.md, sections Docker Hub,
V1 and V2); the real Docker Hub cannot be reached here.
"""

from __future__ import annotations

import pytest

from registries.clients import errors
from registries.clients.base import RegistryAdapter
from registries.clients.dockerhub import MAX_PAGE_SIZE, DockerHubClient, is_docker_hub
from registries.clients.types import ClientConfig, Platform
from tests.registries.conftest_fakes import fake_dockerhub

__all__ = ["fake_dockerhub"]


@pytest.fixture
def hub(fake_dockerhub):
    """Return the fake Docker Hub with an official and a community image."""
    fake_dockerhub.add_repository(
        "library/nginx",
        description="Official build of Nginx.",
        star_count=20000,
        pull_count=10**9,
    )
    fake_dockerhub.store.add_image(
        "library/nginx", "1.27", labels={"maintainer": "NGINX Docker Maintainers"}
    )
    fake_dockerhub.store.add_index(
        "library/nginx", "latest", [("linux", "amd64", ""), ("linux", "arm64", "v8")]
    )
    fake_dockerhub.add_repository(
        "bitnami/nginx", description="Bitnami nginx", star_count=100, pull_count=5000
    )
    fake_dockerhub.store.add_image("bitnami/nginx", "1.27")
    fake_dockerhub.users["alice"] = "hunter2"
    return fake_dockerhub


def client_for(fake, username: str = "", password: str = "") -> DockerHubClient:
    config = ClientConfig(
        base_url="https://registry.hub.docker.com",
        username=username,
        password=password,
        allow_plain_http=True,
    )
    return DockerHubClient(config, **fake.client_kwargs())


def test_docker_hub_client_is_an_adapter_without_a_catalog(hub):
    client = client_for(hub)
    assert isinstance(client, RegistryAdapter)
    assert client.can_list is False
    with pytest.raises(errors.NotSupported):
        client.list_repositories()


def test_docker_hub_is_recognised_by_its_host_names():
    assert is_docker_hub("registry-1.docker.io")
    assert is_docker_hub("Index.Docker.IO")
    assert not is_docker_hub("docker.io.example.com")


def test_search_normalises_official_images_under_library(hub):
    found = client_for(hub).search("nginx", limit=10)

    assert [info.name for info in found] == ["bitnami/nginx", "library/nginx"]
    official = found[1]
    assert official.is_official is True
    assert official.description == "Official build of Nginx."
    assert (official.star_count, official.pull_count) == (20000, 10**9)
    [request] = hub.hub.requests
    assert request.path == "/v2/search/repositories/"
    assert (request.param("query"), request.param("page_size")) == ("nginx", "10")


def test_search_follows_next_until_the_limit(fake_dockerhub):
    for i in range(130):
        fake_dockerhub.add_repository(f"user{i:03d}/tool")
    found = client_for(fake_dockerhub).search("tool", limit=120)
    assert [info.name for info in found] == sorted(fake_dockerhub.repositories)[:120]
    assert [r.param("page") for r in fake_dockerhub.hub.requests] == ["1", "2"]


def test_search_falls_back_to_the_index_v1_search(hub):
    hub.hub_search_status = 503
    found = client_for(hub).search("nginx")
    assert [info.name for info in found] == ["bitnami/nginx", "library/nginx"]
    assert hub.hub.requests[-1].path == "/v1/search"


def test_a_next_link_to_another_host_is_refused(hub):
    for i in range(MAX_PAGE_SIZE):
        hub.store.add_image("bitnami/nginx", f"2.{i}", layer_sizes=(10,))
    hub.next_base = "http://127.0.0.2:9"
    with pytest.raises(errors.ProtocolError, match="elsewhere"):
        client_for(hub).list_tags("bitnami/nginx")
    assert len(hub.hub.requests) == 1


def test_list_tags_pages_through_the_hub_api(hub):
    for i in range(130):
        hub.store.add_image("bitnami/nginx", f"1.{i}", layer_sizes=(10,))
    tags = client_for(hub).list_tags("bitnami/nginx")
    assert tags == list(hub.store.tags["bitnami/nginx"])
    paths = {r.path for r in hub.hub.requests}
    assert paths == {"/v2/repositories/bitnami/nginx/tags/"}
    assert len(hub.hub.requests) == 2


def test_list_tags_of_an_official_image_uses_library(hub):
    assert client_for(hub).list_tags("nginx") == ["1.27", "latest"]
    assert hub.hub.requests[-1].path == "/v2/repositories/library/nginx/tags/"


def test_describe_gets_a_registry_token_for_the_library_name(hub):
    details = client_for(hub).describe("nginx", "1.27")

    assert details.repository == "library/nginx"
    assert details.digest == hub.store.tags["library/nginx"]["1.27"]
    assert details.labels == {"maintainer": "NGINX Docker Maintainers"}
    token_request = hub.auth.requests[-1]
    assert token_request.param("service") == "registry.docker.io"
    assert token_request.param("scope") == "repository:library/nginx:pull"
    assert hub.registry.requests[-1].bearer_token()


def test_describe_an_official_multi_platform_image(hub):
    details = client_for(hub).describe("library/nginx", "latest")
    assert details.platforms == (
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
    )


def test_rate_limit_headers_are_surfaced_and_heads_are_free(hub):
    client = client_for(hub)
    assert client.rate_limit is None

    client.head_digest("nginx", "1.27")
    assert hub.pulls == 0
    assert client.rate_limit.remaining == hub.rate_limit

    client.describe("nginx", "1.27")
    assert hub.pulls == 1
    assert client.rate_limit.limit == hub.rate_limit
    assert client.rate_limit.remaining == hub.rate_limit - 1
    assert client.rate_limit.window_seconds == 21600


def test_exhausted_allowance_raises_rate_limited_with_retry_after(hub):
    hub.rate_limit = 1
    client = client_for(hub)
    client.describe("nginx", "1.27")

    with pytest.raises(errors.RateLimited) as caught:
        client.describe("nginx", "1.27")

    assert caught.value.retry_after == hub.retry_after
    assert caught.value.retryable is True
    assert client.rate_limit.remaining == 0


def test_credentials_go_to_the_token_service_only(hub):
    client = client_for(hub, "alice", "hunter2")
    assert client.check_credentials() is True
    client.search("nginx")
    client.describe("nginx", "1.27")

    # Authenticated pulls get the larger allowance: the token was issued to alice.
    assert client.rate_limit.limit == 2 * hub.rate_limit
    assert all(r.header("Authorization") == "" for r in hub.hub.requests)
    assert all(r.basic_credentials() is None for r in hub.registry.requests)


def test_wrong_credentials_are_refused(hub):
    client = client_for(hub, "alice", "wrong")
    assert client.check_credentials() is False
    with pytest.raises(errors.AuthFailed):
        client.describe("nginx", "1.27")
    assert client_for(hub).check_credentials() is None


# -- tag pages with details (the Library's Docker Hub repository page) ---------------


def test_tags_page_reads_one_page_with_details(hub):
    page = client_for(hub).tags_page("nginx", page=1, page_size=100)

    assert [tag.name for tag in page.tags] == ["1.27", "latest"]
    assert (page.page, page.count, page.has_next) == (1, 2, False)
    single, multi = page.tags
    assert single.digest == hub.store.tags["library/nginx"]["1.27"]
    assert single.size == hub.store.manifest_size(single.digest)
    assert [str(p) for p in single.platforms] == ["linux/amd64"]
    assert single.last_updated.isoformat() == "2024-05-06T07:08:09+00:00"
    assert multi.digest == hub.store.tags["library/nginx"]["latest"]
    assert [str(p) for p in multi.platforms] == ["linux/amd64", "linux/arm64/v8"]
    [request] = hub.hub.requests
    assert request.path == "/v2/namespaces/library/repositories/nginx/tags"
    # Only the parameters Docker's Hub API reference documents for this list.
    assert request.query == {"page": ["1"], "page_size": ["100"]}
    assert hub.pulls == 0 and hub.registry.requests == []


def test_tags_page_asks_for_the_page_shown_only(hub):
    for i in range(130):
        hub.store.add_image(
            "bitnami/nginx",
            f"2.{i}",
            created=f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
        )
    client = client_for(hub)

    second = client.tags_page("bitnami/nginx", page=2, page_size=100)

    # 131 tags, newest first as the fake's hub lists them: page 2 holds the oldest.
    assert (second.count, second.has_next) == (131, False)
    assert [t.name for t in second.tags] == [f"2.{i}" for i in range(30, -1, -1)]
    [request] = hub.hub.requests
    assert request.param("page") == "2"
    first = client.tags_page("bitnami/nginx", page=1, page_size=100)
    assert first.has_next is True and first.tags[0].name == "1.27"


def test_a_tags_page_past_the_last_is_not_found(hub):
    with pytest.raises(errors.NotFound):
        client_for(hub).tags_page("nginx", page=3, page_size=100)


def test_tag_reads_one_tag_directly(hub):
    tag = client_for(hub).tag("nginx", "latest")

    assert tag.name == "latest"
    assert tag.digest == hub.store.tags["library/nginx"]["latest"]
    [request] = hub.hub.requests
    assert request.path == "/v2/namespaces/library/repositories/nginx/tags/latest"
    with pytest.raises(errors.NotFound):
        client_for(hub).tag("bitnami/nginx", "latest")


def test_a_rate_limited_hub_api_says_how_long_to_wait(hub):
    hub.tags_retry_after = 42
    with pytest.raises(errors.RateLimited) as caught:
        client_for(hub).tags_page("nginx")
    assert caught.value.retry_after == 42


def test_a_hub_api_429_with_x_retry_after_only_is_read(hub, monkeypatch):
    import requests

    from registries.clients.dockerhub import _hub_retry_after

    response = requests.Response()
    response.headers["X-Retry-After"] = "1000030"
    monkeypatch.setattr("registries.clients.dockerhub.time.time", lambda: 1000000.0)
    assert _hub_retry_after(response) == 30


def test_hub_tag_reads_the_reference_example():
    """Parse the example of Docker's Hub API reference (``paginated_tags``)."""
    from registries.clients.dockerhub import hub_tag

    item = {
        "creator": 1234,
        "full_size": 123456,
        "id": 12345,
        "images": [
            {
                "architecture": "amd64",
                "features": None,
                "last_pulled": None,
                "last_pushed": "2021-01-05T21:06:53.506400Z",
                "os": "linux",
                "os_features": None,
                "os_version": None,
                "size": 123456,
                "status": "active",
                "variant": None,
            },
            {"architecture": "unknown", "os": "unknown", "digest": "sha256:att"},
        ],
        "last_updated": "2021-01-05T21:06:53.506400Z",
        "name": "latest",
        "tag_status": "active",
    }
    tag = hub_tag(item)
    assert (tag.name, tag.size, tag.digest) == ("latest", 123456, "")
    assert [str(p) for p in tag.platforms] == ["linux/amd64"]
    assert tag.last_updated.year == 2021
    assert hub_tag({"name": "x", "last_updated": "yesterday"}).last_updated is None
    assert hub_tag({"digest": "sha256:no-name"}) is None
