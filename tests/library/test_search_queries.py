"""The Library page costs the same number of queries whatever is searched.

Against the real registry's crawled index (plus generated rows, so that one word
matches more than a page), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from library.models import PopularImage, Repository
from library.selectors import PAGE_SIZE, SearchQuery, search_repositories
from library.services import search_text
from tests.library.conftest import crawl_entry

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]

SEARCH = reverse("library_repositories")
# Generated repositories under team-a/, all matching "batch" (more than a page).
GENERATED = 3 * PAGE_SIZE


@pytest.fixture
def entries(seeded_registry, make_entry, project_a, project_b):
    """Tools (global), team A's and team B's entries, A's index filled."""
    server = seeded_registry.server
    made = {
        "tools": make_entry(server, namespace="tools", name="Tools"),
        "a": make_entry(server, project=project_a, namespace="team-a", name="A"),
        "b": make_entry(server, project=project_b, namespace="team-b", name="B"),
    }
    assert crawl_entry(made["a"]).status == "succeeded"
    source = Repository.objects.filter(name="team-a/api").get().source
    rows = []
    for number in range(GENERATED):
        name = f"team-a/batch/batch-{number:03d}"
        description = "A generated batch job"
        rows.append(
            Repository(
                source=source,
                name=name,
                short_name=name.rsplit("/", 1)[-1],
                description=description,
                pull_count=number,
                tag_count=1,
                default_tag="latest",
                search_text=search_text(name, description, []),
            )
        )
    # Team B's rows share the source: they must never show up for team A.
    rows.append(
        Repository(
            source=source,
            name="team-b/batch",
            short_name="batch",
            search_text=search_text("team-b/batch", "", []),
        )
    )
    Repository.objects.bulk_create(rows)
    return made


CASES = {
    "empty": {},
    "filters only": {"tag": "latest", "label": "tier=backend"},
    "one word, many rows": {"q": "batch"},
    "several words": {"q": "generated batch job"},
    "exact name": {"q": "team-a/webshop"},
    "typo": {"q": "webshp"},
    "no match": {"q": "zzqxvy"},
    "later page": {"q": "batch", "page": "2"},
}


def _queries(client, params, *, fragment=False) -> list[str]:
    headers = {"HX-Request": "true"} if fragment else {}
    with CaptureQueriesContext(connection) as captured:
        response = client.get(SEARCH, params, headers=headers)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("fragment", [False, True], ids=["page", "fragment"])
def test_every_search_costs_the_same_queries(client_for, personas, entries, fragment):
    client = client_for(personas["member"])
    # Warm the session and the cache of popular images (the empty query's).
    client.get(SEARCH)

    counts = {
        case: len(_queries(client, params, fragment=fragment))
        for case, params in CASES.items()
    }

    assert len(set(counts.values())) == 1, counts
    # Session, user, project and scope, the page, and nothing per hit.
    assert counts["empty"] <= 9, counts


def test_the_results_behind_the_counts(client_for, personas, entries):
    """The cases above really are what their names say (on this engine)."""
    member = personas["member"]
    client = client_for(member)
    project = entries["a"].project

    def search(**fields):
        return search_repositories(member, project, SearchQuery(**fields))

    broad = search(text="batch")
    assert len(broad.hits) == PAGE_SIZE and broad.has_next
    # Most pulled first among equals, and team B's row stays out.
    assert broad.hits[0].name == "team-a/batch/batch-059"
    assert all(hit.name.startswith("team-a/") for hit in broad.hits)
    second = search(text="batch", page=2)
    assert len(second.hits) == PAGE_SIZE
    assert not {h.name for h in broad.hits} & {h.name for h in second.hits}
    words = search(text="generated batch job")
    assert len(words.hits) == PAGE_SIZE
    assert search(text="team-a/webshop").hits[0].name == "team-a/webshop"
    assert search(text="zzqxvy").hits == []
    assert search(tag="latest").hits
    assert "No repository matches" in (
        client.get(SEARCH, {"q": "zzqxvy"}).content.decode()
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one statement with typos: PostgreSQL"
)
def test_postgresql_answers_a_text_search_in_one_statement(personas, entries):
    member = personas["member"]
    project = entries["a"].project
    for text in ("batch", "generated batch job", "webshp", "zzqxvy"):
        with CaptureQueriesContext(connection) as captured:
            search_repositories(member, project, SearchQuery(text=text))
        sql = [q["sql"] for q in captured.captured_queries]
        on_index = [q for q in sql if "library_repository" in q]
        assert len(on_index) == 1, (text, on_index)
    # The typo branch runs inside that statement and still finds near spellings.
    typo = search_repositories(member, project, SearchQuery(text="webshp"))
    assert [hit.name for hit in typo.hits][:1] == ["team-a/webshop"]
    assert typo.hits[0].rank == 4
    # A typo among several words is left to full text (no trigram scan).
    several = search_repositories(member, project, SearchQuery(text="webshp zz"))
    assert several.hits == []


def test_popular_images_edits_show_at_once(client_for, personas, entries):
    """The cached suggestions are forgotten when a portal admin edits them."""
    client = client_for(personas["member"])
    assert "team-a/never-suggested" not in client.get(SEARCH).content.decode()
    image = PopularImage.objects.create(
        name="team-a/never-suggested", description="Suggested now", position=0
    )
    assert "team-a/never-suggested" in client.get(SEARCH).content.decode()
    image.delete()
    assert "team-a/never-suggested" not in client.get(SEARCH).content.decode()
