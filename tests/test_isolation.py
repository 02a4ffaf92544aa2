"""The product's core promise, pinned across pages and API.

Everything a person reads, searches, browses or may deploy is limited to the
registry entries available to their project, enabled, and inside each entry's
namespace; secrets are never shown; bad input is never a 500.

The world below plants a marker string in data that member "bob" of team-a
must never see: repositories of a shared crawl source outside the team-a
namespace (a global entry with namespace ``team-a`` and team-b's entry on the
same address without one share one index), team-b's own entry, team-a's
disabled entry, team-b's images in the built-in registry, team-b's robots and
tokens, and audit rows. Index rows are written directly through the library
models (the crawler's own path is tested in tests/library against the real
docker-registry).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.builtin.conftest import builtin_data_dir, builtin_settings  # noqa: F401
from tests.library.conftest import crawl_entry, seeded_registry  # noqa: F401

MARKER = "zzmarkerzz"
SHARED = "https://shared.example.com"


def _repo(source, name: str, *, description: str = "", tags=("latest",)):
    from library.models import Repository, Tag

    repository = Repository.objects.create(
        source=source,
        name=name,
        short_name=name.rsplit("/", 1)[-1],
        description=description,
        search_text=f"{name} {description}",
        tag_count=len(tags),
    )
    for index, tag in enumerate(tags):
        Tag.objects.create(
            repository=repository,
            name=tag,
            digest="sha256:" + f"{index}{name}".encode().hex().ljust(64, "0")[:64],
            created=datetime(2024, 5, 17, tzinfo=UTC),
            labels={"owner": description or "nobody"},
        )
    return repository


@pytest.fixture
def world(builtin_settings, personas, project_a, project_b):  # noqa: F811
    """Entries and index rows, with the marker wherever bob must not look."""
    from library.models import Crawl, PopularImage
    from library.services import source_for_entry
    from portal.api.tokens import api_token_create
    from registries.builtin.services import (
        builtin_registry_sync,
        personal_token_create,
        robot_create,
    )
    from registries.models import Registry
    from registries.services import registry_create

    # Docker Hub (the default entry) is disabled in this world.
    assert Registry.objects.filter(is_default=True).update(enabled=False) == 1
    root, mallory = personas["portal_admin"], personas["other_admin"]
    shared_a = registry_create(
        acting_user=root,
        name="Shared, team-a namespace",
        address=SHARED,
        namespace="team-a",
    )
    shared_b = registry_create(
        acting_user=mallory,
        project=project_b,
        name=f"B whole shared {MARKER}",
        address=SHARED,
        namespace="",
    )
    private_b = registry_create(
        acting_user=mallory,
        project=project_b,
        name=f"B private {MARKER}",
        address="https://b-only.example.com",
        namespace="",
        username="robot-b",
        password=f"pw-{MARKER}",
    )
    disabled_a = registry_create(
        acting_user=personas["project_admin"],
        project=project_a,
        name="A disabled",
        address="https://disabled-a.example.com",
        namespace="",
    )
    disabled_a.enabled = False
    disabled_a.save(update_fields=["enabled"])

    source = source_for_entry(shared_a)
    assert source == source_for_entry(shared_b), "the two entries share one index"
    _repo(source, "team-a/app", description="team a app", tags=("1", "latest"))
    _repo(source, f"team-b/{MARKER}", description=f"secret {MARKER}")
    _repo(source, f"team-ab/{MARKER}", description=f"prefix {MARKER}")
    _repo(source, f"other/{MARKER}")
    _repo(source_for_entry(private_b), f"b-private/{MARKER}")
    _repo(source_for_entry(disabled_a), f"dis/{MARKER}")
    Crawl.objects.create(
        source=source_for_entry(private_b),
        status="failed",
        error_message=f"b-private/{MARKER}: unauthorized",
    )

    builtin = builtin_registry_sync()
    builtin_source = source_for_entry(builtin)
    _repo(builtin_source, "team-a/tool")
    _repo(builtin_source, f"team-b/{MARKER}-img")
    _repo(builtin_source, f"stray/{MARKER}")

    robot = robot_create(acting_user=mallory, project=project_b, name=f"r-{MARKER}")
    token = personal_token_create(
        acting_user=mallory, user=mallory, name=f"t-{MARKER}", scope="pull"
    )
    api_token = api_token_create(acting_user=mallory, user=mallory, name=f"a-{MARKER}")
    PopularImage.objects.update_or_create(
        name="nginx", defaults={"description": "web server", "enabled": True}
    )
    return {
        "shared_a": shared_a,
        "shared_b": shared_b,
        "private_b": private_b,
        "disabled_a": disabled_a,
        "builtin": builtin,
        "robot": robot.obj,
        "token": token.obj,
        "api_token": api_token.token,
        "secrets": [
            f"pw-{MARKER}",
            robot.secret,
            token.secret,
            api_token.key,
            shared_b.webhook_secret,
            private_b.webhook_secret,
        ],
    }


def _text(response) -> str:
    """Return the body without echoes of the request's own path and query."""
    text = response.content.decode(errors="replace")
    asked = unquote(
        response.request["PATH_INFO"] + "?" + response.request.get("QUERY_STRING", "")
    )
    for part in sorted(re.split(r"[/?&=+ ]", asked), key=len, reverse=True):
        if MARKER in part:
            text = text.replace(part, "")
    return text


