"""Pages to manage registry entries: global ones and each project's."""

from __future__ import annotations

import copy
import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal.htmx import page_or_fragment, wants_fragment
from portal.selectors import can_manage_project, is_portal_admin, project_for_user
from registries import connect, selectors, services
from registries.forms import RegistryForm, apply_validation_error
from registries.models import Registry


def _editable(user, pk) -> Registry:
    """Return an entry the user may edit or delete (never the built-in one)."""
    registry = selectors.registry_for_write(user, pk)
    if registry.is_builtin:
        raise PermissionDenied(services.BUILTIN_MANAGED)
    return registry


def _back_to_list(registry: Registry) -> str:
    if registry.is_global:
        return reverse("registry_global_list")
    return reverse("project_registries", args=[registry.project.slug])


@require_GET
@login_required
def registry_global_list(request):
    rows = selectors.annotate_writable(
        request.user, selectors.registries_global(request.user)
    )
    template = page_or_fragment(request, "registries/registry_list.html", "table")
    return render(
        request,
        template,
        {
            "registries": rows,
            "title": _("Global registries"),
            "add_url": reverse("registry_global_add"),
            "section": "administration",
        },
    )


@require_GET
@login_required
def registry_project_list(request, slug):
    project = project_for_user(request.user, slug)
    rows = selectors.annotate_writable(
        request.user,
        # Global entries first on every database (PostgreSQL sorts NULL last).
        selectors.registries_listed(request.user, project).order_by(
            F("project").asc(nulls_first=True), "name", "namespace"
        ),
    )
    template = page_or_fragment(request, "registries/registry_list.html", "table")
    return render(
        request,
        template,
        {
            "registries": rows,
            "project": project,
            "title": _("Registries of %(project)s") % {"project": project.name},
            "add_url": (
                reverse("registry_project_add", args=[project.slug])
                if can_manage_project(request.user, project)
                else ""
            ),
            "section": "registries",
        },
    )


def _render_form(request, form, *, registry=None, project=None, status=200):
    template = page_or_fragment(request, "registries/registry_form.html", "form")
    return render(
        request,
        template,
        {"form": form, "registry": registry, "project": project},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
def registry_add(request, slug=None):
    if slug is None:
        if not is_portal_admin(request.user):
            raise PermissionDenied(_("Only portal admins add global registries."))
        project = None
    else:
        project = project_for_user(request.user, slug)
        if not can_manage_project(request.user, project):
            raise PermissionDenied(_("Only project admins add project registries."))
    form = RegistryForm(request.POST or None, instance=Registry(project=project))
    if request.method == "POST" and form.is_valid():
        try:
            registry = services.registry_create(
                acting_user=request.user,
                project=project,
                password=form.cleaned_data["password"],
                **form.service_fields(),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Registry “%s” added.") % registry.name)
            return _redirect(request, _back_to_list(registry))
    status = 422 if request.method == "POST" else 200
    return _render_form(request, form, project=project, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def registry_edit(request, pk):
    registry = _editable(request.user, pk)
    # The form validates a copy so the service still sees the stored values.
    form = RegistryForm(request.POST or None, instance=copy.copy(registry))
    if request.method == "POST" and form.is_valid():
        try:
            services.registry_update(
                acting_user=request.user,
                registry=registry,
                password=form.cleaned_data["password"] or None,
                **form.service_fields(),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Registry “%s” saved.") % registry.name)
            return _redirect(request, _back_to_list(registry))
    status = 422 if request.method == "POST" else 200
    return _render_form(
        request, form, registry=registry, project=registry.project, status=status
    )


@require_http_methods(["GET", "POST"])
@login_required
def registry_delete(request, pk):
    registry = _editable(request.user, pk)
    if request.method == "POST":
        back = _back_to_list(registry)
        name = registry.name
        services.registry_delete(acting_user=request.user, registry=registry)
        messages.success(request, _("Registry “%s” deleted.") % name)
        return _redirect(request, back)
    return render(
        request, "registries/registry_confirm_delete.html", {"registry": registry}
    )


@require_POST
@login_required
def registry_toggle(request, pk):
    registry = selectors.registry_for_write(request.user, pk)
    services.registry_set_enabled(
        acting_user=request.user, registry=registry, enabled=not registry.enabled
    )
    if wants_fragment(request):
        registry.writable = True
        return render(
            request, "registries/registry_list.html#row", {"registry": registry}
        )
    return redirect(_back_to_list(registry))


@require_POST
@login_required
def registry_verify(request, pk):
    """Verify a saved entry and record the outcome as its health."""
    registry = selectors.registry_for_write(request.user, pk)
    outcome = services.registry_verify(registry=registry)
    return _render_verify(request, outcome, registry)


@require_POST
@login_required
def registry_verify_form(request, pk=None, slug=None):
    """Verify the form's unsaved values; an empty password reuses the stored one."""
    if pk is not None:
        stored = selectors.registry_for_write(request.user, pk)
        instance = copy.copy(stored)
    else:
        project = project_for_user(request.user, slug) if slug else None
        allowed = (
            can_manage_project(request.user, project)
            if project
            else is_portal_admin(request.user)
        )
        if not allowed:
            raise PermissionDenied
        instance = Registry(project=project)
    form = RegistryForm(request.POST, instance=instance)
    form.is_valid()
    # Only what a connection needs must be valid; a missing name is no reason
    # not to try the address.
    blocking = [
        error
        for name in ("address", "namespace", "allow_plain_http", "password")
        for error in form.errors.get(name, [])
    ]
    if blocking:
        return _render_verify(
            request, connect.VerifyOutcome(ok=False, message=" ".join(blocking)), None
        )
    candidate = form.instance
    if form.cleaned_data.get("password"):
        candidate.password = form.cleaned_data["password"]
    return _render_verify(request, services.verify_explained(candidate), None)


def _render_verify(request, outcome, registry):
    template = "registries/partials/verify_result.html"
    response = render(request, template, {"outcome": outcome, "registry": registry})
    if not wants_fragment(request) and registry is not None:
        messages.info(request, outcome.message)
        return redirect(_back_to_list(registry))
    return response


def _redirect(request, url) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_POST
@login_required
def registry_trust(request, pk):
    """Trust the certificate the registry presents now, if it is the one shown.

    The certificate is fetched again from the server rather than taken from the
    browser, and stored only if its fingerprint matches what the admin approved.
    """
    registry = _editable(request.user, pk)
    try:
        outcome = services.registry_trust_presented_certificate(
            acting_user=request.user,
            registry=registry,
            approved_sha256=request.POST.get("sha256", ""),
        )
    except services.TrustRefused as exc:
        outcome = dataclasses.replace(
            exc.outcome, ok=False, message=" ".join(exc.messages)
        )
    return _render_verify(request, outcome, registry)
