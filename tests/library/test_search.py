"""Search over the index: scoping, ranking, filters, sorting, on SQLite and PostgreSQL.

The index is filled by crawling the real registry once per test (a second or so).
"""

from __future__ import annotations

import pytest
from django.db import connection

from library.selectors import (
    SearchQuery,
    crawl_overview,
    repository_detail,
    search_repositories,
)
from registries.services import registry_set_enabled
from tests.library.conftest import crawl_entry

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]


@pytest.fixture
def entries(seeded_registry, make_entry, project_a, project_b):
    """A global entry for tools/, team A's for team-a/, team B's for team-b/."""
    server = seeded_registry.server
    made = {
        "tools": make_entry(server, namespace="tools", name="Tools"),
        "mirror": make_entry(server, namespace="mirror", name="Mirror"),
        "a": make_entry(server, project=project_a, namespace="team-a", name="A"),
        "b": make_entry(server, project=project_b, namespace="team-b", name="B"),
    }
    crawl = crawl_entry(made["a"])
    assert crawl.status == "succeeded", crawl.error_message
    return made


def names(results) -> list[str]:
    return [hit.name for hit in results.hits]


def test_each_project_sees_exactly_its_namespaces(
    entries, personas, project_a, project_b, make_user
):
    member = personas["member"]
    other = personas["other_admin"]
    outsider = make_user("eve")

    seen_by_a = names(search_repositories(member, project_a, SearchQuery(sort="name")))
    seen_by_b = names(search_repositories(other, project_b, SearchQuery(sort="name")))
    seen_alone = names(search_repositories(outsider, None, SearchQuery(sort="name")))

    assert seen_by_a == [
        "mirror/nginx",
        "team-a/api",
        "team-a/sub/worker",
        "team-a/webshop",
        "tools/postgres-backup",
    ]
    assert seen_by_b == ["mirror/nginx", "team-b/ledger", "tools/postgres-backup"]
    assert seen_alone == ["mirror/nginx", "tools/postgres-backup"]
    # A member of B who picks project A still gets only what B's membership allows.
    assert names(search_repositories(other, project_a, SearchQuery(sort="name"))) == [
        "mirror/nginx",
        "tools/postgres-backup",
    ]


def test_hits_name_the_entry_that_grants_them(entries, personas, project_a):
    results = search_repositories(
        personas["member"], project_a, SearchQuery(text="webshop")
    )
    assert [(h.name, h.registry.pk) for h in results.hits] == [
        ("team-a/webshop", entries["a"].pk)
    ]
    host = entries["a"].host
    assert results.hits[0].pull_command == f"docker pull {host}/team-a/webshop:latest"
    # Without a latest tag, the command names the newest tag instead.
    api = search_repositories(personas["member"], project_a, SearchQuery(text="api"))
    assert api.hits[0].pull_command == f"docker pull {host}/team-a/api:2.0"


def test_a_disabled_entry_vanishes_at_once(entries, personas, project_a):
    member = personas["member"]
    assert names(search_repositories(member, project_a, SearchQuery(text="webshop")))

    registry_set_enabled(
        acting_user=personas["project_admin"], registry=entries["a"], enabled=False
    )

    assert (
        names(search_repositories(member, project_a, SearchQuery(text="webshop"))) == []
    )
    with pytest.raises(Exception) as denied:
        repository_detail(member, project_a, entries["a"].pk, "team-a/webshop")
    assert denied.type.__name__ == "Http404"


def test_enabling_an_entry_again_shows_its_images_at_once(entries, personas, project_a):
    """Another project's crawl of the shared source keeps a disabled namespace."""
    member = personas["member"]
    registry_set_enabled(
        acting_user=personas["project_admin"], registry=entries["a"], enabled=False
    )
    # Team B's entry crawls the same registry while team A's is disabled.
    assert crawl_entry(entries["b"]).status == "succeeded"
    registry_set_enabled(
        acting_user=personas["project_admin"], registry=entries["a"], enabled=True
    )

    found = names(search_repositories(member, project_a, SearchQuery(text="webshop")))
    assert found == ["team-a/webshop"]


def test_ranking_exact_then_prefix_then_substring(entries, personas, project_a):
    member = personas["member"]
    # "api" is the exact short name of team-a/api (and a substring elsewhere).
    assert names(search_repositories(member, project_a, SearchQuery(text="api")))[
        0
    ] == ("team-a/api")
    ranked = names(search_repositories(member, project_a, SearchQuery(text="team-a/")))
    assert set(ranked) == {"team-a/api", "team-a/sub/worker", "team-a/webshop"}
    prefix_first = names(
        search_repositories(member, project_a, SearchQuery(text="work"))
    )
    assert prefix_first == ["team-a/sub/worker"]


