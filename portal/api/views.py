"""API views: parse, call the same selector or service as the page, serialise.

Permission decisions are the selectors' (``project_for_user``,
``project_for_admin``, ``registry_for_read``/``registry_for_write``, ...): an
outsider gets 404, a member without the right role 403, exactly as on the pages.
"""

from __future__ import annotations

import dataclasses

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from library import selectors as library_selectors
from library import services as library_services
from library.forms import SearchForm
from portal import access, selectors, services
from portal.api import serializers as s
from portal.api.base import PortalAPIView, project_parameter
from portal.api.exceptions import Conflict
from portal.api.pagination import (
    MAX_PAGE_NUMBER,
    MAX_PAGE_SIZE,
    BoundedPageNumberPagination,
    page_number,
    page_size,
)
from registries import selectors as registry_selectors
from registries import services as registry_services
from registries.builtin.config import webhook_url


def _require_portal_admin(user, message: str) -> None:
    if not selectors.is_portal_admin(user):
        raise PermissionDenied(message)


def _text_param(
    name: str, description: str, *, max_length: int | None = None
) -> OpenApiParameter:
    schema = {"type": "string", "minLength": 1}
    if max_length is not None:
        schema["maxLength"] = max_length
    return OpenApiParameter(
        name, schema, OpenApiParameter.QUERY, description=description
    )


def _int_param(name: str, description: str, *, maximum: int | None = None):
    schema = {"type": "integer", "minimum": 1}
    if maximum is not None:
        schema["maximum"] = maximum
    return OpenApiParameter(
        name, schema, OpenApiParameter.QUERY, description=description
    )


class ListMixin:
    """Paginate a queryset and serialise the page."""

    pagination_class = BoundedPageNumberPagination

    def page_context(self, page: list) -> dict:
        """Return what the serializer needs for a whole page at once."""
        return {}

    def paginated(self, queryset):
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(
            page,
            many=True,
            context={**self.get_serializer_context(), **self.page_context(page)},
        )
        return self.get_paginated_response(serializer.data)


# -- you and your projects -------------------------------------------------------------


class MeView(PortalAPIView):
    serializer_class = s.MeSerializer

    @extend_schema(summary="Who you are, and your projects with your role in each")
    def get(self, request):
        projects = selectors.projects_for_user(request.user).order_by("name")
        data = s.me_data(request.user, projects)
        return Response(self.get_serializer(data).data)


class ProjectListView(ListMixin, PortalAPIView):
    serializer_class = s.ProjectSerializer
    body_serializers = {"POST": s.ProjectCreateSerializer}

    @extend_schema(
        summary="Your projects (every project for portal admins)",
        responses=s.ProjectSerializer(many=True),
    )
    def get(self, request):
        return self.paginated(
            selectors.projects_for_user(request.user).order_by("name", "pk")
        )

    @extend_schema(
        summary="Create a project (portal admins)",
        request=s.ProjectCreateSerializer,
        responses={201: s.ProjectSerializer},
    )
    def post(self, request):
        _require_portal_admin(request.user, _("Only portal admins create projects."))
        form = self.body()
        project = services.project_create(
            acting_user=request.user, **form.validated_data
        )
        return Response(
            self.get_serializer(project).data, status=status.HTTP_201_CREATED
        )


class ProjectDetailView(PortalAPIView):
    serializer_class = s.ProjectSerializer

    @extend_schema(summary="One of your projects")
    def get(self, request, slug):
        return Response(
            self.get_serializer(selectors.project_for_user(request.user, slug)).data
        )

    @extend_schema(
        summary="Delete a project and its own registry entries (portal admins)",
        responses={204: None},
    )
    def delete(self, request, slug):
        project = selectors.project_for_user(request.user, slug)
        _require_portal_admin(request.user, _("Only portal admins delete projects."))
        try:
            services.project_delete(acting_user=request.user, project=project)
        except ValidationError as exc:
            if getattr(exc, "code", None) != "builtin_repositories":
                raise
            # Not bad input: the project's state forbids it until images go.
            raise Conflict(exc.messages[0], code=exc.code) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- members ---------------------------------------------------------------------------


