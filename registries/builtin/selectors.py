"""Reads for the built-in registry's pages, scoped to what the user may see."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from portal.models import Project
from portal.selectors import can_manage_project, role_in_project
from registries.builtin.models import PersonalAccessToken, RobotAccount


def robots_for_project(user, project: Project) -> QuerySet[RobotAccount]:
    """Return the project's robots for its members (revoked ones last), else none."""
    if role_in_project(user, project) is None:
        return RobotAccount.objects.none()
    return (
        RobotAccount.objects.filter(project=project)
        .select_related("project", "created_by")
        .order_by("revoked_at", "name", "-created_at")
    )


def robot_for_admin(user, project: Project, pk) -> RobotAccount:
    """Return one robot of ``project`` for a change: 404 if unseen, 403 if not admin."""
    robot = robots_for_project(user, project).filter(pk=pk).first()
    if robot is None:
        raise Http404("No such robot account.")
    if not can_manage_project(user, project):
        raise PermissionDenied(_("Only project admins manage robot accounts."))
    return robot


def personal_tokens(user) -> QuerySet[PersonalAccessToken]:
    if not user.is_authenticated:
        return PersonalAccessToken.objects.none()
    return PersonalAccessToken.objects.filter(user=user).order_by(
        "revoked_at", "-created_at"
    )


def personal_token_for_owner(user, pk) -> PersonalAccessToken:
    """Return the user's own token; anyone else's is a 404."""
    token = personal_tokens(user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    return token
