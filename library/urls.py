from django.urls import path

from library import views

urlpatterns = [
    path("", views.repositories, name="library_repositories"),
]
