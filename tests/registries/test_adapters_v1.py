"""Tests for the V1 adapter against the fake V1 index and standalone registry.

Faithful fakes built from the documented shapes (PROTOCOLS.md, section V1); no V1
server can be run or reached here.
"""

from __future__ import annotations

import base64

import pytest

from registries.clients import errors
from registries.clients.base import RegistryAdapter
from registries.clients.types import ClientConfig
from registries.clients.v1 import V1Client
from tests.registries.conftest_fakes import fake_v1_index, fake_v1_standalone

__all__ = ["fake_v1_index", "fake_v1_standalone"]

IMAGE_A = "a" * 64
IMAGE_B = "b" * 64


def client_for(fake, **kwargs) -> V1Client:
    return V1Client(ClientConfig(base_url=fake.url, allow_plain_http=True, **kwargs))


def seed(fake, count: int) -> list[str]:
    names = [f"team/app{i:02d}" for i in range(count)]
    for name in names:
        fake.add_repository(name, {"latest": IMAGE_A}, description=f"about {name}")
    return names


def test_v1_client_is_a_registry_adapter(fake_v1_index):
    assert isinstance(client_for(fake_v1_index), RegistryAdapter)


def test_ping_reports_standalone_header(fake_v1_standalone, fake_v1_index):
    fake_v1_index.version = "0.6.0"
    assert client_for(fake_v1_standalone).ping().standalone is True
    index_ping = client_for(fake_v1_index).ping()
    assert index_ping.standalone is None
    assert index_ping.version == "0.6.0"


def test_search_pages_through_the_full_index(fake_v1_index):
    names = seed(fake_v1_index, 7)
    client = client_for(fake_v1_index)

    found = list(client.iter_search("app", page_size=3))

    assert [info.name for info in found] == names
    pages = [r.param("page") for r in fake_v1_index.requests_to("/v1/search")]
    assert pages == ["1", "2", "3"]
    assert {r.param("n") for r in fake_v1_index.requests_to("/v1/search")} == {"3"}


def test_search_stops_at_the_limit(fake_v1_index):
    seed(fake_v1_index, 7)
    found = client_for(fake_v1_index).search("app", limit=2)
    assert len(found) == 2
    assert len(fake_v1_index.requests_to("/v1/search")) == 1


def test_search_normalises_official_names_and_keeps_details(fake_v1_index):
    fake_v1_index.add_repository(
        "library/ubuntu",
        {"22.04": IMAGE_A},
        description="Ubuntu base",
        star_count=42,
        is_official=True,
    )
    [info] = client_for(fake_v1_index).search("ubuntu")
    assert info.name == "library/ubuntu"
    assert info.description == "Ubuntu base"
    assert info.star_count == 42
    assert info.is_official is True


def test_standalone_search_is_one_unpaged_answer(fake_v1_standalone):
    names = seed(fake_v1_standalone, 5)
    found = list(client_for(fake_v1_standalone).iter_search("app", page_size=2))
    assert [info.name for info in found] == names
    assert found[0].description == f"about {names[0]}"
    assert found[0].star_count is None
    assert len(fake_v1_standalone.requests_to("/v1/search")) == 1


def test_list_repositories_filters_search_results_by_prefix(fake_v1_standalone):
    seed(fake_v1_standalone, 3)
    fake_v1_standalone.add_repository("other/app01", {"latest": IMAGE_A})
    client = client_for(fake_v1_standalone)

    listed = [info.name for info in client.list_repositories("team/app0")]

    assert listed == ["team/app00", "team/app01", "team/app02"]
    assert fake_v1_standalone.requests_to("/v1/search")[0].param("q") == "app0"


def test_list_tags_defaults_to_the_library_namespace(fake_v1_index):
    fake_v1_index.add_repository(
        "library/busybox", {"latest": IMAGE_A, "1.36": IMAGE_B}
    )
    client = client_for(fake_v1_index)
    assert client.list_tags("busybox") == ["1.36", "latest"]
    assert fake_v1_index.requests[-1].path == "/v1/repositories/library/busybox/tags"


def test_describe_returns_the_v1_image_id(fake_v1_index):
    fake_v1_index.add_repository("team/web", {"latest": IMAGE_A, "old": IMAGE_B})
    client = client_for(fake_v1_index)

    details = client.describe("team/web", "old")

    assert details.repository == "team/web"
    assert details.digest == IMAGE_B
    assert client.head_digest("team/web", "latest") == IMAGE_A


def test_missing_tag_and_repository_raise_not_found(fake_v1_index):
    fake_v1_index.add_repository("team/web", {"latest": IMAGE_A})
    client = client_for(fake_v1_index)
    with pytest.raises(errors.NotFound):
        client.describe("team/web", "nope")
    with pytest.raises(errors.NotFound):
        client.list_tags("team/absent")


def test_plain_http_needs_the_entry_to_allow_it(fake_v1_index):
    with pytest.raises(errors.PlainHTTPNotAllowed):
        V1Client(ClientConfig(base_url=fake_v1_index.url)).ping()
    assert fake_v1_index.requests == []


def test_basic_credentials_are_sent_after_the_challenge(fake_v1_standalone):
    fake_v1_standalone.users = {"alice": "s3cret"}
    seed(fake_v1_standalone, 1)

    found = client_for(fake_v1_standalone, username="alice", password="s3cret").search(
        "app"
    )

    assert [info.name for info in found] == ["team/app00"]
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert fake_v1_standalone.requests[-1].header("Authorization") == expected


def test_wrong_credentials_raise_auth_failed(fake_v1_standalone):
    fake_v1_standalone.users = {"alice": "s3cret"}
    client = client_for(fake_v1_standalone, username="alice", password="wrong")
    with pytest.raises(errors.AuthFailed):
        client.ping()


def _search_answer(request, *, pages: int):
    page = int(request.query.get("page", ["1"])[0])
    names = [{"name": f"ns/app{page}-{i}", "description": ""} for i in range(2)]
    return {"query": "app", "num_pages": pages, "results": names}


def test_a_server_ignoring_the_page_parameter_is_a_protocol_error():
    from tests.support.tokenserver import Reply, StubServer

    page_one = {"query": "a", "num_pages": 10**9, "results": [{"name": "ns/a"}]}
    with StubServer(lambda request: Reply(200, page_one)) as server:
        client = V1Client(ClientConfig(base_url=server.url, allow_plain_http=True))
        with pytest.raises(errors.ProtocolError) as caught:
            list(client.iter_search("a"))
    assert "ignores the page parameter" in caught.value.message
    assert len(server.received) == 2


def test_search_reads_a_bounded_number_of_pages(monkeypatch):
    from registries.clients import v1
    from tests.support.tokenserver import Reply, StubServer

    monkeypatch.setattr(v1, "MAX_SEARCH_PAGES", 3)

    def handle(request):
        return Reply(200, _search_answer(request, pages=10**9))

    with StubServer(handle) as server:
        client = V1Client(ClientConfig(base_url=server.url, allow_plain_http=True))
        found = []
        with pytest.raises(errors.ProtocolError) as caught:
            found.extend(info.name for info in client.iter_search("app"))
    assert len(found) == 6  # three pages, then the refusal
    assert "the most a search may take" in caught.value.message
    assert len(server.received) == 3
