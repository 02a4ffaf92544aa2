"""The crawler against the real distribution registry, checked against skopeo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from library import services
from library.models import Crawl, CrawlSource, CrawlStatus, Repository, Tag
from tests.library.conftest import (
    CREATED,
    crawl_entry,
    index_view,
    skopeo,
    skopeo_view,
)

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]


def test_crawl_matches_skopeo_repo_for_repo_tag_for_tag(seeded_registry, make_entry):
    server = seeded_registry.server
    entry = make_entry(server)

    crawl = crawl_entry(entry)

    assert crawl.status == CrawlStatus.SUCCEEDED, crawl.error_message
    assert index_view(entry) == skopeo_view(server)
    assert crawl.repositories_found == len(index_view(entry))
    assert crawl.tags_found == sum(len(t) for t in index_view(entry).values())
    # Nothing was stored: every tag is described straight away, without a HEAD.
    assert crawl.tags_described == crawl.tags_found
    assert crawl.finished_at is not None and crawl.percent == 100


def test_crawl_stores_details_as_the_registry_has_them(seeded_registry, make_entry):
    server = seeded_registry.server
    entry = make_entry(server)
    crawl_entry(entry)

    web = Tag.objects.get(repository__name="team-a/webshop", name="1.0")
    seen = skopeo(server, "inspect", "team-a/webshop:1.0")
    assert web.digest == seen["Digest"] == seeded_registry.digests["team-a/webshop:1.0"]
    assert web.labels == seen["Labels"]
    assert web.created == CREATED
    assert web.platforms == [f"{seen['Os']}/{seen['Architecture']}"]
    raw = skopeo(server, "inspect", "team-a/webshop:1.0", "--raw")
    assert web.size == raw["config"]["size"] + sum(x["size"] for x in raw["layers"])

    multi = Tag.objects.get(repository__name="team-a/api", name="2.0")
    index = skopeo(server, "inspect", "team-a/api:2.0", "--raw")
    expected = []
    for child in index["manifests"]:
        platform = child["platform"]
        expected.append(
            "/".join(
                [platform["os"], platform["architecture"]]
                + ([platform["variant"]] if platform.get("variant") else [])
            )
        )
    assert multi.platforms == expected
    assert multi.os_arch == ["linux/amd64", "linux/arm64", "linux/arm"]
    assert multi.media_type == index["mediaType"]

    repository = Repository.objects.get(name="team-a/webshop")
    assert repository.tag_count == 3
    assert repository.short_name == "webshop"
    assert "frontend" in repository.search_text


def test_namespace_entries_crawl_only_the_union_of_their_namespaces(
    seeded_registry, make_entry, project_a, project_b
):
    server = seeded_registry.server
    entry_a = make_entry(server, project=project_a, namespace="team-a")
    entry_b = make_entry(server, project=project_b, namespace="team-b")

    crawl = crawl_entry(entry_a)

    # One source for both entries (same address, same anonymous account).
    assert CrawlSource.objects.count() == 1
    assert services.source_for_entry(entry_b) == crawl.source
    names = set(Repository.objects.values_list("name", flat=True))
    assert names == {
        "team-a/webshop",
        "team-a/api",
        "team-a/sub/worker",
        "team-b/ledger",
    }
    assert "team-ab/decoy" not in names  # a prefix of letters is not a namespace


def test_second_crawl_without_changes_describes_nothing(seeded_registry, make_entry):
    entry = make_entry(seeded_registry.server, namespace="team-a")
    first = crawl_entry(entry)
    stamps = dict(Tag.objects.values_list("pk", "updated_at"))

    second = crawl_entry(entry)

    assert second.status == CrawlStatus.SUCCEEDED
    assert second.tags_found == first.tags_found
    assert second.tags_described == 0
    assert second.repositories_changed == 0
    assert dict(Tag.objects.values_list("pk", "updated_at")) == stamps
    assert set(Repository.objects.values_list("seen_by_crawl", flat=True)) == {
        second.pk
    }


def test_an_alias_of_a_stored_digest_is_not_described_again(fresh_registry, make_entry):
    server = fresh_registry()
    pusher = server.pusher()
    image = pusher.image("app/web", "1.0")
    entry = make_entry(server)
    crawl_entry(entry)

    pusher.tag("app/web", image.digest, image.media_type, "stable")
    second = crawl_entry(entry)

    assert second.tags_described == 0  # recognised by its HEAD
    assert index_view(entry) == {
        "app/web": {"1.0": image.digest, "stable": image.digest}
    }


def test_second_crawl_converges_after_pushes_retags_and_deletes(
    fresh_registry, make_entry
):
    server = fresh_registry()
    pusher = server.pusher()
    keep = pusher.image("app/keep", "1")
    moving = pusher.image("app/moving", "v1")
    pusher.image("app/moving", "stable")
    doomed = pusher.image("app/doomed", "1")
    entry = make_entry(server)
    first = crawl_entry(entry)
    assert first.status == CrawlStatus.SUCCEEDED
    assert index_view(entry) == skopeo_view(server)

    pusher.image("app/new", "1")  # a new repository
    pusher.image("app/keep", "2")  # a new tag
    moved = pusher.image("app/moving", "v1")  # a re-tag onto a new image
    pusher.tag("app/moving", moving.digest, moving.media_type, "old")
    pusher.delete("app/doomed", doomed.digest)  # the whole repository's tags

    second = crawl_entry(entry)

    assert second.status == CrawlStatus.SUCCEEDED, second.error_message
    view = index_view(entry)
    assert view == skopeo_view(server)
    assert "app/doomed" not in view
    assert view["app/moving"]["v1"] == moved.digest
    assert view["app/moving"]["old"] == moving.digest
    assert view["app/keep"]["1"] == keep.digest
    # Only new digests were described: new/1, keep/2 and moving/v1's new image
    # (moving/old reuses the details stored for the old v1 digest).
    assert second.tags_described == 3
    assert second.repositories_deleted == 1


def test_crawl_of_an_unreachable_registry_fails_in_words(make_entry, fresh_registry):
    server = fresh_registry()
    entry = make_entry(server)
    server.stop()

    crawl = crawl_entry(entry, attempt=99)

    assert crawl.status == CrawlStatus.FAILED
    assert crawl.error_code == "unreachable"
    assert "127.0.0.1" in crawl.error_message
    assert crawl.error_message.endswith(".")


def test_retryable_failure_queues_the_crawl_again(make_entry, fresh_registry):
    server = fresh_registry()
    entry = make_entry(server)
    server.stop()
    source = services.source_for_entry(entry)
    crawl = services.crawl_request(source=source)

    with pytest.raises(services.CrawlRetry) as retry:
        services.crawl_run(crawl_id=crawl.pk, attempt=0)

    crawl.refresh_from_db()
    assert retry.value.countdown > 0
    assert crawl.status == CrawlStatus.QUEUED
    assert "Trying again" in crawl.error_message


def test_a_rate_limited_crawl_waits_as_long_as_the_registry_asks(personas):
    """A 429 with Retry-After: 900 is not retried inside the crawl, but later."""
    from registries.services import registry_create
    from tests.support.tokenserver import Reply, StubServer

    def handle(request):
        if request.path == "/v2/":
            return Reply(200, {})
        body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}
        return Reply(429, body, {"Retry-After": "900"})

    with StubServer(handle) as server:
        entry = registry_create(
            acting_user=personas["portal_admin"],
            project=None,
            name="Busy",
            address=server.url,
            allow_plain_http=True,
        )
        crawl = services.crawl_request(source=services.source_for_entry(entry))
        with pytest.raises(services.CrawlRetry) as retry:
            services.crawl_run(crawl_id=crawl.pk, attempt=0)
        catalog_requests = [r for r in server.received if "_catalog" in r.path]

    assert retry.value.countdown == 900
    assert len(catalog_requests) == 1  # no inline retries against the limit
    crawl.refresh_from_db()
    assert crawl.status == CrawlStatus.QUEUED
    assert crawl.error_code == "rate_limited"
    assert "900 seconds" in crawl.error_message

    # Waiting out the limit is not being lost: the schedule neither replaces
    # it nor marks it interrupted, until the stale window after it is due.
    stale = timedelta(seconds=settings.LIBRARY_CRAWL_QUEUED_STALE_SECONDS)
    almost = crawl.created_at + stale + timedelta(seconds=600)
    assert services._stale(crawl, almost) is False
    assert services._stale(crawl, almost + timedelta(seconds=400)) is True


def test_only_one_crawl_per_source_at_a_time(seeded_registry, make_entry):
    entry = make_entry(seeded_registry.server, namespace="tools")
    source = services.source_for_entry(entry)

    first = services.crawl_request(source=source)
    again = services.crawl_request(source=source)

    assert again.pk == first.pk
    assert Crawl.objects.filter(source=source).count() == 1
    # A second worker receiving the same task does not run it twice.
    services.crawl_run(crawl_id=first.pk)
    assert services.crawl_run(crawl_id=first.pk) is None


WRITE_QUERIES = 5


@pytest.mark.parametrize("tags", [1, 25])
def test_writing_a_repository_costs_the_same_queries_for_any_number_of_tags(
    db, tags, django_assert_max_num_queries
):
    """The crawler's single writer thread is its bottleneck: keep it flat."""
    from django.utils import timezone

    from registries.clients.types import RepositoryInfo

    source = CrawlSource.objects.create(address="https://r.example.com", username="")
    rows = {
        f"v{i}": services.TagRow(digest="sha256:" + f"{i:064x}", size=10 + i)
        for i in range(tags)
    }
    # Lock/read the repository, insert it, upsert its tags, drop vanished ones,
    # and the test's savepoint: never a query per tag or a foreign-key check.
    with django_assert_max_num_queries(WRITE_QUERIES):
        services._write_repository(
            source=source,
            name="team-a/app",
            info=RepositoryInfo(name="team-a/app"),
            rows=rows,
            keep=set(),
            fetched_at=timezone.now(),
            crawl_id=None,
            complete=True,
        )
    assert Tag.objects.filter(repository__name="team-a/app").count() == tags
