"""Reads for the built-in registry's pages, scoped to what the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.models import Project
from portal.selectors import (
    can_manage_project,
    is_portal_admin,
    projects_for_user,
    role_in_project,
)
from registries.builtin.accounts import grants_for_user
from registries.builtin.models import PersonalAccessToken, RobotAccount
from registries.builtin.scopes import DELETE, PUSH, REPOSITORY_NAME
from registries.models import Registry


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


# -- the Built-In Repositories tab ---------------------------------------------------

# What the tab shows at once; the Library search and repository pages have the rest.
MAX_REPOSITORIES = 200
TAGS_PER_REPOSITORY = 10


@dataclass
class BuiltinRepository:
    """One repository of the built-in registry, with its newest tags."""

    name: str
    tags: list = field(default_factory=list)
    tag_count: int = 0
    last_modified: datetime | None = None
    can_delete: bool = False
    url: str = ""

    @property
    def short_name(self) -> str:
        return self.name.partition("/")[2]

    @property
    def more_tags(self) -> int:
        return max(0, self.tag_count - len(self.tags))


@dataclass
class BuiltinGroup:
    """A project's repositories in the built-in registry."""

    project: Project | None  # None: repositories outside every project (admins)
    role: str = ""
    repositories: list[BuiltinRepository] = field(default_factory=list)
    can_push: bool = False

    @property
    def slug(self) -> str:
        return self.project.slug if self.project else ""


@dataclass
class BuiltinOverview:
    """The Built-In Repositories tab: the registry, and repositories by project."""

    registry: Registry | None
    groups: list[BuiltinGroup] = field(default_factory=list)
    truncated: bool = False
    # The user's other projects: their images show when one is the current project.
    other_projects: list[Project] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.registry.host if self.registry else ""

    @property
    def is_empty(self) -> bool:
        return not any(group.repositories for group in self.groups)


def builtin_overview(user, project: Project | None) -> BuiltinOverview:
    """Return what the built-in registry holds for the projects ``user`` belongs to.

    Scoped twice: by the Library's scope (the entry must be available in the
    current project) and by membership, since the token service lets nobody
    pull another project's repositories. A constant number of queries.
    """
    from library.models import Repository, Tag
    from library.selectors import library_scope

    scope = library_scope(user, project, builtin=True)
    registry = next((e for e in scope.entries if e.is_builtin), None)
    overview = BuiltinOverview(registry=registry)
    if registry is None:
        return overview
    grants = grants_for_user(user)
    projects = list(projects_for_user(user).order_by("name"))
    if project is not None:
        projects.sort(key=lambda p: p.pk != project.pk)  # the current one first
    limit = scope.limits.get(registry.pk)
    if limit is not None:
        # Like everything else, the tab reads within the current project only.
        overview.other_projects = [p for p in projects if p.slug not in limit]
        projects = [p for p in projects if p.slug in limit]
    groups = {
        p.slug: BuiltinGroup(
            project=p,
            role=role_in_project(user, p) or "",
            can_push=PUSH in grants.actions_for(f"{p.slug}/x"),
        )
        for p in projects
    }
    overview.groups = list(groups.values())
    source = scope.sources.get(registry.pk)
    if source is None or scope.is_live(registry):
        return overview
    visible = Q(pk__in=[])
    for slug in groups:
        visible |= Q(name__startswith=f"{slug}/")
    admin = is_portal_admin(user)
    if admin:
        # Portal admins also see what lies outside every project, to clean it up.
        visible = Q()
    rows = list(
        Repository.objects.filter(scope.condition(), visible, source=source)
        .order_by("name")
        .only("pk", "name", "tag_count", "last_modified")[: MAX_REPOSITORIES + 1]
    )
    overview.truncated = len(rows) > MAX_REPOSITORIES
    rows = rows[:MAX_REPOSITORIES]
    newest = (
        Tag.objects.filter(repository__in=rows)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("repository_id")],
                order_by=[F("created").desc(nulls_last=True), F("name").asc()],
            )
        )
        .filter(rank__lte=TAGS_PER_REPOSITORY)
        .order_by("repository_id", "rank")
    )
    tags_by_repository: dict[int, list] = {}
    for tag in newest:
        tags_by_repository.setdefault(tag.repository_id, []).append(tag)
    outside = BuiltinGroup(project=None, role="admin" if admin else "")
    for row in rows:
        entry = BuiltinRepository(
            name=row.name,
            tags=tags_by_repository.get(row.pk, []),
            tag_count=row.tag_count,
            last_modified=row.last_modified,
            can_delete=DELETE in grants.actions_for(row.name),
            url=reverse("library_repository", args=[registry.pk, row.name]),
        )
        for tag in entry.tags:
            tag.pull_command = "docker pull " + registry.pull_reference(
                row.name, tag.name
            )
        groups.get(row.name.partition("/")[0], outside).repositories.append(entry)
    if outside.repositories:
        overview.groups.append(outside)
    return overview


def builtin_repository_for_delete(user, repository: str) -> str:
    """Return the repository name if ``user`` may delete in it; 404 or 403 otherwise.

    Names outside the user's projects are a 404, as if they did not exist.
    """
    name = (repository or "").strip().strip("/")
    if not name or not REPOSITORY_NAME.match(name):
        raise Http404("No such repository.")
    actions = grants_for_user(user).actions_for(name)
    if not actions and not is_portal_admin(user):
        raise Http404("No such repository.")
    if DELETE not in actions:
        raise PermissionDenied(_("Only project admins delete images."))
    return name


def builtin_namespaces(user) -> list[str] | None:
    """Return the namespaces of the built-in registry ``user`` may read.

    ``None`` means all of them (portal admins). For the Library's scope: the
    built-in entry is global, but only a project's members may pull its images.
    """
    if is_portal_admin(user):
        return None
    return sorted(grants_for_user(user).projects)


def builtin_repository_count(project: Project) -> int:
    """Return how many repositories the built-in index holds under ``project``."""
    from library.models import Repository
    from library.selectors import sources_for_entries

    builtin = list(Registry.objects.filter(is_builtin=True))
    sources = sources_for_entries(builtin).values()
    if not sources:
        return 0
    return Repository.objects.filter(
        source__in=[source.pk for source in sources],
        name__startswith=f"{project.slug}/",
    ).count()
