"""Reads of registry entries, always scoped to what the user may see.

``registries_available`` is the one door every later read path (search, browse,
deploy checks) goes through: enabled entries that are global or belong to the
current project, for a user who belongs to that project.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from portal.models import Project
from portal.selectors import can_manage_project, is_portal_admin, role_in_project
from registries.models import Registry


def registries_available(user, project: Project | None) -> QuerySet[Registry]:
    """Return the enabled entries ``user`` may search and deploy from in ``project``."""
    return registries_listed(user, project).filter(enabled=True)


def registries_listed(user, project: Project | None) -> QuerySet[Registry]:
    """Return global entries and, for its members, ``project``'s own, enabled or not."""
    if not user.is_authenticated:
        return Registry.objects.none()
    scope = Q(project__isnull=True)
    if project is not None and role_in_project(user, project) is not None:
        scope |= Q(project=project)
    return Registry.objects.filter(scope).select_related("project")


def registries_global(user) -> QuerySet[Registry]:
    """Return every global entry, for the portal admins' page."""
    if not is_portal_admin(user):
        raise PermissionDenied("Only portal admins manage global registries.")
    return Registry.objects.global_entries()


def can_write_registry(user, registry: Registry) -> bool:
    if registry.is_global:
        return is_portal_admin(user)
    return can_manage_project(user, registry.project)


def can_read_registry(user, registry: Registry) -> bool:
    if not user.is_authenticated:
        return False
    if registry.is_global:
        return True
    return role_in_project(user, registry.project) is not None


def registry_for_read(user, pk) -> Registry:
    """Return the entry if ``user`` may see it; 404 otherwise, never a hint."""
    registry = (
        Registry.objects.select_related("project").filter(pk=pk).first()
        if str(pk).isdigit()
        else None
    )
    if registry is None or not can_read_registry(user, registry):
        raise Http404("No such registry.")
    return registry


def registry_for_write(user, pk) -> Registry:
    """Return the entry for a change: 404 if invisible, 403 if read-only to ``user``."""
    registry = registry_for_read(user, pk)
    if not can_write_registry(user, registry):
        raise PermissionDenied("You may not change this registry entry.")
    return registry


def annotate_writable(user, registries) -> list[Registry]:
    """Return the entries as a list, each with ``writable`` set for the templates."""
    rows = list(registries)
    for registry in rows:
        registry.writable = can_write_registry(user, registry)
    return rows
