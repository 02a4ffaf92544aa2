"""Pages of the built-in registry: robot accounts, personal tokens, how to connect."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal.htmx import page_or_fragment, vary_on_htmx, wants_fragment
from portal.selectors import can_manage_project, project_for_user
from registries.builtin import keys, selectors, services
from registries.builtin.forms import PersonalTokenForm, RobotForm
from registries.forms import apply_validation_error

# A tag, per the distribution reference grammar.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _connection(request) -> dict:
    """Return what the pages say about reaching the registry (None if not set up)."""
    registry = services.builtin_registry()
    if registry is None:
        return {"builtin": None}
    return {
        "builtin": registry,
        "builtin_host": registry.host,
        "has_ca": bool(registry.ca_pem),
    }


@require_http_methods(["GET", "POST"])
@login_required
def robot_list(request, slug):
    project = project_for_user(request.user, slug)
    can_manage = can_manage_project(request.user, project)
    form = RobotForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(_("Only project admins manage robot accounts."))
        if form.is_valid():
            try:
                created = services.robot_create(
                    acting_user=request.user,
                    project=project,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    scope=form.cleaned_data["scope"],
                    expires_at=form.expires_at(),
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                # The token is shown in this answer only; it is never stored.
                return render(
                    request,
                    "registries/builtin/secret_created.html",
                    {
                        "project": project,
                        "robot": created.obj,
                        "username": created.obj.username,
                        "secret": created.secret,
                        "back_url": request.path,
                        "section": "robots",
                        **_connection(request),
                    },
                    status=201,
                )
    template = page_or_fragment(request, "registries/builtin/robots.html", "robots")
    return render(
        request,
        template,
        {
            "project": project,
            "robots": selectors.robots_for_project(request.user, project),
            "form": form,
            "can_manage": can_manage,
            "section": "robots",
            **_connection(request),
        },
        status=422 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def robot_revoke(request, slug, pk):
    project = project_for_user(request.user, slug)
    robot = selectors.robot_for_admin(request.user, project, pk)
    services.robot_revoke(acting_user=request.user, robot=robot)
    if wants_fragment(request):
        return render(
            request,
            "registries/builtin/robots.html#robot",
            {"robot": robot, "project": project, "can_manage": True},
        )
    messages.success(request, _("Robot account “%s” revoked.") % robot.username)
    return redirect("builtin_robots", slug=project.slug)


@require_http_methods(["GET", "POST"])
@login_required
def personal_token_list(request):
    form = PersonalTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.personal_token_create(
                acting_user=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            return render(
                request,
                "registries/builtin/secret_created.html",
                {
                    "token": created.obj,
                    "username": request.user.get_username(),
                    "secret": created.secret,
                    "back_url": request.path,
                    "section": "tokens",
                    **_connection(request),
                },
                status=201,
            )
    template = page_or_fragment(request, "registries/builtin/tokens.html", "tokens")
    return render(
        request,
        template,
        {
            "tokens": selectors.personal_tokens(request.user),
            "form": form,
            "section": "tokens",
            **_connection(request),
        },
        status=422 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def personal_token_revoke(request, pk):
    token = selectors.personal_token_for_owner(request.user, pk)
    services.personal_token_revoke(acting_user=request.user, token=token)
    if wants_fragment(request):
        return render(request, "registries/builtin/tokens.html#token", {"token": token})
    messages.success(request, _("Token “%s” revoked.") % token.name)
    return redirect("builtin_tokens")


@require_GET
@login_required
def builtin_registry_info(request):
    """Explain how to trust, log in to, push to and pull from the built-in registry."""
    context = _connection(request)
    if context["builtin"] is not None and context["has_ca"]:
        from cryptography import x509

        certificate = x509.load_pem_x509_certificate(context["builtin"].ca_pem.encode())
        context["ca_fingerprint"] = keys.certificate_fingerprint(certificate)
        context["ca_subject"] = certificate.subject.rfc4514_string()
    context.update(
        {
            "project": request.project or None,
            "token_realm": f"{settings.PORTAL_URL}/auth/token",
            "section": "builtin",
        }
    )
    return render(request, "registries/builtin/info.html", context)


@require_GET
def builtin_registry_ca(request):
    """Download the CA certificate Docker hosts need (public, like any CA cert)."""
    registry = services.builtin_registry()
    if registry is None or not registry.ca_pem:
        raise Http404("The built-in registry has no private CA.")
    response = HttpResponse(registry.ca_pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="ca.crt"'
    return response


# -- the Built-In Repositories tab -------------------------------------------------


def builtin_tab_context(request) -> dict:
    """Return the context of the tab's content, for this page or the Library's."""
    project = request.project or None
    return {
        "overview": selectors.builtin_overview(request.user, project),
        "project": project,
    }


@require_GET
@login_required
@vary_on_htmx
def builtin_repository_list(request):
    """Library > All Repositories > Built-In Repositories: grouped by project."""
    template = "registries/builtin/repositories.html"
    if wants_fragment(request):
        # The content alone is its own template, shared with the Library's tab.
        template = "registries/builtin/partials/repositories.html"
    context = builtin_tab_context(request)
    context.update({"section": "library", "tab": "builtin"})
    return render(request, template, context)


def _after_delete(request) -> HttpResponse:
    target = reverse("builtin_repositories")
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_http_methods(["GET", "POST"])
@login_required
def builtin_tag_delete(request):
    """Delete one tag (and the tags sharing its digest), after a confirmation."""
    data = request.POST if request.method == "POST" else request.GET
    repository = selectors.builtin_repository_for_delete(
        request.user, data.get("repository", "")
    )
    tag = data.get("tag", "")
    if not _TAG.match(tag):
        raise Http404("No such tag.")
    if request.method == "GET":
        return render(
            request,
            "registries/builtin/confirm_delete.html",
            {"repository": repository, "tag": tag, "section": "library"},
        )
    try:
        digest = services.builtin_tag_delete(
            acting_user=request.user, repository=repository, tag=tag
        )
    except services.BuiltinRegistryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _(
                "Deleted %(image)s (%(digest)s) and every tag on that digest. "
                "The list follows as soon as the registry reports it."
            )
            % {"image": f"{repository}:{tag}", "digest": digest[:19]},
        )
    return _after_delete(request)


@require_http_methods(["GET", "POST"])
@login_required
def builtin_repository_delete(request):
    """Delete every tagged image of a repository, after a confirmation."""
    data = request.POST if request.method == "POST" else request.GET
    repository = selectors.builtin_repository_for_delete(
        request.user, data.get("repository", "")
    )
    if request.method == "GET":
        return render(
            request,
            "registries/builtin/confirm_delete.html",
            {"repository": repository, "section": "library"},
        )
    try:
        tags = services.builtin_repository_delete(
            acting_user=request.user, repository=repository
        )
    except services.BuiltinRegistryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _(
                "Deleted %(repository)s: %(count)s tags. The list follows as soon "
                "as the registry reports it."
            )
            % {"repository": repository, "count": len(tags)},
        )
    return _after_delete(request)