def _bob(client_for, personas):
    return client_for(personas["member"])


# -- pages and API: what bob of team-a reads -----------------------------------------

READS = [
    # (description, url template, allowed statuses)
    ("search everything", "/library/", {200}),
    ("search the marker", f"/library/?q={MARKER}", {200}),
    ("search the marker, fragment", f"/library/?q={MARKER}&hx=1", {200}),
    ("search by namespace", "/library/?namespace=team-b", {200}),
    ("search by prefix namespace", "/library/?namespace=team-ab", {200}),
    ("filter by B's entry", "/library/?registry={private_b}", {200}),
    ("filter by A's disabled entry", "/library/?registry={disabled_a}", {200}),
    ("label filter", f"/library/?label=owner%3Dsecret+{MARKER}", {200}),
    ("built-in tab", "/library/builtin/", {200, 302}),
    ("built-in page", "/builtin-registry/repositories/", {200}),
    ("built-in search", f"/builtin-registry/repositories/?q={MARKER}", {200}),
    ("outside namespace", f"/library/r/{{shared_a}}/team-b/{MARKER}/", {404}),
    ("prefix namespace", f"/library/r/{{shared_a}}/team-ab/{MARKER}/", {404}),
    ("dot segments", f"/library/r/{{shared_a}}/team-a/../team-b/{MARKER}/", {404}),
    (
        "encoded slashes",
        f"/library/r/{{shared_a}}/team-a%2F..%2Fteam-b%2F{MARKER}/",
        {404},
    ),
    ("B's shared entry", f"/library/r/{{shared_b}}/team-b/{MARKER}/", {404}),
    ("B's private entry", f"/library/r/{{private_b}}/b-private/{MARKER}/", {404}),
    ("A's disabled entry", f"/library/r/{{disabled_a}}/dis/{MARKER}/", {404}),
    ("builtin, other project", f"/library/r/{{builtin}}/team-b/{MARKER}-img/", {404}),
    ("builtin, stray", f"/library/r/{{builtin}}/stray/{MARKER}/", {404}),
    ("crawl of B's entry", "/library/registries/{private_b}/crawl/", {404}),
    (
        "crawl badge of B's entry",
        "/library/registries/{private_b}/crawl/status/",
        {404},
    ),
    ("crawl of the shared entry", "/library/registries/{shared_a}/crawl/", {200}),
    ("crawl of the built-in entry", "/library/registries/{builtin}/crawl/", {200}),
    ("robots of B", "/projects/team-b/robots/", {404, 403}),
    ("registries of B", "/projects/team-b/registries/", {404, 403}),
    ("members of B", "/projects/team-b/members/", {404, 403}),
    ("audit page", "/administration/audit/", {403, 302}),
    ("B's entry edit form", "/registries/{private_b}/edit/", {404}),
    ("tokens page", "/account/registry-tokens/", {200}),
    ("API tokens page", "/account/api-tokens/", {200}),
    ("API: registries", "/api/v1/registries/?project=team-a", {200}),
    ("API: registries of B", "/api/v1/registries/?project=team-b", {404}),
    ("API: B's entry", "/api/v1/registries/{private_b}/", {404}),
    ("API: crawls of B's entry", "/api/v1/registries/{private_b}/crawls/", {404}),
    ("API: crawls of shared entry", "/api/v1/registries/{shared_a}/crawls/", {200}),
    ("API: crawls of built-in", "/api/v1/registries/{builtin}/crawls/", {200}),
    ("API: search", f"/api/v1/search/?project=team-a&q={MARKER}", {200}),
    ("API: search all", "/api/v1/search/?project=team-a", {200}),
    ("API: search global only", "/api/v1/search/", {200}),
    ("API: search as B", f"/api/v1/search/?project=team-b&q={MARKER}", {404}),
    (
        "API: search B's entry",
        "/api/v1/search/?project=team-a&registry={private_b}",
        {200, 400},
    ),
    (
        "API: search by namespace",
        "/api/v1/search/?project=team-a&namespace=team-b",
        {200},
    ),
    (
        "API: outside namespace",
        f"/api/v1/registries/{{shared_a}}/repositories/team-b/{MARKER}/?project=team-a",
        {404},
    ),
    (
        "API: prefix namespace",
        f"/api/v1/registries/{{shared_a}}/repositories/team-ab/{MARKER}/?project=team-a",
        {404},
    ),
    (
        "API: dot segments",
        f"/api/v1/registries/{{shared_a}}/repositories/team-a/../team-b/{MARKER}/"
        "?project=team-a",
        {404},
    ),
    (
        "API: B's shared entry",
        f"/api/v1/registries/{{shared_b}}/repositories/team-b/{MARKER}/?project=team-b",
        {404},
    ),
    (
        "API: B's shared entry as A",
        f"/api/v1/registries/{{shared_b}}/repositories/team-b/{MARKER}/?project=team-a",
        {404},
    ),
    (
        "API: disabled entry",
        f"/api/v1/registries/{{disabled_a}}/repositories/dis/{MARKER}/?project=team-a",
        {404},
    ),
    (
        "API: built-in, other project",
        f"/api/v1/registries/{{builtin}}/repositories/team-b/{MARKER}-img/"
        "?project=team-a",
        {404},
    ),
    ("API: audit", "/api/v1/audit/", {403}),
    ("API: project B", "/api/v1/projects/team-b/", {404}),
    ("API: members of B", "/api/v1/projects/team-b/members/", {404}),
    ("API: me", "/api/v1/me/", {200}),
]


