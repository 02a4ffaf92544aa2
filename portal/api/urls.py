"""Routes of the REST API, mounted at ``/api/v1/``."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from portal.api import views
from portal.api.exceptions import JsonErrorsMixin, not_found


class SchemaView(JsonErrorsMixin, SpectacularJSONAPIView):
    """The OpenAPI 3 schema, as JSON."""


class DocsView(JsonErrorsMixin, SpectacularSwaggerView):
    """Swagger UI, served from our own static files (drf-spectacular-sidecar)."""


class UsernameConverter:
    """Django's username characters: letters, digits and @ . + - _."""

    regex = r"[\w.@+-]{1,150}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UsernameConverter, "username")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api_schema"),
    path("docs/", DocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("me/", views.MeView.as_view(), name="api_me"),
    path("projects/", views.ProjectListView.as_view(), name="api_projects"),
    path(
        "projects/<slug:slug>/", views.ProjectDetailView.as_view(), name="api_project"
    ),
    path(
        "projects/<slug:slug>/members/",
        views.MemberListView.as_view(),
        name="api_members",
    ),
    path(
        "projects/<slug:slug>/members/<username:username>/",
        views.MemberDetailView.as_view(),
        name="api_member",
    ),
    path("registries/", views.RegistryListView.as_view(), name="api_registries"),
    path(
        "registries/<int:pk>/", views.RegistryDetailView.as_view(), name="api_registry"
    ),
    path(
        "registries/<int:pk>/enable/",
        views.RegistryEnableView.as_view(),
        name="api_registry_enable",
    ),
    path(
        "registries/<int:pk>/disable/",
        views.RegistryDisableView.as_view(),
        name="api_registry_disable",
    ),
    path(
        "registries/<int:pk>/verify/",
        views.RegistryVerifyView.as_view(),
        name="api_registry_verify",
    ),
    path(
        "registries/<int:pk>/trust-certificate/",
        views.RegistryTrustView.as_view(),
        name="api_registry_trust",
    ),
    path(
        "registries/<int:pk>/crawls/",
        views.CrawlOverviewView.as_view(),
        name="api_registry_crawls",
    ),
    path(
        "registries/<int:pk>/crawl/",
        views.CrawlStartView.as_view(),
        name="api_registry_crawl",
    ),
    path(
        "registries/<int:pk>/repositories/<path:name>/",
        views.RepositoryDetailView.as_view(),
        name="api_repository",
    ),
    path("search/", views.SearchView.as_view(), name="api_search"),
    path("audit/", views.AuditListView.as_view(), name="api_audit"),
    path("access-check/", views.AccessCheckView.as_view(), name="api_access_check"),
    # Anything else under the API is a JSON 404, never the HTML page.
    re_path(r"^[\s\S]*$", not_found),
]
