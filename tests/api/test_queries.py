"""List endpoints make a constant number of queries, whatever the page holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _queries(client, url) -> int:
    # The first request of a token records its use: not part of the list.
    client.get("/api/v1/me/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def _add_entries(personas, project, count, start):
    from registries.services import registry_create

    for n in range(start, start + count):
        registry_create(
            acting_user=personas["project_admin"],
            project=project,
            name=f"Entry {n}",
            address=f"registry{n}.example.com",
            namespace=f"team-a/n{n}",
            username="robot",
            password="s3cret",
        )


@pytest.mark.parametrize("who", ["portal_admin", "project_admin", "viewer"])
def test_registry_list(api_as, personas, project_a, who):
    client = api_as(who)
    url = "/api/v1/registries/?project=team-a&page_size=100"
    _add_entries(personas, project_a, 2, 0)
    few = _queries(client, url)
    _add_entries(personas, project_a, 10, 2)
    assert _queries(client, url) == few


def test_member_and_audit_lists(api_as, personas, project_a, make_user):
    from portal.models import Role
    from portal.services import membership_add

    client = api_as("portal_admin")
    members = "/api/v1/projects/team-a/members/?page_size=100"
    audit = "/api/v1/audit/?page_size=100"
    before = (_queries(client, members), _queries(client, audit))
    for n in range(8):
        membership_add(
            acting_user=personas["portal_admin"],
            project=project_a,
            user=make_user(f"user{n}"),
            role=Role.VIEWER,
        )
    assert (_queries(client, members), _queries(client, audit)) == before


def test_a_deleted_projects_history_is_still_found_by_its_slug(
    api_as, personas, project_a, registry_a
):
    admin = api_as("portal_admin")
    assert admin.delete("/api/v1/projects/team-a/").status_code == 204
    history = admin.get("/api/v1/audit/?project=team-a").json()["results"]
    actions = {entry["action"] for entry in history}
    assert {"project.delete", "registry.create"} <= actions
    assert {entry["project"] for entry in history} == {"team-a"}
