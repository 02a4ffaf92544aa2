"""Crawls, search, repositories and tags over the API, against a real registry.

The index is filled by the real crawler (``library.services``) from a real
distribution registry; the API must answer exactly what the Library pages
answer, scoped to the project the caller names.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, start_registry

pytestmark = [pytest.mark.django_db, pytest.mark.registry]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry of this module's own, so other tests' pushes do not show."""
    server = start_registry(tmp_path_factory)
    pusher = server.pusher()
    server.images = {
        "app": pusher.image("team-a/app", "v1", labels={"tier": "web"}),
        "arm": pusher.image("team-a/tools/arm", "2.0", architecture="arm64"),
        "b": pusher.image("team-b/secret", "v1"),
        "ab": pusher.image("team-ab/lookalike", "v1"),
    }
    yield server
    server.stop()


@pytest.fixture
def indexed(registry, personas, project_a, project_b):
    """Entries for team A and team B on the same registry, crawled once."""
    from library import services
    from registries.models import Registry
    from registries.services import registry_create, registry_set_enabled

    # Docker Hub cannot be reached here; keep text searches to the index.
    hub = Registry.objects.get(is_default=True)
    registry_set_enabled(
        acting_user=personas["portal_admin"], registry=hub, enabled=False
    )
    entries = {}
    for project, who in ((project_a, "project_admin"), (project_b, "other_admin")):
        entries[project.slug] = registry_create(
            acting_user=personas[who],
            project=project,
            name=f"Registry of {project.slug}",
            address=registry.url,
            namespace=project.slug,
            allow_plain_http=True,
        )
    # Both entries read the same source: one crawl fills the index for both.
    crawl = services.crawl_request(source=services.source_for_entry(entries["team-a"]))
    services.crawl_run(crawl_id=crawl.pk)
    crawl.refresh_from_db()
    assert crawl.status == "succeeded", crawl.error_message
    return entries


def names(response) -> list[str]:
    assert response.status_code == 200, response.content[:400]
    return [hit["name"] for hit in response.json()["results"]]


# -- search ----------------------------------------------------------------------------


def test_search_sees_only_the_projects_namespace(api_as, indexed):
    assert sorted(names(api_as("member").get("/api/v1/search/?project=team-a"))) == [
        "team-a/app",
        "team-a/tools/arm",
    ]
    assert names(api_as("other_admin").get("/api/v1/search/?project=team-b")) == [
        "team-b/secret"
    ]
    # Nobody sees team-ab: it is outside both namespaces.
    for who, slug in (("portal_admin", "team-a"), ("portal_admin", "team-b")):
        assert "team-ab/lookalike" not in names(
            api_as(who).get(f"/api/v1/search/?project={slug}&q=lookalike")
        )
    assert_error(api_as("other_admin").get("/api/v1/search/?project=team-a"), 404)


def test_search_filters_and_sort_are_the_pages(api_as, indexed, registry):
    member = api_as("member")
    base = "/api/v1/search/?project=team-a"
    assert names(member.get(f"{base}&q=app")) == ["team-a/app"]
    assert names(member.get(f"{base}&tag=2.0")) == ["team-a/tools/arm"]
    assert names(member.get(f"{base}&platform=linux/arm64")) == ["team-a/tools/arm"]
    assert names(member.get(f"{base}&label=tier%3Dweb")) == ["team-a/app"]
    assert names(member.get(f"{base}&namespace=team-a/tools")) == ["team-a/tools/arm"]
    digest = registry.images["app"].digest
    assert names(member.get(f"{base}&digest={digest[:19]}")) == ["team-a/app"]
    assert names(member.get(f"{base}&sort=name")) == ["team-a/app", "team-a/tools/arm"]
    entry = indexed["team-a"]
    hit = member.get(f"{base}&registry={entry.pk}&q=app").json()["results"][0]
    assert hit["registry"] == {
        "id": entry.pk,
        "name": entry.name,
        "host": registry.host_port,
        "namespace": "team-a",
    }
    assert hit["tag_count"] == 1


def test_search_pages(api_as, indexed):
    member = api_as("member")
    first = member.get("/api/v1/search/?project=team-a&sort=name&page_size=1").json()
    assert first["previous"] is None and first["next"]
    assert [hit["name"] for hit in first["results"]] == ["team-a/app"]
    second = member.get(first["next"].replace("http://testserver", "")).json()
    assert [hit["name"] for hit in second["results"]] == ["team-a/tools/arm"]
    assert second["next"] is None and second["previous"]
    assert (second["count"], second["count_capped"]) == (2, False)


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("digest=xyz", "digest", "hexadecimal"),
        ("platform=arm64", "platform", "os/architecture"),
        ("label=%3Dvalue", "label", "key=value"),
        ("tag=-bad", "tag", "A tag has"),
        ("sort=popular", "sort", "valid choice"),
        ("page_size=500", "page_size", "at most 100"),
        ("page=0", "page", "greater than or equal to 1"),
        ("owner=me", "owner", "Unknown query parameter"),
        ("q=", "q", "Give a value"),
    ],
)
def test_bad_search_input_is_400(api_as, indexed, query, field, says):
    error = assert_error(
        api_as("member").get(f"/api/v1/search/?project=team-a&{query}"), 400
    )
    assert says in " ".join(error["fields"][field]), error


def test_search_in_another_projects_registry_is_refused(api_as, indexed):
    other = indexed["team-b"].pk
    error = assert_error(
        api_as("member").get(f"/api/v1/search/?project=team-a&registry={other}"), 400
    )
    assert "registry" in error["fields"]


