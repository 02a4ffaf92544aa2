"""A project whose namespace holds images in the built-in registry cannot be deleted.

Access to the built-in registry is decided by a repository's first path
segment, the project's slug: deleted, the project's images would pass to
whoever creates a project with that slug next. Index rows are written directly,
as in ``test_builtin_tab``.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal import services
from portal.models import AuditEntry, Project


@pytest.fixture
def indexed(builtin_settings, personas):
    """The built-in entry, with two repositories of team-a and one of team-ab."""
    from library.models import Repository
    from library.services import source_for_entry
    from registries.builtin.services import builtin_registry_sync

    registry = builtin_registry_sync()
    source = source_for_entry(registry)
    for name in ("team-a/app", "team-a/sub/tool", "team-ab/other"):
        Repository.objects.create(
            source=source, name=name, short_name=name.rsplit("/", 1)[-1]
        )
    return source


def test_service_refuses_and_names_how_many_and_where(indexed, personas, project_a):
    with pytest.raises(ValidationError) as caught:
        services.project_delete(acting_user=personas["portal_admin"], project=project_a)
    message = " ".join(caught.value.messages)
    assert "Team A still has 2 repositories in the built-in registry" in message
    assert "team-a/" in message
    assert "Built-In Repositories" in message
    assert Project.objects.filter(pk=project_a.pk).exists()
    assert project_a.memberships.count() == 3
    assert not AuditEntry.objects.filter(action="project.delete").exists()


def test_delete_is_allowed_once_the_namespace_is_empty(indexed, personas, project_a):
    indexed.repositories.filter(name__startswith="team-a/").delete()
    # team-ab/other shares the prefix "team-a" but not the namespace.
    services.project_delete(acting_user=personas["portal_admin"], project=project_a)
    assert not Project.objects.filter(pk=project_a.pk).exists()


def test_another_projects_images_do_not_block(indexed, personas, project_b):
    services.project_delete(acting_user=personas["portal_admin"], project=project_b)
    assert not Project.objects.filter(pk=project_b.pk).exists()


def test_django_admin_shows_the_refusal(indexed, personas, client_for, project_a):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("admin:portal_project_delete", args=[project_a.pk]),
        {"post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "still has 2 repositories" in response.content.decode()
    assert Project.objects.filter(pk=project_a.pk).exists()


def test_api_refuses_with_the_message(indexed, personas, client_for, project_a):
    client = client_for(personas["portal_admin"])
    response = client.delete("/api/v1/projects/team-a/")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "builtin_repositories"
    assert "still has 2 repositories" in response.json()["error"]["message"]
    assert Project.objects.filter(pk=project_a.pk).exists()
