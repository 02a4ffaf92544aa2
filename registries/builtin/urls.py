from django.urls import path

from registries.builtin import token_view, views

urlpatterns = [
    path("auth/token", token_view.token, name="builtin_token"),
    path("builtin-registry/", views.builtin_registry_info, name="builtin_registry"),
    path("builtin-registry/ca.crt", views.builtin_registry_ca, name="builtin_ca"),
    path("projects/<slug:slug>/robots/", views.robot_list, name="builtin_robots"),
    path(
        "projects/<slug:slug>/robots/<int:pk>/revoke/",
        views.robot_revoke,
        name="builtin_robot_revoke",
    ),
    path("account/registry-tokens/", views.personal_token_list, name="builtin_tokens"),
    path(
        "account/registry-tokens/<int:pk>/revoke/",
        views.personal_token_revoke,
        name="builtin_token_revoke",
    ),
]

urlpatterns += [
    path(
        "builtin-registry/repositories/",
        views.builtin_repository_list,
        name="builtin_repositories",
    ),
    path(
        "builtin-registry/repositories/delete-tag/",
        views.builtin_tag_delete,
        name="builtin_tag_delete",
    ),
    path(
        "builtin-registry/repositories/delete/",
        views.builtin_repository_delete,
        name="builtin_repository_delete",
    ),
]
