"""OpenAPI generation: the error responses every operation may give, strict bodies."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from portal.api.exceptions import ErrorSerializer

# Status codes any API operation may answer with, beside its success.
_COMMON_ERRORS = {
    "400": "The input (query or body) is not valid.",
    "401": "Not signed in, or the API token is not valid.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or one you may not see.",
    "406": "The Accept header asks for something other than JSON.",
    "429": "Too many requests; retry after the Retry-After header's seconds.",
}
_WRITE_ERRORS = {
    "409": "A change made at the same time conflicts with this one.",
    "413": "The body is larger than the portal accepts.",
    "415": "The body is not JSON.",
}


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the shared error body on every operation."""

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and schema.get("type") == "object":
            # PortalAPIView refuses body fields it does not know; say so.
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(_COMMON_ERRORS)
        if self.method in {"POST", "PUT", "PATCH"}:
            errors.update(_WRITE_ERRORS)
        elif self.method == "DELETE":
            # A DELETE takes no body, but one sent anyway is read and refused.
            errors.update(_WRITE_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code)
                response["description"] = description
                responses[code] = response
        return responses