# -- repositories and tags -------------------------------------------------------------


def test_repository_with_its_tags(api_as, indexed, registry):
    entry = indexed["team-a"]
    url = f"/api/v1/registries/{entry.pk}/repositories/team-a/tools/arm/?project=team-a"
    for who in ("portal_admin", "project_admin", "member", "viewer"):
        response = api_as(who).get(url)
        assert response.status_code == 200, (who, response.content)
    body = api_as("viewer").get(url).json()
    pushed = registry.images["arm"]
    assert body["name"] == "team-a/tools/arm"
    assert body["insecure"] is True
    [tag] = body["tags"]
    assert tag["name"] == "2.0"
    assert tag["digest"] == pushed.digest
    assert tag["platforms"] == ["linux/arm64"]
    assert tag["size"] == pushed.size
    assert (
        tag["pull_reference"]
        == f"{registry.host_port}/team-a/tools/arm@{pushed.digest}"
    )


def test_repositories_out_of_reach_are_404(api_as, indexed):
    a, b = indexed["team-a"].pk, indexed["team-b"].pk
    member = api_as("member")
    # Another project's entry, a path outside the namespace, no project named.
    for url in (
        f"/api/v1/registries/{b}/repositories/team-b/secret/?project=team-a",
        f"/api/v1/registries/{a}/repositories/team-ab/lookalike/?project=team-a",
        f"/api/v1/registries/{a}/repositories/team-a/app/",
        f"/api/v1/registries/{a}/repositories/team-a/nope/?project=team-a",
    ):
        assert_error(member.get(url), 404)
    outsider = api_as("other_admin")
    url = f"/api/v1/registries/{a}/repositories/team-a/app/?project=team-a"
    assert_error(outsider.get(url), 404)


# -- crawls ----------------------------------------------------------------------------


def test_crawl_status_progress_and_counts(api_as, indexed):
    entry = indexed["team-a"]
    body = api_as("viewer").get(f"/api/v1/registries/{entry.pk}/crawls/").json()
    assert body["live"] is False
    assert body["repositories"] == 2 and body["tags"] == 2
    assert body["latest"]["status"] == "succeeded"
    assert body["latest"]["percent"] == 100
    assert body["latest"]["duration_seconds"] >= 0
    # The crawl covered the whole registry: a namespace entry gets no totals.
    assert body["latest"]["counters"] is None
    assert body["webhook"] is None  # viewers do not get the secret
    admin_view = api_as("project_admin").get(f"/api/v1/registries/{entry.pk}/crawls/")
    assert admin_view.json()["webhook"]["secret"] == entry.webhook_secret
    # Where registries reach the portal (PORTAL_URL), not this request's host.
    from django.conf import settings

    hook = f"{settings.PORTAL_URL}/library/hooks/registry/{entry.pk}/"
    assert admin_view.json()["webhook"]["url"] == hook
    # The registry list carries the latest crawl too.
    rows = api_as("member").get("/api/v1/registries/?project=team-a").json()["results"]
    assert {r["id"]: r["crawl"] and r["crawl"]["status"] for r in rows}[entry.pk] == (
        "succeeded"
    )


def test_crawl_errors_are_reported(api_as, personas, project_a):
    from library import services
    from registries.services import registry_create
    from tests.support.registry import refused_port

    with refused_port() as port:
        entry = registry_create(
            acting_user=personas["project_admin"],
            project=project_a,
            name="Gone",
            address=f"http://127.0.0.1:{port}",
            allow_plain_http=True,
        )
        crawl = services.crawl_request(source=services.source_for_entry(entry))
        services.crawl_run(crawl_id=crawl.pk, attempt=99)
    latest = (
        api_as("member").get(f"/api/v1/registries/{entry.pk}/crawls/").json()["latest"]
    )
    assert latest["status"] == "failed"
    assert latest["error_code"]
    assert latest["error_message"]
    # A whole-registry entry sees the crawl's counters.
    assert latest["counters"]["repositories_found"] == 0


def test_crawl_now_queues_one_crawl_and_audits_it(api_as, indexed):
    from portal.models import AuditEntry

    entry = indexed["team-a"]
    admin = api_as("project_admin")
    response = admin.post(f"/api/v1/registries/{entry.pk}/crawl/")
    assert response.status_code == 202
    queued = response.json()["latest"]
    assert queued["status"] == "queued" and queued["trigger"] == "manual"
    # Asking again while it waits returns the same crawl, not a second one.
    again = admin.post(f"/api/v1/registries/{entry.pk}/crawl/").json()["latest"]
    assert again["id"] == queued["id"]
    assert AuditEntry.objects.filter(action="registry.crawl").count() == 2


def test_crawl_now_refusals(api_as, indexed, personas):
    from registries.models import Registry
    from registries.services import registry_set_enabled

    entry = indexed["team-a"]
    registry_set_enabled(
        acting_user=personas["project_admin"], registry=entry, enabled=False
    )
    admin = api_as("project_admin")
    assert_error(
        admin.post(f"/api/v1/registries/{entry.pk}/crawl/"), 409, "registry_disabled"
    )
    hub = Registry.objects.get(is_default=True)
    registry_set_enabled(
        acting_user=personas["portal_admin"], registry=hub, enabled=True
    )
    assert_error(
        api_as("portal_admin").post(f"/api/v1/registries/{hub.pk}/crawl/"),
        409,
        "live_registry",
    )
