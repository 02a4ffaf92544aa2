"""Page-number pagination that refuses out-of-range page sizes instead of clamping."""

from __future__ import annotations

from django.core.paginator import InvalidPage
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# Deeper pages than this are not worth an OFFSET scan; narrow the search instead.
MAX_PAGE_NUMBER = 10_000


def positive_int(
    params, name: str, *, default: int, maximum: int | None = None, too_big: str = ""
) -> int:
    """Return ``params[name]`` as an int in ``1..maximum``, or a 400 that says why.

    ``too_big`` is the message past ``maximum``, with ``%(max)d`` for it.
    """
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if raw.isascii() and len(raw) <= 12 else None
    except ValueError:
        value = None
    if value is None or value < 1:
        raise exceptions.ValidationError(
            {name: [_("Enter a whole number of at least 1.")]}
        )
    if maximum is not None and value > maximum:
        message = too_big or _("Enter a number of at most %(max)d.")
        raise exceptions.ValidationError({name: [message % {"max": maximum}]})
    return value


def page_size(
    params, name: str = "page_size", *, default: int, maximum: int = MAX_PAGE_SIZE
) -> int:
    """Return the page size asked for, 1 to ``maximum``."""
    return positive_int(
        params,
        name,
        default=default,
        maximum=maximum,
        too_big=_("Ask for at most %(max)d items per page."),
    )


def page_number(params, name: str = "page") -> int:
    """Return the page number asked for, 1 to ``MAX_PAGE_NUMBER``."""
    return positive_int(
        params,
        name,
        default=1,
        maximum=MAX_PAGE_NUMBER,
        too_big=_("Ask for a page from 1 to %(max)d."),
    )


class BoundedPageNumberPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (1–100); anything else is a 400, not a guess."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    query_params = ("page", "page_size")

    def get_page_size(self, request) -> int:
        return page_size(
            request.query_params,
            self.page_size_query_param,
            default=self.page_size,
            maximum=self.max_page_size,
        )

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        number = positive_int(request.query_params, self.page_query_param, default=1)
        paginator = self.django_paginator_class(queryset, page_size)
        try:
            self.page = paginator.page(number)
        except InvalidPage:
            raise exceptions.NotFound(
                _("There is no page %(page)d; the last page is %(last)d.")
                % {"page": number, "last": paginator.num_pages}
            ) from None
        return list(self.page)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter.setdefault("schema", {})
            schema["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                schema["maximum"] = self.max_page_size
        return parameters
