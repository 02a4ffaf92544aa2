"""Home, project switching, project members and the administration pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal import selectors, services
from portal.forms import MemberAddForm, MemberRoleForm, ProjectForm
from portal.htmx import page_or_fragment
from portal.middleware import SESSION_KEY
from registries.forms import apply_validation_error


@require_GET
def health(request):
    """Answer load balancers: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
@login_required
def home(request):
    return redirect("library_repositories")


@require_POST
@login_required
def project_switch(request):
    project = selectors.project_for_user(request.user, request.POST.get("project", ""))
    request.session[SESSION_KEY] = project.slug
    target = request.POST.get("next") or request.headers.get("Referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    # Pages under /projects/<slug>/ follow the switch to the new project.
    parts = target.split("/projects/", 1)
    if len(parts) == 2 and "/" in parts[1]:
        rest = parts[1].split("/", 1)[1]
        target = f"{parts[0]}/projects/{project.slug}/{rest}"
    if request.htmx:
        # A 302 would be followed inside the XHR and the browser would not move.
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_http_methods(["GET", "POST"])
@login_required
def project_members(request, slug):
    project = selectors.project_for_user(request.user, slug)
    can_manage = selectors.can_manage_project(request.user, project)
    form = MemberAddForm(
        request.POST or None, users=selectors.users_not_in_project(project)
    )
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(_("Only project admins manage members."))
        if form.is_valid():
            try:
                services.membership_add(
                    acting_user=request.user,
                    project=project,
                    user=form.cleaned_data["user"],
                    role=form.cleaned_data["role"],
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, _("Member added."))
                return redirect("project_members", slug=project.slug)
    template = page_or_fragment(request, "portal/members.html", "members")
    return render(
        request,
        template,
        {
            "project": project,
            "members": selectors.project_members(project),
            "form": form,
            "can_manage": can_manage,
            "roles": MemberRoleForm.base_fields["role"].choices,
            "section": "members",
        },
        status=422 if request.method == "POST" else 200,
    )


def _membership_for_admin(request, slug, member_id):
    project = selectors.project_for_admin(request.user, slug)
    membership = project.memberships.select_related("user").filter(pk=member_id).first()
    if membership is None:
        raise Http404
    return project, membership


@require_POST
@login_required
def project_member_role(request, slug, member_id):
    project, membership = _membership_for_admin(request, slug, member_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(
                acting_user=request.user,
                membership=membership,
                role=form.cleaned_data["role"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Role changed."))
    else:
        messages.error(request, _("Choose a valid role."))
    return redirect("project_members", slug=project.slug)


@require_POST
@login_required
def project_member_remove(request, slug, member_id):
    project, membership = _membership_for_admin(request, slug, member_id)
    try:
        services.membership_remove(acting_user=request.user, membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Member removed."))
    return redirect("project_members", slug=project.slug)


def _require_portal_admin(user) -> None:
    if not selectors.is_portal_admin(user):
        raise PermissionDenied(_("Only portal admins can open the administration."))


@require_http_methods(["GET", "POST"])
@login_required
def project_admin_list(request):
    _require_portal_admin(request.user)
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                acting_user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Project “%s” created.") % project.name)
            return redirect("project_members", slug=project.slug)
    return render(
        request,
        "portal/projects.html",
        {
            "projects": selectors.projects_for_user(request.user),
            "form": form,
            "section": "administration",
        },
        status=422 if request.method == "POST" else 200,
    )


@require_GET
@login_required
def audit_log(request):
    _require_portal_admin(request.user)
    entries = selectors.audit_entries()
    # By the slug copied on write, so a deleted project's history is found too.
    project = request.GET.get("project", "").replace("\x00", "").strip()[:63]
    if project:
        entries = entries.filter(project_slug=project)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/audit.html",
        {"page": page, "project": project, "section": "administration"},
    )


def administration(request):
    return redirect(reverse("registry_global_list"))
