"""Every change to an entry, a member or a role leaves an audit row without secrets."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from portal.models import AuditEntry, Membership, Role
from registries.models import Registry

SECRET = "audited-s3cret-value"


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


def no_secret(entry: AuditEntry) -> None:
    text = json.dumps(entry.changes) + entry.object_repr
    assert SECRET not in text
    for registry in Registry.objects.exclude(password_encrypted=""):
        assert registry.password_encrypted not in text


@pytest.fixture
def admin(personas, client_for):
    return client_for(personas["project_admin"])


def test_registry_lifecycle_is_audited(admin, personas, project_a):
    actor = personas["project_admin"]
    form = {
        "name": "Audited",
        "address": "audited.example.com",
        "namespace": "team-a",
        "username": "robot",
        "password": SECRET,
        "crawl_interval_minutes": 60,
        "enabled": "on",
    }
    admin.post(reverse("registry_project_add", args=["team-a"]), form)
    registry = Registry.objects.get(name="Audited")
    created = last("registry.create")
    assert (created.actor, created.actor_name) == (actor, "alice")
    assert created.project == project_a
    assert created.object_id == str(registry.pk)
    assert created.changes["address"] == [None, "https://audited.example.com"]
    assert created.changes["password"] == [None, "set"]
    assert created.changes["scope"] == [None, "team-a"]
    assert "ca_pem" not in created.changes  # empty fields are not listed
    no_secret(created)

    admin.post(
        reverse("registry_edit", args=[registry.pk]),
        {**form, "name": "Audited 2", "password": ""},
    )
    updated = last("registry.update")
    assert updated.changes == {"name": ["Audited", "Audited 2"]}

    admin.post(reverse("registry_toggle", args=[registry.pk]))
    assert last("registry.disable").changes == {"enabled": [True, False]}
    admin.post(reverse("registry_toggle", args=[registry.pk]))
    assert last("registry.enable").changes == {"enabled": [False, True]}

    admin.post(reverse("registry_delete", args=[registry.pk]))
    deleted = last("registry.delete")
    assert deleted.changes["name"] == ["Audited 2", None]
    assert deleted.changes["password"] == ["set", None]
    assert deleted.object_repr == "Audited 2"
    for entry in AuditEntry.objects.all():
        no_secret(entry)


def test_membership_changes_are_audited(admin, personas, make_user, project_a):
    dave = make_user("dave")
    members = reverse("project_members", args=["team-a"])
    admin.post(members, {"user": dave.pk, "role": Role.VIEWER})
    added = last("member.add")
    assert added.changes == {"user": [None, "dave"], "role": [None, "viewer"]}
    assert added.project == project_a and added.actor_name == "alice"

    membership = Membership.objects.get(user=dave)
    admin.post(
        reverse("project_member_role", args=["team-a", membership.pk]),
        {"role": Role.ADMIN},
    )
    assert last("member.change_role").changes == {"role": ["viewer", "admin"]}

    admin.post(reverse("project_member_remove", args=["team-a", membership.pk]))
    removed = last("member.remove")
    assert removed.changes == {"user": ["dave", None]}
    assert removed.project == project_a


def test_the_audit_log_page_shows_changes_to_portal_admins(
    personas, client_for, registry_a
):
    client = client_for(personas["portal_admin"])
    client.post(reverse("registry_toggle", args=[registry_a.pk]))
    body = client.get(reverse("audit_log")).content.decode()
    assert "registry.disable" in body
    assert "registry.create" in body
    assert "Team A images" in body
    assert "<b>enabled</b>: True → False" in body


def test_the_audit_log_pages_and_survives_bad_page_numbers(personas, client_for):
    client = client_for(personas["portal_admin"])
    admin_user = personas["portal_admin"]
    from portal.services import audit_record

    for n in range(55):
        audit_record(
            actor=admin_user,
            action="test.bulk",
            obj=admin_user,
            changes={"n": [n - 1, n]},
        )
    first = client.get(reverse("audit_log")).content.decode()
    assert "Page 1 of 2" in first
    for page in ("2", "999", "abc", "-1", ""):
        response = client.get(reverse("audit_log"), {"page": page})
        assert response.status_code == 200


def test_django_admin_changes_are_audited_too(personas, client_for, global_registry):
    client = client_for(personas["portal_admin"])
    url = reverse("admin:registries_registry_change", args=[global_registry.pk])
    response = client.post(
        url,
        {
            "name": "Renamed in admin",
            "address": global_registry.address,
            "namespace": "",
            "enabled": "on",
            "username": "svc",
            "new_password": "",
            "ca_pem": "",
            "pinned_sha256": "",
            "crawl_interval_minutes": 60,
        },
    )
    assert response.status_code == 302
    entry = last("registry.update")
    assert entry.changes == {"name": ["Corp registry", "Renamed in admin"]}
    assert entry.actor == personas["portal_admin"]

    response = client.post(
        reverse("admin:registries_registry_delete", args=[global_registry.pk]),
        {"post": "yes"},
    )
    assert response.status_code == 302
    assert not Registry.objects.filter(pk=global_registry.pk).exists()
    assert last("registry.delete").object_repr == "Renamed in admin"


def test_django_admin_membership_inline_is_audited(
    personas, client_for, project_a, make_user
):
    dave = make_user("dave")
    client = client_for(personas["portal_admin"])
    url = reverse("admin:portal_project_change", args=[project_a.pk])
    members = list(Membership.objects.filter(project=project_a).order_by("pk"))
    data = {
        "name": project_a.name,
        "slug": project_a.slug,
        "description": "",
        "memberships-TOTAL_FORMS": len(members) + 1,
        "memberships-INITIAL_FORMS": len(members),
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    for i, m in enumerate(members):
        data |= {
            f"memberships-{i}-id": m.pk,
            f"memberships-{i}-project": project_a.pk,
            f"memberships-{i}-user": m.user_id,
            f"memberships-{i}-role": m.role,
        }
    viewer_index = next(
        i for i, m in enumerate(members) if m.user == personas["viewer"]
    )
    member_index = next(
        i for i, m in enumerate(members) if m.user == personas["member"]
    )
    data[f"memberships-{viewer_index}-role"] = Role.MEMBER
    data[f"memberships-{member_index}-DELETE"] = "on"
    n = len(members)
    data |= {
        f"memberships-{n}-project": project_a.pk,
        f"memberships-{n}-user": dave.pk,
        f"memberships-{n}-role": Role.VIEWER,
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert last("member.change_role").changes == {"role": ["viewer", "member"]}
    assert last("member.remove").changes == {"user": ["bob", None]}
    assert last("member.add").changes == {
        "user": [None, "dave"],
        "role": [None, "viewer"],
    }
    assert Membership.objects.get(user=dave).role == Role.VIEWER
