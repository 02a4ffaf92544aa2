"""The project switcher: the current project is kept in the session, never trusted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.middleware import SESSION_KEY
from portal.models import Membership, Project, Role
from portal.services import membership_remove

SWITCH = reverse("project_switch")


def current(client) -> str | None:
    return client.session.get(SESSION_KEY)


def library(client) -> str:
    return client.get(reverse("library_repositories")).content.decode()


@pytest.mark.parametrize(
    ("persona", "slug", "status"),
    [
        ("project_admin", "team-b", 404),
        ("member", "team-b", 404),
        ("viewer", "team-b", 404),
        ("other_admin", "team-a", 404),
        ("member", "no-such-project", 404),
        ("member", "", 404),
        ("member", "../team-b", 404),
        ("member", "team-a", 302),
        ("other_admin", "team-b", 302),
        ("portal_admin", "team-b", 302),
    ],
)
def test_switching_needs_membership(persona, slug, status, personas, client_for):
    client = client_for(personas[persona])
    client.get(reverse("library_repositories"))  # settle on a first project
    before = current(client)
    response = client.post(SWITCH, {"project": slug})
    assert response.status_code == status
    assert current(client) == (slug if status == 302 else before)


def test_anonymous_and_get_are_refused(client_for, personas):
    assert client_for(None).post(SWITCH, {"project": "team-a"}).status_code == 302
    assert client_for(personas["member"]).get(SWITCH).status_code == 405


def test_the_current_project_decides_what_the_library_offers(
    personas, client_for, global_registry, registry_a, registry_b
):
    client = client_for(personas["portal_admin"])
    client.post(SWITCH, {"project": "team-a"})
    body = library(client)
    assert registry_a.name in body and registry_b.name not in body
    client.post(SWITCH, {"project": "team-b"})
    body = library(client)
    assert registry_b.name in body and registry_a.name not in body
    assert global_registry.name in body


def test_the_header_lists_only_my_projects(personas, client_for):
    body = library(client_for(personas["other_admin"]))
    assert '<option value="team-b" selected>Team B</option>' in body
    assert 'value="team-a"' not in body and "Team A" not in body


def test_a_removed_member_falls_back_to_a_project_still_theirs(
    personas, client_for, registry_a, project_b
):
    member = personas["member"]
    Membership.objects.create(project=project_b, user=member, role=Role.VIEWER)
    client = client_for(member)
    client.post(SWITCH, {"project": "team-a"})
    assert registry_a.name in library(client)

    membership_remove(
        acting_user=personas["project_admin"],
        membership=Membership.objects.get(user=member, project__slug="team-a"),
    )
    body = library(client)
    assert registry_a.name not in body
    assert current(client) == "team-b"
    assert client.get(reverse("project_registries", args=["team-a"])).status_code == 404


def test_a_member_removed_from_their_only_project_still_gets_pages(
    personas, client_for, global_registry, registry_a
):
    client = client_for(personas["viewer"])
    client.post(SWITCH, {"project": "team-a"})
    Membership.objects.filter(user=personas["viewer"]).delete()
    response = client.get(reverse("library_repositories"))
    assert response.status_code == 200
    body = response.content.decode()
    assert global_registry.name in body and registry_a.name not in body
    assert "No project" in body


@pytest.mark.parametrize(
    ("came_from", "lands_on"),
    [
        ("/projects/team-a/registries/", "/projects/team-b/registries/"),
        ("/projects/team-a/members/", "/projects/team-b/members/"),
        ("/library/", "/library/"),
        ("https://evil.example/projects/team-a/registries/", "/"),
        ("//evil.example/", "/"),
    ],
)
def test_pages_of_a_project_follow_the_switch(
    came_from, lands_on, personas, client_for
):
    client = client_for(personas["portal_admin"])
    response = client.post(SWITCH, {"project": "team-b", "next": came_from})
    assert response.status_code == 302
    assert response["Location"] == lands_on
    # The browser's Referer works the same way as an explicit next.
    response = client.post(
        SWITCH,
        {"project": "team-b"},
        headers={"Referer": f"http://testserver{came_from}"},
    )
    if came_from.startswith("/"):
        assert response["Location"].endswith(lands_on)


def test_an_htmx_switch_tells_the_browser_where_to_go(personas, client_for):
    client = client_for(personas["portal_admin"])
    response = client.post(
        SWITCH,
        {"project": "team-b"},
        headers={
            "HX-Request": "true",
            "Referer": "http://testserver/projects/team-a/registries/",
        },
    )
    # Not a 302: the XHR would follow it and the page would never change.
    assert response.status_code == 200
    assert response["HX-Redirect"].endswith("/projects/team-b/registries/")
    assert current(client) == "team-b"


def test_a_deleted_project_is_forgotten(personas, client_for):
    client = client_for(personas["portal_admin"])
    client.post(SWITCH, {"project": "team-b"})
    Project.objects.filter(slug="team-b").delete()
    assert client.get(reverse("library_repositories")).status_code == 200
    assert current(client) == "team-a"