def _membership(project, username: str):
    membership = (
        selectors.project_members(project).filter(user__username=username).first()
    )
    if membership is None:
        raise Http404(_("No such member."))
    return membership


class MemberListView(ListMixin, PortalAPIView):
    serializer_class = s.MemberSerializer
    body_serializers = {"POST": s.MemberAddSerializer}

    @extend_schema(
        summary="Members of a project and their roles",
        responses=s.MemberSerializer(many=True),
    )
    def get(self, request, slug):
        project = selectors.project_for_user(request.user, slug)
        return self.paginated(selectors.project_members(project))

    @extend_schema(
        summary="Add a member (project admins)",
        request=s.MemberAddSerializer,
        responses={201: s.MemberSerializer},
    )
    def post(self, request, slug):
        project = selectors.project_for_admin(request.user, slug)
        form = self.body()
        username = form.validated_data["username"]
        user = selectors.users_not_in_project(project).filter(username=username).first()
        if user is None:
            if project.memberships.filter(user__username=username).exists():
                message = _("“%(name)s” is already a member.")
            else:
                message = _("There is no active user “%(name)s”.")
            raise exceptions.ValidationError(
                {"username": [message % {"name": username}]}
            )
        membership = services.membership_add(
            acting_user=request.user,
            project=project,
            user=user,
            role=form.validated_data["role"],
        )
        return Response(
            self.get_serializer(membership).data, status=status.HTTP_201_CREATED
        )


