from django.urls import path

from library import views

urlpatterns = [
    path("", views.repositories, name="library_repositories"),
    path("builtin/", views.builtin_repositories, name="library_builtin"),
    path(
        "r/<int:registry_id>/<path:name>/",
        views.repository,
        name="library_repository",
    ),
    path("registries/<int:pk>/crawl/", views.crawl_page, name="library_crawl"),
    path(
        "registries/<int:pk>/crawl/start/",
        views.crawl_start,
        name="library_crawl_start",
    ),
    path(
        "registries/<int:pk>/crawl/status/",
        views.crawl_status,
        name="library_crawl_status",
    ),
    path("hooks/registry/<int:pk>/", views.webhook, name="library_webhook"),
]
