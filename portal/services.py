"""Every write to projects and memberships, each recorded in the audit log."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.models import AuditEntry, Membership, Project, Role


def audit_record(
    *,
    actor,
    action: str,
    obj: Any,
    project: Project | None = None,
    changes: dict | None = None,
) -> AuditEntry:
    """Write one audit row; ``changes`` maps field names to ``[before, after]``."""
    actor_ok = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        actor=actor if actor_ok else None,
        actor_name=actor.get_username() if actor_ok else "system",
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:300],
        project=project,
        project_slug=project.slug if project is not None else "",
        project_name=project.name if project is not None else "",
        changes=changes or {},
    )


def diff(before: dict, after: dict) -> dict:
    """Return ``{field: [before, after]}`` for the fields whose value changed."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


@transaction.atomic
def project_create(
    *, acting_user, name: str, slug: str, description: str = ""
) -> Project:
    project = Project(name=name, slug=slug, description=description)
    project.full_clean()
    project.save()
    audit_record(
        actor=acting_user,
        action="project.create",
        obj=project,
        project=project,
        changes=diff({}, {"name": name, "slug": slug, "description": description}),
    )
    return project


_PROJECT_FIELDS = ("name", "slug", "description")


@transaction.atomic
def project_update(*, acting_user, project: Project, **fields) -> Project:
    """Change a project's name or description and audit it; the slug is fixed."""
    unknown = set(fields) - set(_PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown project fields: {sorted(unknown)}")
    # The slug is the project's namespace in the built-in registry, where access
    # is decided by the first path segment, and part of its robots' usernames:
    # renamed, its images would pass to whoever takes the old slug next.
    if "slug" in fields and fields["slug"] != project.slug:
        raise ValidationError(
            {
                "slug": ValidationError(
                    _(
                        "A project's slug cannot be changed: it is the project's "
                        "namespace in the built-in registry and part of its robot "
                        "accounts' names."
                    ),
                    code="slug_fixed",
                )
            }
        )
    before = {field: getattr(project, field) for field in _PROJECT_FIELDS}
    for field, value in fields.items():
        setattr(project, field, value)
    project.full_clean()
    project.save()
    changes = diff(
        before, {field: getattr(project, field) for field in _PROJECT_FIELDS}
    )
    if changes:
        audit_record(
            actor=acting_user,
            action="project.update",
            obj=project,
            project=project,
            changes=changes,
        )
    return project


@transaction.atomic
def project_delete(*, acting_user, project: Project) -> None:
    """Delete an empty project with its entries, members and robots, all audited.

    A project whose namespace still holds images in the built-in registry is
    refused: its slug could be taken by a new project, which would then own
    them.
    """
    project = Project.objects.select_for_update().filter(pk=project.pk).first()
    if project is None:
        return  # deleted meanwhile
    # Registries build on projects: imported here, not at module level.
    from registries.builtin.selectors import builtin_repository_count

    held = builtin_repository_count(project)
    if held:
        raise ValidationError(
            ngettext(
                "%(project)s still has %(count)d repository in the built-in "
                "registry (under %(slug)s/): delete it in Library > Built-In "
                "Repositories first.",
                "%(project)s still has %(count)d repositories in the built-in "
                "registry (under %(slug)s/): delete them in Library > Built-In "
                "Repositories first.",
                held,
            ),
            params={"project": project.name, "count": held, "slug": project.slug},
            code="builtin_repositories",
        )
    registries = [
        f"{entry.name} ({'/'.join(filter(None, [entry.address, entry.namespace]))})"
        for entry in project.registries.order_by("name", "pk")
    ]
    members = [
        f"{m.user.get_username()} ({m.role})"
        for m in project.memberships.select_related("user").order_by("user__username")
    ]
    robots = [
        robot.username
        for robot in project.robot_accounts.filter(revoked_at__isnull=True).order_by(
            "name"
        )
    ]
    before = {
        "name": project.name,
        "slug": project.slug,
        "description": project.description,
        "registries": registries,
        "members": members,
        "robot_accounts": robots,
    }
    audit_record(
        actor=acting_user,
        action="project.delete",
        obj=project,
        project=project,
        changes={key: [value, None] for key, value in before.items() if value},
    )
    project.delete()


def _ensure_another_admin(membership: Membership) -> None:
    """Refuse to leave a project without a project admin."""
    # Lock the project's admin rows so two admins demoting each other at once
    # cannot both succeed.
    admins = list(
        Membership.objects.select_for_update()
        .filter(project_id=membership.project_id, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )
    if not set(admins) - {membership.pk}:
        raise last_admin_error(membership.project)


def last_admin_error(project: Project) -> ValidationError:
    """Return the refusal to leave ``project`` without a project admin."""
    return ValidationError(
        _(
            "%(project)s needs at least one project admin: make another member "
            "admin first."
        ),
        params={"project": project},
        code="last_admin",
    )


@transaction.atomic
def membership_add(*, acting_user, project: Project, user, role: str) -> Membership:
    membership = Membership(project=project, user=user, role=role)
    membership.full_clean()
    membership.save()
    audit_record(
        actor=acting_user,
        action="member.add",
        obj=membership,
        project=project,
        changes={"user": [None, user.get_username()], "role": [None, role]},
    )
    return membership


@transaction.atomic
def membership_change_role(
    *, acting_user, membership: Membership, role: str
) -> Membership:
    before = membership.role
    if before == Role.ADMIN and role != Role.ADMIN:
        _ensure_another_admin(membership)
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    audit_record(
        actor=acting_user,
        action="member.change_role",
        obj=membership,
        project=membership.project,
        changes={"role": [before, role]},
    )
    return membership


@transaction.atomic
def membership_remove(*, acting_user, membership: Membership) -> None:
    if membership.role == Role.ADMIN:
        _ensure_another_admin(membership)
    audit_record(
        actor=acting_user,
        action="member.remove",
        obj=membership,
        project=membership.project,
        changes={"user": [membership.user.get_username(), None]},
    )
    membership.delete()
