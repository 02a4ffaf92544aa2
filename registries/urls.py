from django.urls import path

from registries import views

urlpatterns = [
    path(
        "administration/registries/",
        views.registry_global_list,
        name="registry_global_list",
    ),
    path(
        "administration/registries/add/",
        views.registry_add,
        name="registry_global_add",
    ),
    path(
        "administration/registries/verify/",
        views.registry_verify_form,
        name="registry_global_verify_form",
    ),
    path(
        "projects/<slug:slug>/registries/",
        views.registry_project_list,
        name="project_registries",
    ),
    path(
        "projects/<slug:slug>/registries/add/",
        views.registry_add,
        name="registry_project_add",
    ),
    path(
        "projects/<slug:slug>/registries/verify/",
        views.registry_verify_form,
        name="registry_project_verify_form",
    ),
    path("registries/<int:pk>/edit/", views.registry_edit, name="registry_edit"),
    path("registries/<int:pk>/delete/", views.registry_delete, name="registry_delete"),
    path("registries/<int:pk>/toggle/", views.registry_toggle, name="registry_toggle"),
    path("registries/<int:pk>/verify/", views.registry_verify, name="registry_verify"),
    path("registries/<int:pk>/trust/", views.registry_trust, name="registry_trust"),
    path(
        "registries/<int:pk>/verify-form/",
        views.registry_verify_form,
        name="registry_verify_form",
    ),
]