def test_full_text_finds_descriptions_in_labels(entries, personas, project_a):
    member = personas["member"]
    found = names(
        search_repositories(member, project_a, SearchQuery(text="database dumps"))
    )
    assert found == ["tools/postgres-backup"]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="typo tolerance needs pg_trgm"
)
def test_typos_still_find_on_postgresql(entries, personas, project_a):
    member = personas["member"]
    assert "team-a/webshop" in names(
        search_repositories(member, project_a, SearchQuery(text="webshp"))
    )
    assert "tools/postgres-backup" in names(
        search_repositories(member, project_a, SearchQuery(text="postgress"))
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (SearchQuery(tag="1.1"), ["team-a/webshop"]),
        (SearchQuery(tag="2.0"), ["team-a/api"]),
        (SearchQuery(label_key="tier", label_value="backend"), ["team-a/api"]),
        (SearchQuery(label_key="tier"), ["team-a/api", "team-a/webshop"]),
        (SearchQuery(platform="linux/arm64"), ["team-a/api", "team-a/sub/worker"]),
        (SearchQuery(platform="linux/arm"), ["team-a/api"]),
        (SearchQuery(namespace="team-a/sub"), ["team-a/sub/worker"]),
        (SearchQuery(text="webshop", tag="nope"), []),
    ],
)
def test_filters(entries, personas, project_a, query, expected):
    query = SearchQuery(**{**query.__dict__, "sort": "name"})
    assert names(search_repositories(personas["member"], project_a, query)) == expected


def test_digest_prefix_filter(entries, personas, project_a, seeded_registry):
    digest = seeded_registry.digests["team-a/webshop:1.1"]
    query = SearchQuery(digest=digest[:15], sort="name")
    assert names(search_repositories(personas["member"], project_a, query)) == [
        "team-a/webshop"
    ]


def test_registry_filter_and_unknown_registry(entries, personas, project_a):
    member = personas["member"]
    only_tools = SearchQuery(registry_id=entries["tools"].pk, sort="name")
    assert names(search_repositories(member, project_a, only_tools)) == [
        "tools/postgres-backup"
    ]
    not_ours = SearchQuery(registry_id=entries["b"].pk)
    results = search_repositories(member, project_a, not_ours)
    assert results.hits == [] and results.notices


def test_sort_by_updated_and_pages(entries, personas, project_a):
    member = personas["member"]
    updated = search_repositories(member, project_a, SearchQuery(sort="updated")).hits
    stamps = [hit.last_modified for hit in updated]
    assert len(stamps) == 5 and None not in stamps
    assert stamps == sorted(stamps, reverse=True)
    first = search_repositories(
        member, project_a, SearchQuery(sort="name", page_size=2)
    )
    second = search_repositories(
        member, project_a, SearchQuery(sort="name", page_size=2, page=2)
    )
    assert first.has_next and not first.has_previous
    assert (first.total, first.total_capped) == (2, True)  # "more than 2"
    assert names(first) + names(second) == [
        "mirror/nginx",
        "team-a/api",
        "team-a/sub/worker",
        "team-a/webshop",
    ]


def test_builtin_registry_shows_each_project_its_own_images(
    seeded_registry, personas, project_a, project_b
):
    """The built-in entry is global, but its namespaces are projects."""
    from registries.models import Registry

    server = seeded_registry.server
    builtin = Registry.objects.create(
        name="Built-in",
        address=server.url,
        allow_plain_http=True,
        is_builtin=True,
        api_version="v2",
    )
    assert crawl_entry(builtin).status == "succeeded"
    everything = SearchQuery(sort="name")

    seen_by_a = names(search_repositories(personas["member"], project_a, everything))
    seen_by_b = names(
        search_repositories(personas["other_admin"], project_b, everything)
    )
    seen_by_root = names(
        search_repositories(personas["portal_admin"], project_a, everything)
    )

    assert seen_by_a == ["team-a/api", "team-a/sub/worker", "team-a/webshop"]
    assert seen_by_b == ["team-b/ledger"]
    assert "team-b/ledger" in seen_by_root and "tools/postgres-backup" in seen_by_root
    # Another project's image cannot be opened by guessing its address either.
    with pytest.raises(Exception) as denied:
        repository_detail(personas["member"], project_a, builtin.pk, "team-b/ledger")
    assert denied.type.__name__ == "Http404"
    page = repository_detail(personas["member"], project_a, builtin.pk, "team-a/api")
    assert [t.name for t in page.tags] == ["2.0"]
    # Its crawl page counts only what the person may read, too.
    mine = crawl_overview(builtin, user=personas["member"], project=project_a)
    everything = crawl_overview(builtin, user=personas["portal_admin"], project=None)
    assert (mine.repositories, mine.tags, mine.show_counters) == (3, 5, False)
    assert everything.repositories == 7 and everything.show_counters