@pytest.mark.parametrize(
    ("label", "template", "statuses"), READS, ids=[r[0] for r in READS]
)
def test_member_reads_nothing_outside_scope(
    world, client_for, personas, label, template, statuses
):
    """Bob of team-a: the expected status, and never the marker nor a secret."""
    url = template.format(**{k: getattr(v, "pk", v) for k, v in world.items()})
    headers = {}
    if "hx=1" in url:
        headers = {"HX-Request": "true"}
    response = _bob(client_for, personas).get(url, headers=headers)
    assert response.status_code in statuses, (url, response.status_code)
    text = _text(response)
    assert MARKER not in text, (label, url)
    for secret in world["secrets"]:
        assert secret not in text, (label, url)


def test_member_does_see_what_is_available(world, client_for, personas):
    """The scope is not simply empty: team-a's own images show, with tags."""
    bob = _bob(client_for, personas)
    html = _text(bob.get("/library/?q=app"))
    assert "team-a/app" in html
    detail = bob.get(f"/library/r/{world['shared_a'].pk}/team-a/app/")
    assert detail.status_code == 200
    assert "docker pull shared.example.com/team-a/app:" in _text(detail)
    api = bob.get("/api/v1/search/?project=team-a&q=app").json()
    assert [hit["name"] for hit in api["results"]] == ["team-a/app"]
    builtin = _text(bob.get("/builtin-registry/repositories/"))
    assert "team-a/tool" in builtin


def test_other_project_sees_the_whole_shared_source(world, client_for, personas):
    """Mallory's entry on the same address has no namespace: all of it is hers."""
    mallory = client_for(personas["other_admin"])
    hits = mallory.get(f"/api/v1/search/?project=team-b&q={MARKER}").json()
    names = {hit["name"] for hit in hits["results"]}
    assert f"team-b/{MARKER}" in names
    assert f"team-ab/{MARKER}" in names
    assert "team-a/app" not in {h["name"] for h in hits["results"]}


