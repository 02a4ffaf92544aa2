"""Request rate limits per user (or per address for anonymous callers)."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from portal.net import client_address


class _SettingsRateMixin:
    def get_rate(self):
        # DRF binds the rates at import; read them per request so settings apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        # The token service's rule for who the client is (PORTAL_PROXY_COUNT).
        return client_address(request)


class ApiUserRateThrottle(_SettingsRateMixin, UserRateThrottle):
    """Limit each signed-in user (by session or token)."""


class ApiAnonRateThrottle(_SettingsRateMixin, AnonRateThrottle):
    """Limit anonymous callers by address, e.g. someone guessing tokens."""
