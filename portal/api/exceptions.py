"""Every API error as ``{"error": {"code", "message", "fields"}}`` with its status."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

logger = logging.getLogger("portal.api")

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field (dotted paths for nested values).",
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    error = ErrorDetailSerializer()


class Conflict(exceptions.APIException):
    """The request is understood, but the object's state does not allow it now."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = gettext_lazy("This cannot be done in the object's current state.")


class RequestTooLarge(exceptions.APIException):
    """The body is larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``; it was not read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(
            _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
        )


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """Return ``{"field": [messages]}``, nested fields joined with dots."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for inner, messages in _flatten(value, name).items():
                flat.setdefault(inner, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            flat[prefix] = [str(item) for item in detail]
        else:
            for index, value in enumerate(detail):
                name = f"{prefix}.{index}" if prefix else str(index)
                for inner, messages in _flatten(value, name).items():
                    flat.setdefault(inner, []).extend(messages)
    else:
        flat[prefix] = [str(detail)]
    return {name: messages for name, messages in flat.items() if messages}


def _validation_body(detail) -> dict:
    fields = _flatten(detail if isinstance(detail, dict) else {NON_FIELD: detail})
    general = fields.pop(NON_FIELD, []) + fields.pop("", [])
    parts = list(general) + [
        f"{name}: {messages[0]}" for name, messages in sorted(fields.items())
    ]
    message = " ".join(parts) if general and not fields else "; ".join(parts)
    return error_body("invalid", message or _("The request is not valid."), fields)


def api_exception_handler(exc, context):
    """Turn any exception raised in an API view into a JSON error response."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, IntegrityError):
        # A concurrent change slipped between validation and the write.
        set_rollback()
        logger.warning("API write conflict: %s", exc)
        return Response(
            error_body(
                "conflict",
                _("This conflicts with a change made at the same time; try again."),
            ),
            status=status.HTTP_409_CONFLICT,
        )

    if not isinstance(exc, exceptions.APIException):
        set_rollback()
        logger.exception("Unhandled error in API view %s", context.get("view"))
        return Response(
            error_body("server_error", _("Something went wrong on our side.")),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc.detail)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        body = error_body(code, str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Answer any unknown path under the API with a JSON 404."""
    message = _("There is no API endpoint at %(path)s.") % {"path": request.path}
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            message += " " + _("API paths end with a slash: %(path)s/") % {
                "path": request.path
            }
    return JsonResponse(
        error_body("not_found", message), status=status.HTTP_404_NOT_FOUND
    )


class JsonErrorsMixin:
    """Render errors as JSON even on views whose success is YAML or HTML."""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
