"""Docker Hub searched live (against the fake hub), and the crawl schedule.

Docker Hub cannot be reached here: ``tests.fakes.dockerhub.FakeDockerHub`` is a
faithful fake built from the documented shapes; ``DOCKER_HUB_URLS`` points the
client at it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from library import services
from library.models import CrawlSource, CrawlStatus, Repository
from library.selectors import SearchQuery, search_repositories
from registries.services import (
    registry_create,
    registry_delete,
    registry_record_verification,
    registry_update,
)
from tests.fakes.dockerhub import FakeDockerHub
from tests.library.conftest import crawl_entry

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture
def hub(settings):
    with FakeDockerHub() as fake:
        settings.DOCKER_HUB_URLS = fake.client_kwargs()
        cache.clear()
        yield fake
    cache.clear()


@pytest.fixture
def hub_entry(hub, personas):
    entry = registry_create(
        acting_user=personas["portal_admin"],
        name="Docker Hub",
        address=hub.registry.url,
        allow_plain_http=True,
    )
    # What "Verify" records for Docker Hub.
    return registry_record_verification(
        registry=entry, ok=True, message="", api_version="v2", flavour="dockerhub"
    )


def test_live_results_merge_with_the_index(
    hub, hub_entry, personas, project_a, seeded_registry, make_entry
):
    hub.add_repository(
        "library/nginx", description="Official nginx", star_count=90, pull_count=10**9
    )
    hub.add_repository("someone/nginx-proxy", description="A proxy", star_count=3)
    mirror = make_entry(seeded_registry.server, namespace="mirror", name="Mirror")
    crawl_entry(mirror)

    results = search_repositories(
        personas["member"], project_a, SearchQuery(text="nginx")
    )

    found = [(hit.name, hit.registry.name, hit.live) for hit in results.hits]
    assert ("library/nginx", "Docker Hub", True) in found
    assert ("someone/nginx-proxy", "Docker Hub", True) in found
    assert ("mirror/nginx", "Mirror", False) in found
    # Exact short names first, the official image first among them.
    assert found[0] == ("library/nginx", "Docker Hub", True)
    assert results.hits[0].pull_command == "docker pull nginx:latest"
    assert results.notices == []

    # A second search is answered from the cache, without asking the hub.
    asked = len(hub.hub.requests)
    search_repositories(personas["member"], project_a, SearchQuery(text="nginx"))
    assert len(hub.hub.requests) == asked


def test_a_failing_hub_is_a_notice_not_an_error(
    hub, hub_entry, personas, project_a, monkeypatch
):
    hub.hub_search_status = 503
    hub.stop()  # nothing answers at all now
    results = search_repositories(
        personas["member"], project_a, SearchQuery(text="redis")
    )
    assert results.hits == []
    assert results.notices and "Docker Hub" in results.notices[0]

    # The next query does not wait for the hub again: it is left alone a while.
    from library import selectors

    opened = []
    real_open = selectors.open_adapter
    monkeypatch.setattr(
        selectors,
        "open_adapter",
        lambda *a, **k: opened.append(1) or real_open(*a, **k),
    )
    again = search_repositories(
        personas["member"], project_a, SearchQuery(text="mongo")
    )
    assert again.notices and opened == []


def test_live_repository_page_lists_tags_from_the_hub(
    hub, hub_entry, personas, client_for
):
    hub.add_repository("library/redis", description="Redis")
    hub.store.add_image("library/redis", "7")
    hub.store.add_image("library/redis", "6")
    url = reverse("library_repository", args=[hub_entry.pk, "library/redis"])

    page = client_for(personas["member"]).get(url).content.decode()

    assert "docker pull redis:latest" in page or "docker pull redis:7" in page
    assert 'data-tag="7"' in page and 'data-tag="6"' in page


def test_hub_is_never_crawled(hub, hub_entry):
    crawl = crawl_entry(hub_entry)
    assert crawl.status == CrawlStatus.SUCCEEDED
    assert "searched live" in crawl.error_message
    assert CrawlSource.objects.get(pk=crawl.source_id).live_only
    assert services.crawl_schedule_due() == []


def test_popular_images_are_bundled(db):
    from library.models import PopularImage

    names = set(PopularImage.objects.values_list("name", flat=True))
    assert {"nginx", "postgres", "redis", "alpine"} <= names


@pytest.mark.registry
def test_schedule_queues_due_sources_once(seeded_registry, make_entry, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    make_entry(seeded_registry.server, namespace="tools")
    make_entry(seeded_registry.server, namespace="mirror", crawl_interval_minutes=5)

    first = services.crawl_schedule_due()
    assert len(first) == 1 and queued == [first[0].pk]
    assert services.crawl_schedule_due() == []  # still queued: nothing new

    services.crawl_run(crawl_id=first[0].pk)
    assert services.crawl_schedule_due() == []  # not due yet
    later = timezone.now() + timedelta(minutes=6)  # the shortest interval wins
    second = services.crawl_schedule_due(now=later)
    assert len(second) == 1 and second[0].pk != first[0].pk


@pytest.mark.registry
def test_an_entry_added_or_widened_since_the_last_crawl_is_read_at_the_next_tick(
    seeded_registry, make_entry, monkeypatch, project_a
):
    monkeypatch.setattr(services, "_enqueue", lambda crawl_id: None)
    entry = make_entry(seeded_registry.server, namespace="tools")
    first = services.crawl_schedule_due()
    services.crawl_run(crawl_id=first[0].pk)
    assert services.crawl_schedule_due() == []  # not due for an hour

    registry_update(acting_user=None, registry=entry, namespace="")
    widened = services.crawl_schedule_due()
    assert len(widened) == 1
    services.crawl_run(crawl_id=widened[0].pk)
    assert services.crawl_schedule_due() == []

    make_entry(seeded_registry.server, project=project_a, namespace="team-a")
    assert len(services.crawl_schedule_due()) == 1


@pytest.mark.registry
def test_an_interval_of_zero_means_on_demand_only(
    seeded_registry, make_entry, monkeypatch
):
    monkeypatch.setattr(services, "_enqueue", lambda crawl_id: None)
    entry = make_entry(seeded_registry.server, namespace="tools")
    registry_update(acting_user=None, registry=entry, crawl_interval_minutes=0)
    assert services.crawl_schedule_due() == []


@pytest.mark.registry
def test_sources_without_entries_are_dropped_with_their_index(
    seeded_registry, make_entry, personas
):
    entry = make_entry(seeded_registry.server, namespace="tools")
    crawl_entry(entry)
    assert Repository.objects.exists()

    registry_delete(acting_user=personas["portal_admin"], registry=entry)
    services.sources_sync()

    assert not CrawlSource.objects.exists()
    assert not Repository.objects.exists()


@pytest.mark.registry
def test_other_credentials_get_their_own_source(seeded_registry, make_entry):
    plain = make_entry(seeded_registry.server, namespace="tools")
    other = make_entry(
        seeded_registry.server, namespace="mirror", username="bot", password="x"
    )
    wrong = make_entry(
        seeded_registry.server, namespace="team-a", username="bot", password="y"
    )
    sources = {services.source_for_entry(e).pk for e in (plain, other, wrong)}
    assert len(sources) == 3  # a wrong password never reads another's index


def test_without_a_broker_the_library_page_drives_the_schedule(
    settings, monkeypatch, client_for, personas
):
    """Embedded mode has no Celery beat: page views check for due crawls."""
    from library import tasks

    ticks = []
    monkeypatch.setattr(tasks.crawl_due, "delay", lambda: ticks.append(1))
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PORTAL_INPROCESS_THREADS = 2
    cache.delete("library:schedule-tick")
    client = client_for(personas["member"])
    client.get(reverse("library_repositories"))
    client.get(reverse("library_repositories"))
    assert ticks == [1]  # once per interval, not once per page

    settings.PORTAL_INPROCESS_THREADS = 0  # tests: tasks run inline, no ticks
    cache.delete("library:schedule-tick")
    client.get(reverse("library_repositories"))
    assert ticks == [1]