class MemberDetailView(PortalAPIView):
    serializer_class = s.MemberSerializer
    body_serializers = {"PATCH": s.MemberRoleSerializer}

    @extend_schema(summary="One member of a project")
    def get(self, request, slug, username):
        project = selectors.project_for_user(request.user, slug)
        return Response(self.get_serializer(_membership(project, username)).data)

    @extend_schema(
        summary="Change a member's role (project admins)",
        request=s.MemberRoleSerializer,
    )
    def patch(self, request, slug, username):
        project = selectors.project_for_admin(request.user, slug)
        membership = _membership(project, username)
        form = self.body()
        membership = services.membership_change_role(
            acting_user=request.user,
            membership=membership,
            role=form.validated_data["role"],
        )
        return Response(self.get_serializer(membership).data)

    @extend_schema(summary="Remove a member (project admins)", responses={204: None})
    def delete(self, request, slug, username):
        project = selectors.project_for_admin(request.user, slug)
        services.membership_remove(
            acting_user=request.user, membership=_membership(project, username)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- registry entries ------------------------------------------------------------------


class RegistryListView(ListMixin, PortalAPIView):
    serializer_class = s.RegistrySerializer
    query_params = ("project",)
    body_serializers = {"POST": s.RegistryWriteSerializer}

    def page_context(self, page):
        return {"crawls": library_selectors.crawl_states(page)}

    @extend_schema(
        summary="Registry entries: global ones, and the project's own with ?project=",
        parameters=[
            project_parameter(
                required=False,
                description=_(
                    "List this project's entries beside the global ones (enabled "
                    "or not). Without it, only global entries."
                ),
            )
        ],
        responses=s.RegistrySerializer(many=True),
    )
    def get(self, request):
        project = self.project_from_query(required=False)
        rows = registry_selectors.registries_listed(request.user, project).order_by(
            "name", "address", "namespace", "pk"
        )
        return self.paginated(rows)

    @extend_schema(
        summary="Add a registry entry: global, or a project's with ?project=",
        parameters=[
            project_parameter(
                required=False,
                description=_(
                    "Add the entry to this project; without it the entry is global."
                ),
            )
        ],
        request=s.RegistryWriteSerializer,
        responses={201: s.RegistrySerializer},
    )
    def post(self, request):
        project = self.project_from_query(required=False)
        if project is None:
            _require_portal_admin(
                request.user, _("Only portal admins add global registries.")
            )
        elif not selectors.can_manage_project(request.user, project):
            raise PermissionDenied(_("Only project admins add project registries."))
        form = self.body()
        fields, password = form.service_fields()
        registry = registry_services.registry_create(
            acting_user=request.user, project=project, password=password or "", **fields
        )
        return Response(
            self.get_serializer(registry).data, status=status.HTTP_201_CREATED
        )


class RegistryDetailView(PortalAPIView):
    serializer_class = s.RegistrySerializer
    body_serializers = {"PATCH": s.RegistryWriteSerializer}

    @extend_schema(summary="One registry entry")
    def get(self, request, pk):
        registry = registry_selectors.registry_for_read(request.user, pk)
        return Response(self.get_serializer(registry).data)

    @extend_schema(
        summary="Change a registry entry; no password (or an empty one) keeps it",
        request=s.RegistryWriteSerializer(partial=True),
    )
    def patch(self, request, pk):
        registry = registry_selectors.registry_for_write(request.user, pk)
        form = self.body(partial=True)
        fields, password = form.service_fields()
        registry = registry_services.registry_update(
            acting_user=request.user, registry=registry, password=password, **fields
        )
        return Response(self.get_serializer(registry).data)

    @extend_schema(summary="Delete a registry entry", responses={204: None})
    def delete(self, request, pk):
        registry = registry_selectors.registry_for_write(request.user, pk)
        registry_services.registry_delete(acting_user=request.user, registry=registry)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _RegistrySwitchView(PortalAPIView):
    serializer_class = s.RegistrySerializer
    enabled: bool

    def post(self, request, pk):
        registry = registry_selectors.registry_for_write(request.user, pk)
        registry = registry_services.registry_set_enabled(
            acting_user=request.user, registry=registry, enabled=self.enabled
        )
        return Response(self.get_serializer(registry).data)


@extend_schema(summary="Enable a registry entry", request=None)
class RegistryEnableView(_RegistrySwitchView):
    enabled = True


@extend_schema(
    summary="Disable a registry entry: it vanishes from search and deploy checks",
    request=None,
)
class RegistryDisableView(_RegistrySwitchView):
    enabled = False


class RegistryVerifyView(PortalAPIView):
    serializer_class = s.VerifyOutcomeSerializer

    @extend_schema(
        summary="Verify an entry now and record the outcome as its health",
        request=None,
    )
    def post(self, request, pk):
        registry = registry_selectors.registry_for_write(request.user, pk)
        outcome = registry_services.registry_verify(registry=registry)
        return Response(self.get_serializer(outcome).data)


class RegistryTrustView(PortalAPIView):
    """Trust the certificate the registry presents now, if it is the one approved.

    The certificate is fetched again from the server, never taken from the
    request, and stored only if its fingerprint equals the approved one.
    """

    serializer_class = s.VerifyOutcomeSerializer
    body_serializers = {"POST": s.TrustSerializer}

    @extend_schema(
        summary="Trust the registry's certificate you were shown by Verify",
        request=s.TrustSerializer,
    )
    def post(self, request, pk):
        registry = registry_selectors.registry_for_write(request.user, pk)
        form = self.body()
        outcome = registry_services.registry_trust_presented_certificate(
            acting_user=request.user,
            registry=registry,
            approved_sha256=form.validated_data["sha256"],
        )
        return Response(self.get_serializer(outcome).data)


# -- the Library: crawls, search, repositories and tags --------------------------------


def _crawl_overview_data(request, registry, project=None):
    """Return the crawl page's facts; the webhook secret only for its writers.

    Counts are what the user may read in ``project`` (the built-in registry's
    namespaces are projects), as on the crawl page.
    """
    overview = library_selectors.crawl_overview(
        registry, user=request.user, project=project
    )
    writable = registry_selectors.can_write_registry(request.user, registry)
    context = {
        "show_counters": overview.show_counters,
        # Error messages may name any repository of the source.
        "show_errors": overview.show_counters or writable,
    }
    if writable:
        context["webhook_url"] = webhook_url(registry)
    return s.CrawlOverviewSerializer(overview, context=context).data


class CrawlOverviewView(PortalAPIView):
    serializer_class = s.CrawlOverviewSerializer
    query_params = ("project",)

    @extend_schema(
        summary="Crawls of an entry's index: status, progress, counts and errors",
        parameters=[
            project_parameter(
                required=False,
                description=(
                    "Count as this project (the built-in registry counts only "
                    "the project's images)."
                ),
            )
        ],
    )
    def get(self, request, pk):
        registry = registry_selectors.registry_for_read(request.user, pk)
        project = self.project_from_query(required=False)
        return Response(_crawl_overview_data(request, registry, project))


class CrawlStartView(PortalAPIView):
    serializer_class = s.CrawlOverviewSerializer

    @extend_schema(
        summary="Crawl now: queue a crawl of the entry's index (its writers)",
        request=None,
        responses={202: s.CrawlOverviewSerializer},
    )
    def post(self, request, pk):
        registry = registry_selectors.registry_for_write(request.user, pk)
        if not registry.enabled:
            raise Conflict(
                _("This entry is disabled; enable it before crawling."),
                code="registry_disabled",
            )
        if library_services.is_live_entry(registry):
            raise Conflict(
                _("This registry is searched live; there is no crawl."),
                code="live_registry",
            )
        crawl = library_services.crawl_request_for_entry(
            acting_user=request.user, registry=registry
        )
        if crawl is None:
            raise Conflict(
                _("The stored credentials cannot be read; save the password again."),
                code="credentials_unreadable",
            )
        return Response(
            _crawl_overview_data(request, registry), status=status.HTTP_202_ACCEPTED
        )


_SEARCH_PARAMS = (
    ("q", "Free text: repository path, description and label values."),
    ("namespace", "Only repositories under this path, e.g. team-a or team-a/sub."),
    ("tag", "Only repositories with this tag."),
    ("digest", "Only repositories with a tag whose digest starts with this."),
    ("label", "key=value, or key for any value."),
    ("platform", "os/architecture, e.g. linux/arm64."),
)


class SearchView(PortalAPIView):
    """The Library search: the page's form, selector, filters and sort."""

    serializer_class = s.SearchResultsSerializer
    query_params = (
        "project",
        "registry",
        "sort",
        "page",
        "page_size",
        *(name for name, _help in _SEARCH_PARAMS),
    )

    @extend_schema(
        summary="Search the repositories available to a project",
        parameters=[
            project_parameter(
                required=False,
                description=_(
                    "Search what this project may use; without it, global entries only."
                ),
            ),
            *(
                _text_param(
                    name, help_text, max_length=SearchForm.base_fields[name].max_length
                )
                for name, help_text in _SEARCH_PARAMS
            ),
            _int_param("registry", "Only this registry entry (its id)."),
            OpenApiParameter(
                "sort",
                OpenApiTypes.STR,
                enum=list(library_selectors.SORTS),
                description="relevance (default), name or updated.",
            ),
            _int_param(
                "page",
                "Page number.",
                maximum=SearchForm.base_fields["page"].max_value,
            ),
            _int_param(
                "page_size",
                f"Results per page (default {library_selectors.PAGE_SIZE}).",
                maximum=MAX_PAGE_SIZE,
            ),
        ],
    )
    def get(self, request):
        project = self.project_from_query(required=False)
        params = request.query_params
        size = page_size(params, default=library_selectors.PAGE_SIZE)
        form = SearchForm(
            params,
            registries=registry_selectors.registries_available(request.user, project),
        )
        if not form.is_valid():
            raise exceptions.ValidationError(
                {name: list(errors) for name, errors in form.errors.items()}
            )
        query = dataclasses.replace(form.search_query(), page_size=size)
        results = library_selectors.search_repositories(request.user, project, query)
        url = request.build_absolute_uri()
        data = s.SearchResultsSerializer(
            results,
            context={
                "next": replace_query_param(url, "page", query.page + 1)
                if results.has_next
                else None,
                "previous": replace_query_param(url, "page", query.page - 1)
                if results.has_previous
                else None,
            },
        ).data
        return Response(data)


def _tag_data(page, tag) -> dict:
    digest = getattr(tag, "digest", "") or ""
    pull = page.registry.pull_reference(page.name, tag.name, digest=digest)
    return {
        "name": tag.name,
        "digest": digest,
        "media_type": getattr(tag, "media_type", "") or "",
        "size": tag.size,
        "created": tag.created,
        "platforms": [str(platform) for platform in tag.platforms],
        "labels": {str(k): str(v) for k, v in (tag.labels or {}).items()},
        "pull_reference": pull,
    }


class RepositoryDetailView(PortalAPIView):
    serializer_class = s.RepositoryDetailSerializer
    query_params = ("project", "page")

    @extend_schema(
        summary="One repository of an entry, with a page of its tags",
        parameters=[
            project_parameter(
                required=False,
                description=_(
                    "Read as this project (needed for the project's own entries)."
                ),
            ),
            _int_param(
                "page",
                f"Page of tags, {library_selectors.TAGS_PAGE_SIZE} a page.",
                maximum=MAX_PAGE_NUMBER,
            ),
        ],
    )
    def get(self, request, pk, name):
        project = self.project_from_query(required=False)
        tag_page = page_number(request.query_params)
        page = library_selectors.repository_detail(
            request.user, project, pk, name, tag_page=tag_page
        )
        data = {
            "registry": page.registry,
            "name": page.name,
            "description": page.repository.description if page.repository else "",
            "live": page.live,
            "notice": page.notice,
            "insecure": page.insecure,
            "tag_page": page.tag_page,
            "has_next": page.has_next,
            "tags": [_tag_data(page, tag) for tag in page.tags],
        }
        return Response(self.get_serializer(data).data)


# -- audit log -------------------------------------------------------------------------


class AuditListView(ListMixin, PortalAPIView):
    serializer_class = s.AuditEntrySerializer
    query_params = ("action", "actor", "object_type", "project")

    @extend_schema(
        summary="The audit log, newest first (portal admins)",
        parameters=[
            _text_param("action", "Exact action, e.g. registry.update."),
            _text_param("actor", "Username of who made the change."),
            _text_param("object_type", "e.g. registry, project, membership."),
            _text_param("project", "Slug of the project the change belongs to."),
        ],
        responses=s.AuditEntrySerializer(many=True),
    )
    def get(self, request):
        _require_portal_admin(request.user, _("Only portal admins read the audit log."))
        entries = selectors.audit_entries()
        filters = {
            "action": "action",
            "actor": "actor_name",
            "object_type": "object_type",
            # The slug as written then: a deleted project's history stays found.
            "project": "project_slug",
        }
        for param, lookup in filters.items():
            value = request.query_params.get(param)
            if value is None:
                continue
            if len(value) > 150 or "\x00" in value:
                raise exceptions.ValidationError(
                    {param: [_("Give at most 150 printable characters.")]}
                )
            entries = entries.filter(**{lookup: value})
        return self.paginated(entries)


# -- the deploy guard ------------------------------------------------------------------


def _access_data(decision: access.AccessDecision) -> dict:
    reference = decision.reference
    entry = decision.registry
    return {
        "allowed": decision.allowed,
        "code": decision.code,
        "reason": decision.reason,
        "registry": reference.domain,
        "repository": reference.repository,
        "tag": reference.tag or (None if reference.digest else "latest"),
        "digest": decision.digest or None,
        "pull_reference": decision.pull_reference or None,
        "registry_entry": None
        if entry is None
        else {
            "id": entry.pk,
            "name": entry.name,
            "address": entry.address,
            "namespace": entry.namespace,
            "project": entry.project,
        },
    }


class AccessCheckView(PortalAPIView):
    """Answer deploy tools: may this project run this image, and at which digest?"""

    serializer_class = s.AccessCheckResponseSerializer
    body_serializers = {"POST": s.AccessCheckRequestSerializer}

    @extend_schema(
        summary="May a project use an image? (the deploy guard)",
        description=(
            "Allowed only if an enabled registry entry available to the project "
            "serves the image's host and its namespace holds the repository, and "
            "(unless require_exists is false) the image is in the index or the "
            "registry answers for it. A reference without a host means Docker Hub. "
            "The answer pins the digest that was checked."
        ),
        request=s.AccessCheckRequestSerializer,
    )
    def post(self, request):
        form = self.body()
        project = self.project_from_slug(form.validated_data["project"])
        try:
            reference = access.parse_reference(form.validated_data["image"])
        except ValidationError as exc:
            raise exceptions.ValidationError({"image": exc.messages}) from None
        decision = access.check_access(
            user=request.user,
            project=project,
            reference=reference,
            require_exists=form.validated_data["require_exists"],
        )
        return Response(self.get_serializer(_access_data(decision)).data)
