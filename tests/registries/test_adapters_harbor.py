"""Tests for the Harbor adapter against the fake Harbor.

Faithful fake built from the documented shapes (PROTOCOLS.md, section Harbor 2.x,
after Harbor's swagger); no Harbor can be run or reached here.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from registries.clients import errors
from registries.clients.base import RegistryAdapter
from registries.clients.harbor import HarborClient
from registries.clients.types import ClientConfig, Platform
from registries.clients.v2 import V2Client
from tests.fakes import FakeServer, json_reply
from tests.registries.conftest_fakes import fake_harbor

__all__ = ["fake_harbor"]

ROBOT = "robot$team+ci"


@pytest.fixture
def harbor(fake_harbor):
    """Return the fake Harbor with a public and a private project."""
    fake_harbor.add_project("library", public=True)
    fake_harbor.add_project("team", public=False, members=["dev", ROBOT])
    fake_harbor.add_user("dev", "devpass")
    fake_harbor.add_user(ROBOT, "robotpass")
    fake_harbor.store.add_image("library/nginx", "1.25", labels={"vendor": "nginx"})
    fake_harbor.store.add_image("team/tools", "latest")
    fake_harbor.store.add_image(
        "team/app/web",
        "v1",
        created="2024-02-03T04:05:06.123456789Z",
        labels={"org.opencontainers.image.title": "web"},
    )
    fake_harbor.store.add_index(
        "team/app/web", "multi", [("linux", "amd64", ""), ("linux", "arm64", "v8")]
    )
    return fake_harbor


def client_for(fake, username: str = "", password: str = "") -> HarborClient:
    config = ClientConfig(
        base_url=fake.url, username=username, password=password, allow_plain_http=True
    )
    return HarborClient(config)


def names_in(fake, *projects: str) -> list[str]:
    return sorted(n for n in fake.store.tags if n.split("/", 1)[0] in projects)


def test_harbor_client_is_a_registry_adapter(harbor):
    assert isinstance(client_for(harbor), RegistryAdapter)


def test_ping_and_system_info_identify_harbor(harbor):
    client = client_for(harbor)
    assert client.ping() is True
    assert client.system_info()["harbor_version"] == harbor.version


def test_anonymous_listing_sees_public_projects_only(harbor):
    listed = [info.name for info in client_for(harbor).list_repositories()]
    assert listed == names_in(harbor, "library")


def test_member_listing_sends_basic_credentials_up_front(harbor):
    listed = [
        info.name for info in client_for(harbor, "dev", "devpass").list_repositories()
    ]
    assert sorted(listed) == names_in(harbor, "library", "team")
    api_requests = harbor.requests_to("/api/v2.0/")
    assert api_requests
    assert all(r.basic_credentials() == ("dev", "devpass") for r in api_requests)


def test_robot_account_with_dollar_sign_authenticates(harbor):
    client = client_for(harbor, ROBOT, "robotpass")
    listed = [info.name for info in client.list_repositories("team/")]
    assert listed == names_in(harbor, "team")
    header = harbor.requests[-1].header("Authorization")
    assert header == "Basic " + base64.b64encode(f"{ROBOT}:robotpass".encode()).decode()


def test_up_front_credentials_do_not_follow_a_redirect_to_another_host(harbor):
    class Elsewhere(FakeServer):
        def handle(self, request):
            return json_reply([])

    with Elsewhere() as elsewhere:
        harbor.api_redirect = elsewhere.url
        listed = list(client_for(harbor, "dev", "devpass").list_repositories())
        [arrived] = elsewhere.requests
    assert listed == []
    assert harbor.requests[0].basic_credentials() == ("dev", "devpass")
    assert arrived.path == "/api/v2.0/projects"
    assert arrived.header("Authorization") == ""


def test_wrong_password_is_silently_anonymous_on_harbors_api(harbor):
    # Harbor's API treats a failed login as anonymous; the client cannot tell.
    listed = [
        info.name for info in client_for(harbor, "dev", "nope").list_repositories()
    ]
    assert listed == names_in(harbor, "library")


def test_projects_are_paged_by_100_following_relative_links(fake_harbor):
    for i in range(105):
        fake_harbor.add_project(f"p{i:03d}", public=True)
        fake_harbor.store.add_image(f"p{i:03d}/img", "latest")

    listed = [info.name for info in client_for(fake_harbor).list_repositories()]

    assert listed == sorted(fake_harbor.store.tags)
    project_pages = [r for r in fake_harbor.requests if r.path == "/api/v2.0/projects"]
    assert [r.param("page") for r in project_pages] == ["1", "2"]
    assert {r.param("page_size") for r in project_pages} == {"100"}


def test_prefix_with_a_slash_reads_only_that_project(harbor):
    client = client_for(harbor, "dev", "devpass")
    listed = [info.name for info in client.list_repositories("team/app")]
    assert listed == ["team/app/web"]
    assert not [r for r in harbor.requests if r.path == "/api/v2.0/projects"]


def test_prefix_without_a_slash_filters_projects(harbor):
    client = client_for(harbor, "dev", "devpass")
    assert [info.name for info in client.list_repositories("lib")] == ["library/nginx"]
    assert list(client.list_repositories("absent/")) == []


def test_list_tags_double_encodes_slashes_in_the_repository_name(harbor):
    tags = client_for(harbor, "dev", "devpass").list_tags("team/app/web")
    assert sorted(tags) == sorted(harbor.store.tags["team/app/web"])
    raw = harbor.requests[-1].path
    assert raw == "/api/v2.0/projects/team/repositories/app%252Fweb/artifacts"


def test_describe_reads_the_artifact_record(harbor):
    client = client_for(harbor, "dev", "devpass")
    expected_digest = harbor.store.tags["team/app/web"]["v1"]

    details = client.describe("team/app/web", "v1")

    assert details.digest == expected_digest
    assert details.size == harbor.artifact_size(expected_digest)
    assert details.created == datetime(2024, 2, 3, 4, 5, 6, 123456, tzinfo=UTC)
    assert details.platforms == (Platform("linux", "amd64"),)
    assert details.labels == {"org.opencontainers.image.title": "web"}
    assert client.head_digest("team/app/web", "v1") == expected_digest


def test_describe_an_index_lists_platforms_and_reads_the_first_child(harbor):
    client = client_for(harbor, "dev", "devpass")
    details = client.describe("team/app/web", "multi")
    assert details.digest == harbor.store.tags["team/app/web"]["multi"]
    assert details.platforms == (
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
    )
    index = json.loads(harbor.store.manifests[details.digest].data)
    first_child = index["manifests"][0]["digest"]
    assert details.size == harbor.artifact_size(first_child)
    assert details.size != harbor.artifact_size(index["manifests"][1]["digest"])


def test_search_returns_visible_repositories(harbor):
    found = client_for(harbor).search("nginx")
    assert [info.name for info in found] == ["library/nginx"]
    assert found[0].pull_count is not None
    assert client_for(harbor).search("web") == []
    assert [i.name for i in client_for(harbor, "dev", "devpass").search("web")] == [
        "team/app/web"
    ]


def test_private_repository_without_credentials_is_auth_failed(harbor):
    with pytest.raises(errors.AuthFailed):
        client_for(harbor).list_tags("team/tools")


def test_unknown_tag_and_malformed_name_raise_not_found(harbor):
    client = client_for(harbor, "dev", "devpass")
    with pytest.raises(errors.NotFound):
        client.describe("team/tools", "nope")
    with pytest.raises(errors.NotFound):
        client.list_tags("no-project-part")


def test_registry_side_gives_the_catalog_to_system_admins_only(harbor):
    def v2_client(username, password):
        config = ClientConfig(
            base_url=harbor.url,
            username=username,
            password=password,
            allow_plain_http=True,
        )
        return V2Client(config)

    admin = v2_client("admin", "Harbor12345")
    robot = v2_client(ROBOT, "robotpass")

    assert [i.name for i in admin.list_repositories()] == sorted(harbor.store.tags)
    with pytest.raises(errors.Forbidden):
        list(robot.list_repositories())
    # The lower-case www-authenticate challenge still leads to a working token.
    assert robot.list_tags("team/tools") == ["latest"]
    token_gets = [
        r for r in harbor.requests if r.path == "/service/token" and r.method == "GET"
    ]
    assert {r.param("service") for r in token_gets} == {"harbor-registry"}
