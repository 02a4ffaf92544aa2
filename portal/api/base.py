"""The base of every API view: strict query parameters and the project parameter."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView

from portal.api.parsers import JSONParser
from portal.models import Project
from portal.selectors import project_for_user

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,63}$")


def project_parameter(*, required: bool, description: str = "") -> OpenApiParameter:
    return OpenApiParameter(
        "project",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        required=required,
        pattern=_SLUG.pattern,
        description=description
        or _("Slug of the current project; you must belong to it."),
    )


class PortalAPIView(GenericAPIView):
    """Refuse query parameters a view does not know, so typos are not ignored.

    ``query_params`` lists the names a view accepts; a paginated list also
    accepts ``page`` and ``page_size``.
    """

    query_params: tuple[str, ...] = ()
    # Set here, not only in settings, so every API view reads JSON the same way.
    parser_classes = [JSONParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(self, request.method.lower(), None) is None:
            return  # an undeclared method: let it be the 405 it is
        known = set(self.query_params)
        if self.pagination_class is not None and request.method == "GET":
            known.update(getattr(self.pagination_class, "query_params", ()))
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            if known:
                hint = _("Known parameters: %(known)s.") % {
                    "known": ", ".join(sorted(known))
                }
            else:
                hint = _("This endpoint takes no query parameters.")
            raise exceptions.ValidationError(
                {
                    name[:100]: [_("Unknown query parameter.") + " " + hint]
                    for name in unknown
                }
            )
        for name in known:
            values = request.query_params.getlist(name)
            if len(values) > 1:
                raise exceptions.ValidationError(
                    {name: [_("Give this parameter once.")]}
                )
            if values == [""]:
                raise exceptions.ValidationError(
                    {name: [_("Give a value, or leave the parameter out.")]}
                )

    def project_from_query(self, *, required: bool) -> Project | None:
        """Return the project named by ``?project=``; 404 if the user is not in it."""
        slug = self.request.query_params.get("project")
        if slug is None:
            if required:
                raise exceptions.ValidationError(
                    {"project": [_("Name the project by its slug: ?project=<slug>.")]}
                )
            return None
        return self.project_from_slug(slug, field="project")

    def project_from_slug(self, slug: str, *, field: str = "project") -> Project:
        if not _SLUG.match(slug):
            raise exceptions.ValidationError(
                {field: [_("A project slug is 1–63 letters, digits, - and _.")]}
            )
        return project_for_user(self.request.user, slug)
