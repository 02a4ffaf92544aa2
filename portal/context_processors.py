from portal.selectors import can_manage_project, is_portal_admin, projects_for_user


def current_project(request):
    """Give every page the project switcher's data, computed only when used."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    project = getattr(request, "project", None)
    project = project if project else None  # unwrap a lazy None
    return {
        "current_project": project,
        "my_projects": lambda: list(projects_for_user(user).order_by("name")),
        "is_portal_admin": is_portal_admin(user),
        "can_manage_current_project": lambda: can_manage_project(user, project),
    }