def test_crawl_counts_stay_in_the_namespace(world, client_for, personas):
    """The shared entry's crawl page counts team-a only; API likewise."""
    bob = _bob(client_for, personas)
    data = bob.get(f"/api/v1/registries/{world['shared_a'].pk}/crawls/").json()
    assert data["repositories"] == 1, data
    url = f"/api/v1/registries/{world['builtin'].pk}/crawls/"
    # Bob reads team-a/tool only; team-b's and stray images are not counted.
    assert bob.get(url + "?project=team-a").json()["repositories"] == 1
    assert bob.get(url).json()["repositories"] == 0
    assert client_for(personas["portal_admin"]).get(url).json()["repositories"] == 3
    assert bob.get(url + "?project=team-b").status_code == 404
    page = _text(bob.get(f"/library/registries/{world['builtin'].pk}/crawl/"))
    assert '<dd id="count-repositories">1</dd>' in page


def test_registry_list_hides_whole_source_counters(world, client_for, personas):
    """A crawl counts its whole source: hidden for namespaced and built-in entries."""
    from library.models import Crawl
    from library.services import source_for_entry

    for entry in ("shared_a", "builtin"):
        source = source_for_entry(world[entry])
        crawl = Crawl.objects.create(
            source=source, status="succeeded", repositories_found=3
        )
        source.latest_crawl = crawl
        source.save(update_fields=["latest_crawl"])
    rows = _bob(client_for, personas).get("/api/v1/registries/").json()["results"]
    crawls = {row["id"]: row.get("crawl") for row in rows}
    for entry in ("shared_a", "builtin"):
        assert crawls[world[entry].pk] is not None
        assert crawls[world[entry].pk]["counters"] is None


