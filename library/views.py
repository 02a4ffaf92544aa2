"""Library pages: All Repositories, a repository, a registry's crawls, the webhook."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from library import selectors, services
from library.forms import COMMON_PLATFORMS, MAX_PAGE, SearchForm
from portal.htmx import page_or_fragment, vary_on_htmx, wants_fragment
from portal.selectors import is_portal_admin
from registries.builtin.config import webhook_url
from registries.models import Registry
from registries.selectors import (
    can_write_registry,
    registry_for_read,
    registry_for_write,
)


def _project(request):
    project = getattr(request, "project", None)
    return project if project else None  # unwrap a lazy None


def _search_page(request, *, tab: str, builtin: bool | None):
    project = _project(request)
    services.schedule_in_process()
    scope = selectors.library_scope(request.user, project, builtin=builtin)
    registries = scope.entries
    form = SearchForm(request.GET or None, registries=registries)
    results = None
    popular = []
    if form.is_bound and form.is_valid():
        query = form.search_query()
    elif not form.is_bound:
        query = selectors.SearchQuery(sort="name" if builtin else "relevance")
    else:
        query = None
    if query is not None:
        if query.is_empty and not builtin and query.page == 1:
            popular = selectors.popular_images()
        results = selectors.search_repositories(
            request.user, project, query, builtin=builtin, scope=scope
        )
    hub = (
        selectors.docker_hub_entry(results.scope)
        if results is not None and results.scope
        else None
    )
    template = page_or_fragment(request, "library/repositories.html", "results")
    return render(
        request,
        template,
        {
            "form": form,
            "results": results,
            "popular": popular,
            "hub": hub,
            "registries": registries,
            "platforms": COMMON_PLATFORMS,
            "section": "library",
            "tab": tab,
            "project": project,
            "can_edit_popular": is_portal_admin(request.user),
            "query_string": _without_page(request),
        },
    )


def _without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@require_GET
@login_required
@vary_on_htmx
def repositories(request):
    """Library > All Repositories > Repositories: search, filters, popular images."""
    return _search_page(request, tab="repositories", builtin=None)


@require_GET
@login_required
@vary_on_htmx
def builtin_repositories(request):
    """Library > All Repositories > Built-In Repositories.

    The built-in registry's own page (with its project groups and deletes) takes
    this tab over where it is installed; otherwise this searches its index.
    """
    try:
        target = reverse("builtin_repositories")
    except NoReverseMatch:
        return _search_page(request, tab="builtin", builtin=True)
    query = request.GET.urlencode()
    return redirect(f"{target}?{query}" if query else target)


@require_GET
@login_required
@vary_on_htmx
def repository(request, registry_id: int, name: str):
    """Show one repository: its tags and the pull command."""
    try:
        tag_page = min(max(1, int(request.GET.get("page", 1))), MAX_PAGE)
    except ValueError:
        tag_page = 1
    page = selectors.repository_detail(
        request.user, _project(request), registry_id, name, tag_page=tag_page
    )
    template = page_or_fragment(request, "library/repository.html", "tags")
    return render(
        request,
        template,
        {"page": page, "section": "library", "tab": "repositories"},
        # A live registry without that repository: the page says so, as a 404.
        status=404 if page.missing else 200,
    )


@require_GET
@login_required
@never_cache
def crawl_page(request, pk: int):
    """Show a registry entry's crawls: progress, counts and the last error."""
    return _render_crawl(request, registry_for_read(request.user, pk))


def _render_crawl(request, registry: Registry):
    overview = selectors.crawl_overview(
        registry, user=request.user, project=_project(request)
    )
    template = page_or_fragment(request, "library/crawl.html", "progress")
    return render(
        request,
        template,
        {
            "overview": overview,
            "registry": registry,
            "writable": can_write_registry(request.user, registry),
            # Registries post from where they run: PORTAL_URL, not this request.
            "webhook_url": webhook_url(registry),
            "fragment": wants_fragment(request),
            "section": "registries",
        },
    )


@require_POST
@login_required
def crawl_start(request, pk: int):
    """Queue a crawl now (writers of the entry only)."""
    registry = registry_for_write(request.user, pk)
    crawl = services.crawl_request_for_entry(
        acting_user=request.user, registry=registry
    )
    if crawl is None:
        messages.error(
            request,
            _("The stored credentials cannot be read; save the password again."),
        )
    elif services.is_live_entry(registry):
        messages.info(request, _("This registry is searched live; there is no crawl."))
    else:
        messages.success(request, _("Crawl queued."))
    if wants_fragment(request):
        return _render_crawl(request, registry)
    return redirect("library_crawl", pk=registry.pk)


@require_GET
@login_required
@never_cache
def crawl_status(request, pk: int):
    """Return the small crawl badge shown in the registries list."""
    registry = registry_for_read(request.user, pk)
    crawl = selectors.crawl_states([registry]).get(registry.pk)
    return render(
        request,
        "library/partials/crawl_badge.html",
        {"registry": registry, "crawl": crawl},
    )


def _problem(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def webhook(request, pk: int):
    """Take registry notifications; authenticated by the entry's own secret.

    Answers at once; the index is updated in the background. Pull events and
    events already seen are acknowledged and ignored.
    """
    registry = selectors.registry_for_webhook(
        pk, request.headers.get("Authorization", "")
    )
    if registry is None:
        response = _problem(
            _("Send Authorization: Bearer <the registry's webhook secret>."), 401
        )
        response["WWW-Authenticate"] = 'Bearer realm="portolan-webhook"'
        return response
    content_type = request.content_type or ""
    if content_type not in (services.EVENTS_MEDIA_TYPE, "application/json"):
        return _problem(
            _("Expected Content-Type %(type)s.") % {"type": services.EVENTS_MEDIA_TYPE},
            415,
        )
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return _problem(_("The body is not valid JSON."), 400)
    try:
        events = services.parse_envelope(data)
    except services.BadNotification as exc:
        return _problem(str(exc), 400)
    counts = services.notification_accept(registry=registry, events=events)
    return JsonResponse(counts, status=202 if counts["accepted"] else 200)
