"""The Library's Docker Hub repository page: Hub's own tag pages, with details.

Docker Hub cannot be reached here, so these tests run against a faithful local
fake of it (``tests.fakes.dockerhub.FakeDockerHub``), built from the documented
shapes of the hub API (PROTOCOLS.md and Docker's Hub API reference: ``results[]``
with ``name``, ``digest``, ``full_size``, ``last_updated``, ``images[]``; ``count``,
``next``); ``DOCKER_HUB_URLS`` points the portal's client at it.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from registries.services import registry_create, registry_record_verification
from tests.fakes.dockerhub import FakeDockerHub

pytestmark = [pytest.mark.timeout(60)]

TAGS_PATH = "/v2/namespaces/library/repositories/nginx/tags"


@pytest.fixture
def hub(settings):
    with FakeDockerHub() as fake:
        settings.DOCKER_HUB_URLS = fake.client_kwargs()
        cache.clear()
        yield fake
    cache.clear()


def _hub_entry(hub, personas, *, project=None, namespace=""):
    entry = registry_create(
        acting_user=personas["portal_admin"],
        project=project,
        name="Docker Hub",
        address=hub.registry.url,
        namespace=namespace,
        allow_plain_http=True,
    )
    # What "Verify" records for Docker Hub.
    return registry_record_verification(
        registry=entry, ok=True, message="", api_version="v2", flavour="dockerhub"
    )


@pytest.fixture
def hub_entry(hub, personas):
    return _hub_entry(hub, personas)


def _version_tags(hub, count: int = 130) -> None:
    """Push ``1.0`` .. ``1.<count-1>``, each a minute newer than the one before."""
    for i in range(count):
        hub.store.add_image(
            "library/nginx",
            f"1.{i}",
            created=f"2024-03-{1 + i // 60:02d}T10:{i % 60:02d}:00Z",
        )


@pytest.fixture
def nginx(hub):
    """Return the fake hub with nginx: 130 version tags and an old ``latest``."""
    hub.add_repository("library/nginx", description="Official nginx")
    hub.store.add_index(
        "library/nginx", "latest", [("linux", "amd64", ""), ("linux", "arm64", "v8")]
    )
    hub.last_updated[("library/nginx", "latest")] = "2024-01-01T00:00:00.000000Z"
    _version_tags(hub)
    return hub


def _url(entry, name="library/nginx", page=None):
    url = reverse("library_repository", args=[entry.pk, name])
    return f"{url}?page={page}" if page else url


def _tag_requests(hub):
    return [r for r in hub.hub.requests if "/tags" in r.path]


def _shown_tags(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-tag="')[1:]]


def test_page_one_is_hubs_first_page_with_details(
    nginx, hub_entry, personas, client_for
):
    response = client_for(personas["member"]).get(_url(hub_entry))

    assert response.status_code == 200
    html = response.content.decode()
    # 131 tags; Hub's first page of 100, newest first; the old ``latest`` is not on it.
    assert _shown_tags(html) == [f"1.{i}" for i in range(129, 29, -1)]
    assert "(131 tags)" in html
    # ... yet the pull command offers it: the hub was asked for that one tag.
    assert 'id="pull-command" readonly value="docker pull nginx:latest"' in html
    digest = nginx.store.tags["library/nginx"]["1.129"]
    assert f'title="{digest}"' in html and f">{digest[:19]}</code>" in html
    size = filesizeformat(nginx.store.manifest_size(digest))
    assert f'<td>{size}</td>\n    <td><span class="platform">linux/amd64</span>' in html
    assert '<time datetime="2024-03-03T10:09:00+00:00">2024-03-03 10:09</time>' in html
    assert "Last updated" in html
    assert 'href="?page=2"' in html
    assert [(r.path, r.query) for r in _tag_requests(nginx)] == [
        (TAGS_PATH, {"page": ["1"], "page_size": ["100"]}),
        (f"{TAGS_PATH}/latest", {}),
    ]
    assert nginx.pulls == 0


def test_page_two_is_hubs_second_page(nginx, hub_entry, personas, client_for):
    html = client_for(personas["member"]).get(_url(hub_entry, page=2)).content.decode()

    assert _shown_tags(html) == [f"1.{i}" for i in range(29, -1, -1)] + ["latest"]
    assert 'href="?page=1"' in html and 'href="?page=3"' not in html
    assert (
        '<span class="platform">linux/amd64</span>, '
        '<span class="platform">linux/arm64/v8</span>'
    ) in html
    assert 'id="pull-command" readonly value="docker pull nginx:latest"' in html
    pages = [r.param("page") for r in _tag_requests(nginx) if r.path == TAGS_PATH]
    assert pages == ["2"]  # only the page shown, never every page


def test_without_latest_the_pull_command_offers_the_newest_tag(
    hub, hub_entry, personas, client_for
):
    hub.add_repository("library/nginx")
    _version_tags(hub, 131)
    member = client_for(personas["member"])

    for page in (1, 2):
        html = member.get(_url(hub_entry, page=page)).content.decode()
        assert 'id="pull-command" readonly value="docker pull nginx:1.130"' in html

    # Page 2 read page 1 for the newest tag; page 1 itself was cached by then.
    pages = [r.param("page") for r in _tag_requests(hub) if r.path == TAGS_PATH]
    assert pages == ["1", "2"]


def test_hub_pages_are_cached_briefly(nginx, hub_entry, personas, client_for, settings):
    member = client_for(personas["member"])
    member.get(_url(hub_entry))
    asked = len(nginx.hub.requests)

    again = member.get(_url(hub_entry)).content.decode()

    assert len(nginx.hub.requests) == asked
    assert 'data-tag="1.129"' in again
    cache.clear()
    member.get(_url(hub_entry))
    assert len(nginx.hub.requests) == 2 * asked


def test_the_next_page_comes_as_an_htmx_fragment(
    nginx, hub_entry, personas, client_for
):
    response = client_for(personas["member"]).get(
        _url(hub_entry, page=2), headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="tags">')
    assert 'data-tag="latest"' in html


def test_a_rate_limited_hub_says_when_to_retry(nginx, hub_entry, personas, client_for):
    nginx.tags_retry_after = 120
    member = client_for(personas["member"])

    response = member.get(_url(hub_entry))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Docker Hub is limiting requests just now; try again in" in html
    assert "120 seconds" in html or "119 seconds" in html
    assert 'id="tag-table"' not in html
    # Retry-After is honoured: the next view does not ask the hub again.
    asked = len(nginx.hub.requests)
    assert "limiting requests" in member.get(_url(hub_entry, page=2)).content.decode()
    assert len(nginx.hub.requests) == asked


def test_a_hub_that_does_not_answer_in_time_is_a_message(
    nginx, hub_entry, personas, client_for, settings
):
    settings.LIBRARY_LIVE_SEARCH_TIMEOUT = 0.5
    nginx.tags_delay = 2

    response = client_for(personas["member"]).get(_url(hub_entry))

    assert response.status_code == 200
    assert (
        "Docker Hub did not answer within 0.5 seconds; try again in a moment."
        in response.content.decode()
    )


def test_an_unknown_repository_is_a_message_not_an_error(
    hub, hub_entry, personas, client_for
):
    response = client_for(personas["member"]).get(_url(hub_entry, "someone/nothing"))

    html = response.content.decode()
    assert response.status_code == 404
    assert "Docker Hub has no public repository named someone/nothing." in html
    assert 'id="pull-command"' not in html
    # No tag of a missing repository is asked for.
    assert [r.path for r in _tag_requests(hub)] == [
        "/v2/namespaces/someone/repositories/nothing/tags"
    ]


def test_a_page_past_the_last_is_a_message(nginx, hub_entry, personas, client_for):
    response = client_for(personas["member"]).get(_url(hub_entry, page=9))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Docker Hub lists no page 9 of tags." in html
    assert 'href="?page=1"' in html and 'id="tag-table"' not in html


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("portal_admin", 200),
        ("project_admin", 200),
        ("member", 200),
        ("viewer", 200),
        ("other_admin", 404),
    ],
)
def test_a_project_hub_entry_is_read_by_that_project_only(
    nginx, personas, project_a, client_for, persona, status
):
    entry = _hub_entry(nginx, personas, project=project_a)

    response = client_for(personas[persona]).get(_url(entry))

    assert response.status_code == status
    if status == 404:
        assert _tag_requests(nginx) == []


def test_outside_the_entrys_namespace_the_hub_is_not_asked(nginx, personas, client_for):
    entry = _hub_entry(nginx, personas, namespace="bitnami")

    response = client_for(personas["member"]).get(_url(entry))

    assert response.status_code == 404
    assert nginx.hub.requests == []