def test_webhook_refuses_another_entrys_secret(world, client):
    """A secret opens its own entry's webhook only."""
    response = client.post(
        f"/library/hooks/registry/{world['private_b'].pk}/",
        data=b'{"events": []}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {world['shared_b'].webhook_secret}"},
    )
    assert response.status_code == 401
    response = client.post(
        "/library/hooks/registry/999999/",
        data=b"{}",
        content_type="application/json",
        headers={"Authorization": "Bearer x"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("project", "image", "allowed"),
    [
        ("team-a", "shared.example.com/team-a/app:1", True),
        ("team-a", f"shared.example.com/team-b/{MARKER}", False),
        ("team-a", f"shared.example.com/team-ab/{MARKER}", False),
        ("team-a", f"shared.example.com/team-a/../team-b/{MARKER}", False),
        ("team-a", f"b-only.example.com/b-private/{MARKER}", False),
        ("team-a", f"disabled-a.example.com/dis/{MARKER}", False),
        ("team-a", "nginx:latest", False),
        ("team-a", "127.0.0.1:5999/team-a/tool", True),
        ("team-a", f"127.0.0.1:5999/team-b/{MARKER}-img", False),
        ("team-a", f"127.0.0.1:5999/stray/{MARKER}", False),
    ],
)
def test_deploy_guard_follows_the_same_scope(
    world, client_for, personas, project, image, allowed
):
    """The access check allows only what the Library shows bob."""
    response = _bob(client_for, personas).post(
        "/api/v1/access-check/",
        {"project": project, "image": image, "require_exists": False},
        content_type="application/json",
    )
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["allowed"] is allowed, response.json()
    else:
        assert not allowed


def test_deploy_guard_refuses_a_project_the_user_is_not_in(world, client_for, personas):
    response = _bob(client_for, personas).post(
        "/api/v1/access-check/",
        {"project": "team-b", "image": f"shared.example.com/team-b/{MARKER}"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert MARKER not in _text(response)


def test_disabled_docker_hub_is_never_searched_live(
    world, client_for, personas, monkeypatch
):
    """A disabled Docker Hub entry adds no live results and is never asked."""
    from library import selectors
    from registries.models import Registry

    hub = Registry.objects.get(is_default=True)
    assert hub.is_docker_hub and not hub.enabled

    def refuse(*args, **kwargs):
        raise AssertionError("a disabled Docker Hub entry was searched")

    monkeypatch.setattr(selectors, "live_search", refuse)
    bob = _bob(client_for, personas)
    assert bob.get("/library/?q=nginx").status_code == 200
    assert bob.get("/api/v1/search/?project=team-a&q=nginx").status_code == 200
    assert bob.get(f"/library/r/{hub.pk}/library/nginx/").status_code == 404


def test_popular_images_are_not_offered_as_deployable_without_docker_hub(
    world, client_for, personas
):
    """Without Docker Hub the list stays, but says the portal would refuse it."""
    html = _text(_bob(client_for, personas).get("/library/"))
    assert "nginx" in html
    assert "not enabled for this project" in html
    # The deploy guard refuses these (see test_deploy_guard_follows_the_same_scope):
    # the page says so, and links no repository page for them.
    assert "deploy check refuses these images" in html
    assert "/library/r/" not in html.split("Popular images", 1)[1].split("</div>")[0]


def test_popular_images_link_to_docker_hub_when_it_is_available(
    world, client_for, personas
):
    from registries.models import Registry

    hub = Registry.objects.get(is_default=True)
    hub.enabled = True
    hub.save(update_fields=["enabled"])
    html = _text(_bob(client_for, personas).get("/library/"))
    assert f"/library/r/{hub.pk}/library/nginx/" in html
    assert "deploy check refuses" not in html


# -- every URL pattern, with an outsider and anonymously -------------------------------


def _paths(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _paths(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _fill(path: str, world: dict, membership_b: int) -> list[str]:
    """Return concrete URLs for a pattern, aimed at team-b's data."""
    path = path.replace("^", "").replace("$", "")
    path = path.replace(r"(?P<app_label>auth|portal|registries|library)", "library")
    path = path.replace("(?P<url>.*)", "nowhere/").replace(r"[\s\S]*", "nowhere/")
    path = path.replace("<path:name>", f"team-b/{MARKER}")
    path = path.replace("<slug:slug>", "team-b")
    path = path.replace("<username:username>", "mallory")
    path = path.replace("<int:member_id>", str(membership_b))
    path = path.replace("<path:content_type_id>", "1")
    path = re.sub(r"<(path:)?(object_)?id>", str(world["private_b"].pk), path)
    ids = [
        world[k].pk for k in ("private_b", "shared_b", "robot", "token", "api_token")
    ]
    if "<int:pk>" in path or "<int:registry_id>" in path:
        return [
            path.replace("<int:pk>", str(pk)).replace("<int:registry_id>", str(pk))
            for pk in ids
        ]
    assert "<" not in path, path
    return [path]


def test_every_url_neither_fails_nor_leaks(world, client_for, personas, make_user):
    """Every route, every method, as bob, a user of no project and anonymously.

    GET also as an HTMX fragment; the API also with DELETE and PATCH. Logging
    out is left out (it would end the persona's session mid-walk).
    """
    from portal.models import Membership
    from registries.models import Registry

    membership_b = Membership.objects.get(user=personas["other_admin"]).pk
    urls = sorted({url for p in _paths() for url in _fill(p, world, membership_b)})
    assert len(urls) > 60
    clients = {
        "bob": _bob(client_for, personas),
        "nobody": client_for(make_user("nobody")),
        "anonymous": client_for(None),
    }
    hx = {"HX-Request": "true"}
    for who, c in clients.items():
        for url in urls:
            path = "/" + url
            calls = [("get", {}), ("get", hx), ("post", {})]
            if url.startswith("api/"):
                calls += [("delete", {}), ("patch", {})]
            for method, headers in calls:
                if url.endswith("logout/") and method == "post":
                    continue
                response = getattr(c, method)(path, headers=headers)
                assert response.status_code < 500, (who, method, path)
                text = _text(response)
                assert MARKER not in text, (who, method, path)
                for secret in world["secrets"]:
                    assert secret not in text, (who, method, path)
        if who != "anonymous":
            assert "_auth_user_id" in c.session, f"{who} was logged out mid-walk"
    # Nothing an outsider sent changed team-b's entries.
    assert Registry.objects.filter(pk=world["private_b"].pk, enabled=True).exists()
    assert Registry.objects.filter(pk=world["shared_b"].pk, enabled=True).exists()


def test_every_url_answers_a_portal_admin_without_a_500(world, client_for, personas):
    """The portal admin sees everything; every GET still answers without a 500."""
    from portal.models import Membership

    membership_b = Membership.objects.get(user=personas["other_admin"]).pk
    root = client_for(personas["portal_admin"])
    for url in sorted({u for p in _paths() for u in _fill(p, world, membership_b)}):
        response = root.get("/" + url)
        assert response.status_code < 500, url
        # Writers see webhook secrets; passwords and token secrets nobody sees.
        text = _text(response)
        for secret in world["secrets"][:4]:
            assert secret not in text, url


# -- secrets, crawl details and built-in deletes -------------------------------------


def test_secrets_are_never_shown_even_to_writers(
    world, registry_a, client_for, personas
):
    """Passwords never come back; the webhook secret only to the entry's writers."""
    alice = client_for(personas["project_admin"])
    carol = client_for(personas["viewer"])
    pages = [
        f"/registries/{registry_a.pk}/edit/",
        "/projects/team-a/registries/",
        f"/library/registries/{registry_a.pk}/crawl/",
        f"/api/v1/registries/{registry_a.pk}/",
        "/api/v1/registries/?project=team-a",
        f"/api/v1/registries/{registry_a.pk}/crawls/",
    ]
    for url in pages:
        for who in (alice, carol):
            response = who.get(url)
            assert response.status_code in (200, 403), url
            assert "team-a-s3cret-value" not in _text(response), url
    crawl = f"/library/registries/{registry_a.pk}/crawl/"
    assert registry_a.webhook_secret in _text(alice.get(crawl))
    assert registry_a.webhook_secret not in _text(carol.get(crawl))
    api = f"/api/v1/registries/{registry_a.pk}/crawls/"
    assert registry_a.webhook_secret not in _text(carol.get(api))


def test_crawl_of_a_shared_source_shows_no_names_outside_the_namespace(
    world, client_for, personas
):
    """A crawl covers the whole source: its errors and progress stay unshown."""
    from library.models import Crawl
    from library.services import source_for_entry

    source = source_for_entry(world["shared_a"])
    failed = Crawl.objects.create(
        source=source,
        status="failed",
        error_message=f"team-b/{MARKER}: manifest unknown",
        repositories_found=4,
    )
    active = Crawl.objects.create(
        source=source, status="running", repositories_found=4, repositories_done=1
    )
    source.latest_crawl = active
    source.save(update_fields=["latest_crawl"])
    bob = _bob(client_for, personas)
    for url in (
        f"/library/registries/{world['shared_a'].pk}/crawl/",
        f"/api/v1/registries/{world['shared_a'].pk}/crawls/",
    ):
        for headers in ({}, {"HX-Request": "true"}):
            text = _text(bob.get(url, headers=headers))
            assert MARKER not in text, url
            assert "of 4 repositories" not in text, url
    # Mallory's entry on the same address has no namespace: she sees the error.
    mallory = client_for(personas["other_admin"])
    page = mallory.get(f"/library/registries/{world['shared_b'].pk}/crawl/")
    assert f"team-b/{MARKER}: manifest unknown" in _text(page)
    # The registry list carries the latest crawl: its error, too, stays hers.
    source.latest_crawl = failed
    source.save(update_fields=["latest_crawl"])
    listed = bob.get("/api/v1/registries/?project=team-a")
    assert listed.status_code == 200
    assert MARKER not in _text(listed)
    assert MARKER not in _text(bob.get(f"/api/v1/registries/{world['shared_a'].pk}/"))
    theirs = mallory.get("/api/v1/registries/?project=team-b")
    assert f"team-b/{MARKER}: manifest unknown" in _text(theirs)


@pytest.mark.parametrize(
    "repository",
    [
        f"team-b/{MARKER}-img",
        f"team-a/../team-b/{MARKER}-img",
        f"stray/{MARKER}",
        "team-ab/x",
        "team-a%2F..%2Fteam-b%2Fx",
        "",
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "/builtin-registry/repositories/delete-tag/",
        "/builtin-registry/repositories/delete/",
    ],
)
def test_builtin_deletes_stay_in_the_admins_project(
    world, client_for, personas, url, repository
):
    """Team-a's admin deletes nothing of team-b's, nor outside every project."""
    alice = client_for(personas["project_admin"])
    params = {"repository": repository, "tag": "latest"}
    for method in ("get", "post"):
        response = getattr(alice, method)(url, params)
        assert response.status_code in (403, 404), (method, response.status_code)
        assert MARKER not in _text(response)


def test_fragments_follow_the_same_scope(world, client_for, personas):
    """HTMX fragments of the Library, crawl and built-in pages, as bob."""
    bob = _bob(client_for, personas)
    hx = {"HX-Request": "true"}
    for url in (
        "/library/?q=zzmarker",
        "/library/?namespace=team-b",
        "/library/?registry={}".format(world["private_b"].pk),
        "/builtin-registry/repositories/?q=zzmarker",
        "/library/r/{}/team-a/app/?page=2".format(world["shared_a"].pk),
        "/library/registries/{}/crawl/".format(world["builtin"].pk),
    ):
        response = bob.get(url, headers=hx)
        assert response.status_code == 200, url
        assert MARKER not in _text(response), url
    hidden = bob.get(f"/library/r/{world['shared_b'].pk}/team-b/{MARKER}/", headers=hx)
    assert hidden.status_code == 404


# -- cross-project ids in the URL ----------------------------------------------------


def test_ids_of_another_project_under_ones_own_slug(world, client_for, personas):
    """Team-a's admin names team-b's robot, member or tokens under team-a: 404."""
    from portal.models import Membership
    from registries.builtin.models import PersonalAccessToken, RobotAccount

    alice = client_for(personas["project_admin"])
    robot = world["robot"]
    membership_b = Membership.objects.get(user=personas["other_admin"])
    attempts = [
        f"/projects/team-a/robots/{robot.pk}/revoke/",
        f"/projects/team-a/members/{membership_b.pk}/role/",
        f"/projects/team-a/members/{membership_b.pk}/remove/",
        f"/account/registry-tokens/{world['token'].pk}/revoke/",
        f"/account/api-tokens/{world['api_token'].pk}/revoke/",
        f"/registries/{world['private_b'].pk}/toggle/",
        f"/registries/{world['private_b'].pk}/delete/",
        f"/library/registries/{world['shared_b'].pk}/crawl/start/",
    ]
    for url in attempts:
        response = alice.post(url, {"role": "viewer"})
        assert response.status_code == 404, (url, response.status_code)
        assert MARKER not in _text(response)
    assert RobotAccount.objects.get(pk=robot.pk).revoked_at is None
    assert PersonalAccessToken.objects.get(pk=world["token"].pk).revoked_at is None
    membership_b.refresh_from_db()
    assert membership_b.role == "admin"
    api = alice.delete(f"/api/v1/projects/team-a/members/{personas['other_admin']}/")
    assert api.status_code == 404
    patch = alice.patch(
        f"/api/v1/registries/{world['private_b'].pk}/",
        {"name": "taken"},
        content_type="application/json",
    )
    assert patch.status_code == 404


def test_switching_to_a_project_one_is_not_in_changes_nothing(
    world, client_for, personas
):
    """The current project is only ever one of the user's own."""
    bob = _bob(client_for, personas)
    bob.post("/projects/switch/", {"project": "team-b"})
    session = bob.session
    session["portolan_project"] = "team-b"
    session.save()
    page = bob.get("/library/?q=zzmarker")
    assert page.status_code == 200
    assert MARKER not in _text(page)
    assert "team-a/app" in _text(bob.get("/library/?q=app"))


def test_registry_tokens_grant_nothing_in_another_project(world, client, personas):
    """The token service grants bob no pull on team-b's built-in images."""
    import base64

    import jwt

    from tests.conftest import PASSWORD

    basic = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    response = client.get(
        "/auth/token",
        {
            "scope": [
                f"repository:team-b/{MARKER}-img:pull",
                "repository:team-a/tool:pull",
                f"repository:stray/{MARKER}:pull",
            ]
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    granted = {a["name"]: a["actions"] for a in claims["access"] if a["actions"]}
    assert granted == {"team-a/tool": ["pull"]}


# -- the same promise against a real, crawled registry ----------------------------


def test_shared_source_crawled_from_a_real_registry(
    seeded_registry,  # noqa: F811
    client_for,
    personas,
    project_b,
):
    """Crawl the real docker-registry once; two entries read it differently.

    The global entry has namespace team-a, team-b's entry on the same address
    has none: one index, two views of it.
    """
    from registries.models import Registry
    from registries.services import registry_create

    Registry.objects.filter(is_default=True).update(enabled=False)  # no network
    server = seeded_registry.server
    common = {"address": server.url, "allow_plain_http": True}
    shared_a = registry_create(
        acting_user=personas["portal_admin"], name="A", namespace="team-a", **common
    )
    shared_b = registry_create(
        acting_user=personas["other_admin"],
        project=project_b,
        name="B",
        namespace="",
        **common,
    )
    assert crawl_entry(shared_a).status == "succeeded"

    bob = _bob(client_for, personas)
    found = bob.get("/api/v1/search/?project=team-a&sort=name").json()["results"]
    assert {hit["name"] for hit in found} == {
        "team-a/api",
        "team-a/sub/worker",
        "team-a/webshop",
    }
    page = _text(bob.get("/library/?q=ledger"))
    assert "team-b/ledger" not in page
    assert "team-ab/decoy" not in _text(bob.get("/library/?q=decoy"))
    for name in ("team-ab/decoy", "team-b/ledger", "team-a/../team-b/ledger"):
        assert bob.get(f"/library/r/{shared_a.pk}/{name}/").status_code == 404
        assert bob.get(f"/library/r/{shared_b.pk}/{name}/").status_code == 404
    detail = bob.get(f"/library/r/{shared_a.pk}/team-a/webshop/")
    assert seeded_registry.digests["team-a/webshop:1.0"] in _text(detail)

    def check(image: str) -> dict:
        response = bob.post(
            "/api/v1/access-check/",
            {"project": "team-a", "image": image},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        return response.json()

    allowed = check(f"{server.host_port}/team-a/webshop:1.0")
    assert allowed["allowed"] is True
    assert allowed["digest"] == seeded_registry.digests["team-a/webshop:1.0"]
    assert check(f"{server.host_port}/team-b/ledger")["allowed"] is False
    assert check(f"{server.host_port}/team-ab/decoy")["allowed"] is False

    mallory = client_for(personas["other_admin"])
    hers = mallory.get("/api/v1/search/?project=team-b&q=ledger").json()["results"]
    assert [hit["name"] for hit in hers] == ["team-b/ledger"]


def test_deploy_guard_keeps_each_project_to_its_own_builtin_images(
    world, client_for, personas
):
    """Refused before any registry is asked (it would answer: the portal reads all)."""
    for who, image in (
        ("member", f"127.0.0.1:5999/team-b/{MARKER}-img:latest"),
        ("portal_admin", f"127.0.0.1:5999/team-b/{MARKER}-img:latest"),
        ("member", f"127.0.0.1:5999/team-a/../team-b/{MARKER}-img"),
    ):
        response = client_for(personas[who]).post(
            "/api/v1/access-check/",
            {"project": "team-a", "image": image, "require_exists": True},
            content_type="application/json",
        )
        if response.status_code == 400:  # the reference itself is refused
            continue
        assert response.status_code == 200, response.content
        answer = response.json()
        assert answer["allowed"] is False
        assert answer["code"] == "outside_namespace", answer


BAD_PARAMS = [
    {"page": "0"},
    {"page": "-1"},
    {"page": "99999999999999999999"},
    {"page": "abc"},
    {"registry": "abc"},
    {"registry": "99999999999999999999"},
    {"registry": "-1"},
    {"sort": "evil"},
    {"q": "\x00"},
    {"q": "a" * 5000},
    {"q": "%_\\'\""},
    {"digest": "zz"},
    {"platform": "not a platform"},
    {"namespace": "../"},
    {"namespace": "team-a/../team-b"},
    {"label": "="},
    {"label": "\x00=\x00"},
    {"tag": "../../etc"},
    {"page_size": "100000"},
    {"project": "../team-b"},
    {"project": "\x00"},
]


@pytest.mark.parametrize("params", BAD_PARAMS, ids=[repr(p)[:40] for p in BAD_PARAMS])
def test_bad_query_strings_get_a_message_not_a_500(world, client_for, personas, params):
    """Pages answer 200 with the form's message; the API a 4xx or 200."""
    bob = _bob(client_for, personas)
    for url in ("/library/", "/builtin-registry/repositories/"):
        response = bob.get(url, params)
        assert response.status_code == 200, (url, response.status_code)
        assert MARKER not in _text(response)
    api = bob.get("/api/v1/search/", {"project": "team-a", **params})
    assert api.status_code in (200, 400, 404), api.status_code
    assert MARKER not in _text(api)
    detail = bob.get(
        f"/api/v1/registries/{world['shared_a'].pk}/repositories/team-a/app/",
        {"project": "team-a", **params},
    )
    assert detail.status_code in (200, 400, 404), detail.status_code
    assert MARKER not in _text(detail)
