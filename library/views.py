"""Library > All Repositories."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registries.selectors import registries_available


@require_GET
@login_required
def repositories(request):
    project = request.project or None
    return render(
        request,
        "library/repositories.html",
        {
            "registries": registries_available(request.user, project),
            "section": "library",
            "tab": "repositories",
        },
    )
