"""Attach the current project (chosen in the header, kept in the session)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.utils.functional import SimpleLazyObject
from django_htmx.http import HttpResponseClientRedirect

from portal.selectors import projects_for_user

SESSION_KEY = "portolan_project"


def current_project(request):
    """Return the session's project if the user still belongs to it, else the first."""
    user = request.user
    if not user.is_authenticated:
        return None
    projects = projects_for_user(user)
    slug = request.session.get(SESSION_KEY)
    project = projects.filter(slug=slug).first() if slug else None
    if project is None:
        project = projects.order_by("name").first()
        if project is not None:
            request.session[SESSION_KEY] = project.slug
    return project


class CurrentProjectMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.project = SimpleLazyObject(lambda: current_project(request))
        return self.get_response(request)


class HtmxLoginRedirectMiddleware:
    """Send an htmx request whose session ended to the login page, whole.

    A plain 302 would be followed inside the XHR and the login page swapped into
    a table row. The login page then returns to the page the person was on,
    not to the fragment endpoint.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        if not response.get("Location", "").startswith(login_url):
            return response
        back = htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(redirect_to_login(back)["Location"])
