"""Choose between a whole page and one of its partials for htmx requests."""

from __future__ import annotations


def wants_fragment(request) -> bool:
    """Return whether htmx asks to swap part of the page (not a boosted navigation)."""
    return bool(request.htmx and not request.htmx.boosted)


def page_or_fragment(request, page: str, partial: str) -> str:
    """Return ``page`` or, for an htmx swap, its ``{% partialdef partial %}``.

    The fragment comes from the page template itself, so the two never drift.
    """
    return f"{page}#{partial}" if wants_fragment(request) else page
