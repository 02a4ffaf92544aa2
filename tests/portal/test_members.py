"""Project membership rules beyond permissions: a project keeps a project admin."""

import pytest
from django.core.exceptions import ValidationError

from portal.models import AuditEntry, Membership, Role
from portal.services import membership_change_role, membership_remove


@pytest.fixture
def only_admin(personas, project_a):
    return Membership.objects.get(project=project_a, user=personas["project_admin"])


def test_the_last_admin_cannot_be_demoted_or_removed(personas, only_admin):
    audit_before = AuditEntry.objects.count()
    with pytest.raises(ValidationError, match="at least one project admin"):
        membership_change_role(
            acting_user=personas["portal_admin"],
            membership=only_admin,
            role=Role.MEMBER,
        )
    with pytest.raises(ValidationError, match="at least one project admin"):
        membership_remove(acting_user=personas["portal_admin"], membership=only_admin)
    only_admin.refresh_from_db()
    assert only_admin.role == Role.ADMIN
    assert AuditEntry.objects.count() == audit_before


def test_with_a_second_admin_the_first_may_step_down(personas, project_a, only_admin):
    other = Membership.objects.get(project=project_a, user=personas["member"])
    membership_change_role(
        acting_user=personas["project_admin"], membership=other, role=Role.ADMIN
    )
    membership_change_role(
        acting_user=personas["project_admin"], membership=only_admin, role=Role.VIEWER
    )
    assert only_admin.role == Role.VIEWER
    membership_remove(acting_user=personas["member"], membership=only_admin)
    assert not Membership.objects.filter(pk=only_admin.pk).exists()


def test_the_members_page_explains_the_refusal(
    personas, project_a, only_admin, client_for
):
    client = client_for(personas["project_admin"])
    url = f"/projects/{project_a.slug}/members/{only_admin.pk}/"
    response = client.post(url + "role/", {"role": "viewer"}, follow=True)
    assert response.status_code == 200
    assert "at least one project admin" in response.content.decode()
    response = client.post(url + "remove/", follow=True)
    assert "at least one project admin" in response.content.decode()
    assert Membership.objects.filter(pk=only_admin.pk, role=Role.ADMIN).exists()


def test_refusals_and_unknown_pages_use_the_site_layout(personas, client_for):
    client = client_for(personas["member"])
    refused = client.get("/administration/audit/")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert (
        "Only portal admins" in page and "Portolan" in page and "js/portal.js" in page
    )
    missing = client.get("/projects/team-b/registries/")
    assert missing.status_code == 404
    assert "not a member" in missing.content.decode()
