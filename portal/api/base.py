"""The base of every API view: strict query parameters and bodies, and the project."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView

from portal.api.parsers import JSONParser
from portal.models import Project
from portal.selectors import project_for_user

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,63}$")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Enough to show the mistake; a body of thousands of keys gets a short answer.
_MAX_UNKNOWN_NAMED = 20


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
    """Refuse query parameters and body fields a view does not know.

    ``query_params`` lists the names a view accepts; a paginated list also
    accepts ``page`` and ``page_size``. ``body_serializers`` names the
    serializer of each write method's JSON body, which the handler reads with
    ``self.body()``; a write method not named there takes no body (or ``{}``).
    """

    query_params: tuple[str, ...] = ()
    body_serializers: dict[str, type[serializers.Serializer]] = {}
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
        if request.method in _WRITE_METHODS:
            if request.method not in self.body_serializers:
                self._refuse_body(request)

    def body(self, *, partial: bool = False) -> serializers.Serializer:
        """Return the method's body serializer, validated; unknown fields are a 400."""
        form = self.body_serializers[self.request.method](
            data=self.request.data, partial=partial
        )
        known = {name for name, field in form.fields.items() if not field.read_only}
        errors = self._unknown_fields(self.request.data, known)
        if not form.is_valid() or errors:
            raise exceptions.ValidationError({**form.errors, **errors})
        return form

    def _refuse_body(self, request) -> None:
        data = request.data  # parsed even here: not JSON is a 415, too big a 413
        if data == {}:
            return  # no body at all, or an empty object
        if not isinstance(data, dict):
            raise exceptions.ValidationError(
                _("This endpoint takes no request body; send none, or {}.")
            )
        raise exceptions.ValidationError(self._unknown_fields(data, set()))

    def _unknown_fields(self, data, known: set[str]) -> dict[str, list[str]]:
        """Return an error for each field of ``data`` not in ``known``."""
        if not isinstance(data, dict):
            return {}  # the serializer says what it expected instead
        unknown = sorted(set(data) - known)[:_MAX_UNKNOWN_NAMED]
        if not unknown:
            return {}
        if known:
            hint = _("Known fields: %(known)s.") % {"known": ", ".join(sorted(known))}
        else:
            hint = _("This endpoint takes no fields; send none, or {}.")
        errors = {}
        for name in unknown:
            message = _("Unknown field.") + " " + hint
            if name in self.query_params:
                message += " " + _(
                    "%(name)s is a query parameter here: ?%(name)s=<value>"
                ) % {"name": name}
            errors[name[:100] or '""'] = [message]
        return errors

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
