"""Project slugs are built-in registry namespaces: valid, fixed, and audited on delete.

The built-in registry's part (a project holding images cannot be deleted) is in
``tests/builtin/test_projects_builtin.py``.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal import services
from portal.models import AuditEntry, Membership, Project, Role
from registries.models import Registry

BAD_SLUGS = ["Team-C", "TEAM", "-team", "team-", "team_", "a_-b"]


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


# -- 1. the slug is a lower-case registry path component -----------------------------


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_service_refuses_a_slug_that_is_no_registry_namespace(personas, slug):
    with pytest.raises(ValidationError) as caught:
        services.project_create(
            acting_user=personas["portal_admin"], name="Team C", slug=slug
        )
    assert "lower-case" in " ".join(caught.value.message_dict["slug"])
    assert not Project.objects.filter(name="Team C").exists()


@pytest.mark.parametrize("slug", ["team-c", "team_c", "team--c", "team__c", "c9"])
def test_service_accepts_lower_case_slugs(personas, slug):
    project = services.project_create(
        acting_user=personas["portal_admin"], name="Team C", slug=slug
    )
    assert project.slug == slug


def test_projects_page_refuses_upper_case_slug_with_a_message(personas, client_for):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("project_admin_list"), {"name": "Team C", "slug": "Team-C"}
    )
    assert response.status_code == 422
    assert "lower-case letters and digits" in response.content.decode()
    assert not Project.objects.filter(name="Team C").exists()
    # Derived from the name, the slug is lower case.
    response = client.post(reverse("project_admin_list"), {"name": "Team C"})
    assert response.status_code == 302
    assert Project.objects.get(name="Team C").slug == "team-c"


def test_django_admin_refuses_upper_case_slug(personas, client_for):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("admin:portal_project_add"),
        {
            "name": "Team C",
            "slug": "Team-C",
            "description": "",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "lower-case letters and digits" in response.content.decode()
    assert not Project.objects.filter(name="Team C").exists()


def test_api_refuses_upper_case_slug_with_a_field_error(personas, client_for):
    client = client_for(personas["portal_admin"])
    response = client.post(
        "/api/v1/projects/",
        json.dumps({"name": "Team C", "slug": "Team-C"}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert "lower-case" in " ".join(error["fields"]["slug"])
    assert not Project.objects.filter(name="Team C").exists()


# -- 2. the slug is fixed once created -----------------------------------------------


def test_service_refuses_to_change_a_slug(personas, project_a):
    with pytest.raises(ValidationError) as caught:
        services.project_update(
            acting_user=personas["portal_admin"],
            project=project_a,
            name="Team A2",
            slug="team-z",
        )
    assert "cannot be changed" in " ".join(caught.value.message_dict["slug"])
    project_a.refresh_from_db()
    assert (project_a.name, project_a.slug) == ("Team A", "team-a")
    assert not AuditEntry.objects.filter(action="project.update").exists()


def test_service_still_changes_name_and_description(personas, project_a):
    services.project_update(
        acting_user=personas["portal_admin"],
        project=project_a,
        name="Team A2",
        slug="team-a",
        description="Renamed",
    )
    project_a.refresh_from_db()
    assert (project_a.name, project_a.slug) == ("Team A2", "team-a")
    assert last("project.update").changes == {
        "description": ["", "Renamed"],
        "name": ["Team A", "Team A2"],
    }


def _admin_change_data(project, members) -> dict:
    data = {
        "name": project.name,
        "slug": project.slug,
        "description": project.description,
        "memberships-TOTAL_FORMS": len(members),
        "memberships-INITIAL_FORMS": len(members),
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    for i, m in enumerate(members):
        data |= {
            f"memberships-{i}-id": m.pk,
            f"memberships-{i}-project": project.pk,
            f"memberships-{i}-user": m.user_id,
            f"memberships-{i}-role": m.role,
        }
    return data


def test_django_admin_shows_the_slug_read_only_and_ignores_a_new_one(
    personas, client_for, project_a
):
    client = client_for(personas["portal_admin"])
    url = reverse("admin:portal_project_change", args=[project_a.pk])
    page = client.get(url).content.decode()
    assert 'name="slug"' not in page
    assert "team-a" in page
    members = list(project_a.memberships.order_by("pk"))
    data = _admin_change_data(project_a, members) | {"name": "A", "slug": "team-z"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    project_a.refresh_from_db()
    assert (project_a.name, project_a.slug) == ("A", "team-a")


# -- 3. deleting a project keeps its trail ------------------------------------------


def test_delete_audits_what_went_with_the_project(personas, project_a, registry_a):
    services.project_delete(acting_user=personas["portal_admin"], project=project_a)
    deleted = last("project.delete")
    assert deleted.project is None  # the row is gone
    assert (deleted.project_slug, deleted.project_name) == ("team-a", "Team A")
    assert deleted.changes["slug"] == ["team-a", None]
    assert deleted.changes["registries"] == [
        [f"{registry_a.name} ({registry_a.address}/{registry_a.namespace})"],
        None,
    ]
    assert deleted.changes["members"] == [
        ["alice (admin)", "bob (member)", "carol (viewer)"],
        None,
    ]
    # Credentials are never in the trail.
    text = json.dumps(deleted.changes)
    assert registry_a.password_encrypted not in text
    assert not Registry.objects.filter(pk=registry_a.pk).exists()
    assert not Membership.objects.filter(project_id=project_a.pk).exists()


def test_audit_rows_keep_the_project_after_it_is_deleted(
    personas, client_for, project_a, registry_a
):
    client = client_for(personas["portal_admin"])
    client.post(reverse("registry_toggle", args=[registry_a.pk]))
    services.project_delete(acting_user=personas["portal_admin"], project=project_a)
    history = AuditEntry.objects.filter(project_slug="team-a")
    assert {"registry.create", "registry.disable", "project.delete"} <= set(
        history.values_list("action", flat=True)
    )
    assert not history.filter(project__isnull=False).exists()

    page = client.get(reverse("audit_log"), {"project": "team-a"}).content.decode()
    assert "registry.disable" in page
    assert "project.delete" in page
    assert "alice (admin); bob (member); carol (viewer)" in page
    other = client.get(reverse("audit_log"), {"project": "team-b"}).content.decode()
    assert "registry.disable" not in other
    assert "Nothing recorded for this project." in other


def test_audit_page_filter_survives_odd_input(personas, client_for):
    client = client_for(personas["portal_admin"])
    for value in ("", "x" * 500, "a\x00b", "Team-C", "%"):
        response = client.get(reverse("audit_log"), {"project": value})
        assert response.status_code == 200


def test_audit_page_is_for_portal_admins_only(personas, client_for):
    for persona in ("project_admin", "member", "other_admin"):
        response = client_for(personas[persona]).get(
            reverse("audit_log"), {"project": "team-a"}
        )
        assert response.status_code == 403


def test_django_admin_delete_is_audited_with_members(personas, client_for, project_a):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("admin:portal_project_delete", args=[project_a.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Project.objects.filter(pk=project_a.pk).exists()
    assert last("project.delete").changes["members"][0] == [
        "alice (admin)",
        "bob (member)",
        "carol (viewer)",
    ]


# -- 4. the Django admin shows a service's refusal ------------------------------------


def test_django_admin_refuses_removing_the_last_project_admin(
    personas, client_for, project_a
):
    client = client_for(personas["portal_admin"])
    url = reverse("admin:portal_project_change", args=[project_a.pk])
    members = list(project_a.memberships.order_by("pk"))
    data = _admin_change_data(project_a, members)
    alice = next(i for i, m in enumerate(members) if m.role == Role.ADMIN)
    data[f"memberships-{alice}-DELETE"] = "on"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "needs at least one project admin" in response.content.decode()
    assert project_a.memberships.filter(role=Role.ADMIN).count() == 1
    assert not AuditEntry.objects.filter(action="member.remove").exists()


def test_django_admin_may_replace_the_only_admin_in_one_save(
    personas, client_for, project_a
):
    client = client_for(personas["portal_admin"])
    url = reverse("admin:portal_project_change", args=[project_a.pk])
    members = list(project_a.memberships.order_by("pk"))
    data = _admin_change_data(project_a, members)
    for i, m in enumerate(members):
        if m.role == Role.ADMIN:
            data[f"memberships-{i}-role"] = Role.MEMBER
        elif m.role == Role.MEMBER:
            data[f"memberships-{i}-role"] = Role.ADMIN
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    admins = project_a.memberships.filter(role=Role.ADMIN)
    assert [m.user.username for m in admins] == ["bob"]


def test_django_admin_shows_the_services_refusal_when_the_form_could_not_know(
    personas, client_for, project_a, monkeypatch
):
    """A refusal the form did not foresee (a concurrent change) is a message."""
    client = client_for(personas["portal_admin"])
    url = reverse("admin:portal_project_change", args=[project_a.pk])
    members = list(project_a.memberships.order_by("pk"))
    data = _admin_change_data(project_a, members) | {"name": "Team A2"}
    bob = next(i for i, m in enumerate(members) if m.role == Role.MEMBER)
    data[f"memberships-{bob}-DELETE"] = "on"

    def refuse(*, acting_user, membership):
        raise services.last_admin_error(membership.project)

    monkeypatch.setattr(services, "membership_remove", refuse)
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "needs at least one project admin" in response.content.decode()
    project_a.refresh_from_db()
    assert project_a.name == "Team A"  # the whole save was undone
    assert not AuditEntry.objects.filter(action="project.update").exists()


@pytest.fixture
def builtin_entry(personas, settings, tmp_path):
    from registries.builtin.services import builtin_registry_sync

    settings.DATA_DIR = tmp_path
    settings.BUILTIN_REGISTRY_ADDRESS = "127.0.0.1:5999"
    settings.BUILTIN_REGISTRY_DIR = ""
    settings.BUILTIN_REGISTRY_TLS_CERT = ""
    settings.BUILTIN_REGISTRY_TLS_KEY = ""
    settings.BUILTIN_REGISTRY_TLS_CA = ""
    return builtin_registry_sync()


def test_django_admin_refuses_deleting_the_builtin_entry(
    personas, client_for, builtin_entry
):
    client = client_for(personas["portal_admin"])
    url = reverse("admin:registries_registry_delete", args=[builtin_entry.pk])
    response = client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "can only be enabled or disabled" in body
    assert 'class="error"' in body
    assert Registry.objects.filter(pk=builtin_entry.pk).exists()
    assert not AuditEntry.objects.filter(action="registry.delete").exists()


def test_django_admin_bulk_delete_with_the_builtin_entry_deletes_nothing(
    personas, client_for, builtin_entry, global_registry
):
    client = client_for(personas["portal_admin"])
    response = client.post(
        reverse("admin:registries_registry_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [global_registry.pk, builtin_entry.pk],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "can only be enabled or disabled" in response.content.decode()
    assert Registry.objects.filter(pk=global_registry.pk).exists()
    assert Registry.objects.filter(pk=builtin_entry.pk).exists()
    assert not AuditEntry.objects.filter(action="registry.delete").exists()
