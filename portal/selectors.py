"""Reads about projects and who may do what in them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from portal.models import AuditEntry, Membership, Project, Role


def is_portal_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def projects_for_user(user) -> QuerySet[Project]:
    """Return the projects ``user`` may open: all for portal admins, else theirs."""
    if not user.is_authenticated:
        return Project.objects.none()
    if is_portal_admin(user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def role_in_project(user, project: Project | None) -> str | None:
    """Return the user's role in ``project``; portal admins act as project admins."""
    if project is None or not user.is_authenticated:
        return None
    if is_portal_admin(user):
        return Role.ADMIN
    # Memberships are cached per request on the user object to avoid repeats.
    cache = getattr(user, "_portolan_roles", None)
    if cache is None:
        cache = dict(
            Membership.objects.filter(user=user).values_list("project_id", "role")
        )
        user._portolan_roles = cache
    return cache.get(project.pk)


def can_manage_project(user, project: Project | None) -> bool:
    return role_in_project(user, project) == Role.ADMIN


def project_for_user(user, slug: str) -> Project:
    """Return the project ``slug`` if ``user`` belongs to it, else 404."""
    try:
        return projects_for_user(user).get(slug=slug)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def project_for_admin(user, slug: str) -> Project:
    """Return the project for a write by its admin; 404 outsiders, 403 members."""
    project = project_for_user(user, slug)
    if not can_manage_project(user, project):
        raise PermissionDenied("Only project admins can do this.")
    return project


def project_members(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def users_not_in_project(project: Project):
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(memberships__project=project)
        .order_by("username")
    )


def audit_entries() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("project")
