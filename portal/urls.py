from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/switch/", views.project_switch, name="project_switch"),
    path(
        "projects/<slug:slug>/members/", views.project_members, name="project_members"
    ),
    path(
        "projects/<slug:slug>/members/<int:member_id>/role/",
        views.project_member_role,
        name="project_member_role",
    ),
    path(
        "projects/<slug:slug>/members/<int:member_id>/remove/",
        views.project_member_remove,
        name="project_member_remove",
    ),
    path("administration/", views.administration, name="administration"),
    path(
        "administration/projects/", views.project_admin_list, name="project_admin_list"
    ),
    path("administration/audit/", views.audit_log, name="audit_log"),
    path("", include("registries.urls")),
    # The built-in registry: its token service at /auth/token, robots, tokens.
    path("", include("registries.builtin.urls")),
    path("library/", include("library.urls")),
    path("django-admin/", admin.site.urls),
    path("api/v1/", include("portal.api.urls")),
    path("account/api-tokens/", include("portal.api.page_urls")),
]
