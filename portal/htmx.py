"""Choose between a whole page and one of its partials for htmx requests."""

from __future__ import annotations

from django.views.decorators.vary import vary_on_headers


def wants_fragment(request) -> bool:
    """Return whether htmx asks to swap part of the page.

    Not for a boosted navigation, nor for a history restore: going Back to a
    page htmx no longer has cached asks for the whole page again.
    """
    htmx = request.htmx
    return bool(htmx and not htmx.boosted and not htmx.history_restore_request)


def page_or_fragment(request, page: str, partial: str) -> str:
    """Return ``page`` or, for an htmx swap, its ``{% partialdef partial %}``.

    The fragment comes from the page template itself, so the two never drift.
    """
    return f"{page}#{partial}" if wants_fragment(request) else page


# Every header ``wants_fragment`` reads: caches must keep their answers apart.
vary_on_htmx = vary_on_headers("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
