"""Routes of the API tokens page, mounted at ``/account/api-tokens/``."""

from django.urls import path

from portal.api import pages

urlpatterns = [
    path("", pages.api_tokens, name="api_tokens"),
    path("<int:pk>/revoke/", pages.api_token_revoke, name="api_token_revoke"),
]
