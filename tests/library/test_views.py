"""Library pages for every persona: search, repository, crawl page, Crawl now."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from library.models import Crawl, PopularImage, Repository
from tests.library.conftest import crawl_entry

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]

SEARCH = reverse("library_repositories")


@pytest.fixture
def entries(seeded_registry, make_entry, project_a, project_b):
    server = seeded_registry.server
    made = {
        "tools": make_entry(server, namespace="tools", name="Tools"),
        "a": make_entry(server, project=project_a, namespace="team-a", name="A"),
        "b": make_entry(server, project=project_b, namespace="team-b", name="B"),
    }
    assert crawl_entry(made["a"]).status == "succeeded"
    return made


def detail_url(entry, name: str) -> str:
    return reverse("library_repository", args=[entry.pk, name])


def crawl_url(entry) -> str:
    return reverse("library_crawl", args=[entry.pk])


def test_anonymous_people_are_sent_to_log_in(client, entries):
    for url in (
        SEARCH,
        detail_url(entries["a"], "team-a/api"),
        crawl_url(entries["a"]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("login") in response["Location"]


@pytest.mark.parametrize(
    ("persona", "sees_webshop", "sees_ledger"),
    [
        ("portal_admin", True, False),  # current project: Team A (first by name)
        ("project_admin", True, False),
        ("member", True, False),
        ("viewer", True, False),
        ("other_admin", False, True),
    ],
)
def test_search_page_per_persona(
    client_for, personas, entries, persona, sees_webshop, sees_ledger
):
    client = client_for(personas[persona])
    page = client.get(SEARCH, {"q": "team"}).content.decode()
    assert ("team-a/webshop" in page) is sees_webshop
    assert ("team-b/ledger" in page) is sees_ledger
    assert "team-ab/decoy" not in page


def test_search_fragment_for_htmx(client_for, personas, entries):
    client = client_for(personas["member"])
    response = client.get(SEARCH, {"q": "webshop"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body
    assert "team-a/webshop" in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_going_back_to_an_uncached_search_gets_the_whole_page(
    client_for, personas, entries
):
    """htmx restores history it no longer holds with HX-Request plus this header."""
    client = client_for(personas["member"])
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    body = client.get(SEARCH, {"q": "webshop"}, headers=headers).content.decode()
    assert "<html" in body
    assert "team-a/webshop" in body
    response = client.get(SEARCH, {"q": "webshop"})
    assert "HX-History-Restore-Request" in response["Vary"]


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999", "9" * 30])
def test_odd_tag_page_numbers_never_fail(client_for, personas, entries, page):
    client = client_for(personas["member"])
    url = detail_url(entries["a"], "team-a/webshop")
    response = client.get(url, {"page": page})
    assert response.status_code == 200
    assert "docker pull" in response.content.decode()
    fragment = client.get(url, {"page": page}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "HX-Request" in fragment["Vary"]


@pytest.mark.parametrize("params", [{"q": "team", "page": "5"}, {"page": "5"}])
def test_a_page_past_the_end_says_so_and_leads_back(
    client_for, personas, entries, params
):
    body = client_for(personas["member"]).get(SEARCH, params).content.decode()
    assert "There is no page 5 of these results." in body
    assert "Back to the first page" in body
    assert "No repository matches" not in body
    assert "Nothing has been indexed yet" not in body
    assert "Popular images" not in body  # the first page's alone


def test_bad_filters_are_explained_not_crashed(client_for, personas, entries):
    client = client_for(personas["member"])
    response = client.get(
        SEARCH, {"digest": "sha256:xyz", "platform": "amd64", "label": "=x"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "hexadecimal" in body
    assert "os/architecture" in body
    assert "key=value" in body


def test_empty_query_shows_popular_images_even_without_docker_hub(
    client_for, personas, entries
):
    PopularImage.objects.update_or_create(
        name="nginx", defaults={"description": "Web server", "is_official": True}
    )
    page = client_for(personas["member"]).get(SEARCH).content.decode()
    assert "Popular images" in page
    assert "docker pull nginx" in page
    assert "team-a/webshop" in page  # the index follows, all repositories


def test_no_match_says_so(client_for, personas, entries):
    page = client_for(personas["member"]).get(SEARCH, {"q": "zzzz-nothing"})
    assert "No repository matches" in page.content.decode()


def test_no_registry_available_says_so(client_for, make_user, db):
    page = client_for(make_user("eve")).get(SEARCH, {"q": "x"}).content.decode()
    assert "No registry is available to this project yet" in page


def test_search_query_count_is_constant(client_for, personas, entries, seeded_registry):
    client = client_for(personas["member"])
    client.get(SEARCH, {"q": "webshop"})  # warm the session and caches

    def count(params) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(SEARCH, params)
        assert response.status_code == 200
        return len(queries)

    one = count({"q": "webshop"})
    many = count({"q": "team-a"})
    none = count({"q": "nothing-like-this"})
    filtered = count({"q": "team", "tag": "latest", "label": "tier=backend"})
    # Session, user, project, entries, sources, then the search: one statement
    # for every match class, the typo tier included.
    assert one == many == none == filtered <= 12
    # The empty query lists popular images too (cached): no more queries.
    assert count({"sort": "name"}) == count({"sort": "updated"}) <= one


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
def test_repository_page_per_persona(client_for, personas, entries, persona, status):
    response = client_for(personas[persona]).get(
        detail_url(entries["a"], "team-a/webshop")
    )
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        host = entries["a"].host
        assert f"docker pull {host}/team-a/webshop:latest" in body
        assert f"docker pull {host}/team-a/webshop:1.1" in body
        assert "--insecure-registry" in body  # plain HTTP entry
        assert "tier=frontend" in body


def test_repository_page_outside_the_namespace_is_not_found(
    client_for, personas, entries
):
    client = client_for(personas["member"])
    assert client.get(detail_url(entries["a"], "team-b/ledger")).status_code == 404
    assert client.get(detail_url(entries["tools"], "team-a/api")).status_code == 404
    assert client.get(detail_url(entries["a"], "team-a/missing")).status_code == 404


def test_repository_page_query_count_does_not_grow_with_tags(
    client_for, personas, entries
):
    client = client_for(personas["member"])
    client.get(detail_url(entries["a"], "team-a/api"))  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(detail_url(entries["a"], "team-a/api"))  # one tag
    with CaptureQueriesContext(connection) as more:
        client.get(detail_url(entries["a"], "team-a/webshop"))  # three tags
    assert len(few) == len(more)


@pytest.mark.parametrize(
    ("persona", "status", "can_crawl"),
    [
        ("portal_admin", 200, True),
        ("project_admin", 200, True),
        ("member", 200, False),
        ("viewer", 200, False),
        ("other_admin", 404, False),
    ],
)
def test_crawl_page_per_persona(
    client_for, personas, entries, persona, status, can_crawl
):
    response = client_for(personas[persona]).get(crawl_url(entries["a"]))
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert "Finished" in body
        assert ('id="crawl-now"' in body) is can_crawl
        # The webhook secret is shown to the entry's writers only, with the
        # address registries reach the portal at.
        assert (entries["a"].webhook_secret in body) is can_crawl
        hook = f"url: {settings.PORTAL_URL}/library/hooks/registry/{entries['a'].pk}/"
        assert (hook in body) is can_crawl
        # A namespaced entry does not reveal the whole source's counters.
        assert "tags seen" not in body
        assert 'id="count-repositories">3<' in body


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("project_admin", 302),
        ("member", 403),
        ("viewer", 403),
        ("other_admin", 404),
    ],
)
def test_crawl_now_per_persona(client_for, personas, entries, persona, status):
    before = Crawl.objects.count()
    url = reverse("library_crawl_start", args=[entries["a"].pk])
    response = client_for(personas[persona]).post(url)
    assert response.status_code == status
    assert Crawl.objects.count() == before + (1 if status == 302 else 0)


def test_crawl_now_runs_the_crawl_and_the_page_shows_counts(
    client_for, personas, entries, django_capture_on_commit_callbacks
):
    Repository.objects.all().delete()
    client = client_for(personas["project_admin"])
    url = reverse("library_crawl_start", args=[entries["a"].pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Crawl queued." in response.content.decode()  # said in the fragment
    page = client.get(crawl_url(entries["a"])).content.decode()
    assert "Crawl queued." not in page  # ... and only there
    assert 'id="count-repositories">3<' in page
    assert 'id="count-tags">5<' in page


def test_crawl_status_badge(client_for, personas, entries):
    url = reverse("library_crawl_status", args=[entries["a"].pk])
    assert client_for(personas["member"]).get(url).status_code == 200
    assert client_for(personas["other_admin"]).get(url).status_code == 404


def test_builtin_tab(client_for, personas, entries):
    """The built-in registry's own page takes the tab over where it is installed."""
    from django.urls import NoReverseMatch

    response = client_for(personas["member"]).get(reverse("library_builtin"))
    try:
        target = reverse("builtin_repositories")
    except NoReverseMatch:
        assert response.status_code == 200
        assert "The built-in registry is not available" in response.content.decode()
    else:
        assert response.status_code == 302
        assert response["Location"] == target


def test_registry_list_links_each_entry_to_its_index(client_for, personas, entries):
    url = reverse("project_registries", args=["team-a"])
    page = client_for(personas["project_admin"]).get(url).content.decode()
    assert reverse("library_crawl_status", args=[entries["a"].pk]) in page
    assert reverse("library_crawl", args=[entries["a"].pk]) in page


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("ABCD", "sha256:abcd"),
        ("sha512:" + "e" * 128, "sha512:" + "e" * 128),
        ("sha256:" + "a" * 65, None),
        ("md5:abcd", None),
        ("sha512:xyz", None),
    ],
)
def test_digest_filter_knows_the_oci_algorithms(db, raw, cleaned):
    from library.forms import SearchForm

    form = SearchForm({"digest": raw}, registries=[])
    assert form.is_valid() is (cleaned is not None), form.errors
    if cleaned is not None:
        assert form.cleaned_data["digest"] == cleaned
    else:
        assert "hexadecimal" in form.errors["digest"][0]
