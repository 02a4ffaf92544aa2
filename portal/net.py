"""Facts about the client of a request."""

from __future__ import annotations

from django.conf import settings


def client_address(request) -> str:
    """Return the client's address, seen through ``PORTAL_PROXY_COUNT`` proxies.

    Each proxy appends the address it was reached from to X-Forwarded-For, so
    with N trusted proxies the client is the N-th entry from the right; anything
    further left was written by the client and proves nothing. The API's
    throttles use it too.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.PORTAL_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]
