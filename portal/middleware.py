"""Attach the current project (chosen in the header, kept in the session)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from portal.selectors import projects_for_user

SESSION_KEY = "portolan_project"


def current_project(request):
    """Return the session's project if the user still belongs to it, else their first."""
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
