"""The token service at ``/auth/token`` (distribution token spec, GET and POST).

It never fails a request for being partly allowed: the token holds the
intersection of what was asked and what the account may do, possibly nothing.
Only wrong credentials (401), a malformed request (400) and too many failures
(429) are errors, each with a JSON body that says what went wrong.
"""

from __future__ import annotations

import base64
import binascii
import logging

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal.net import client_address
from registries.builtin import accounts, tokens
from registries.builtin.scopes import ScopeError, intersect, parse_scopes

logger = logging.getLogger("portolan.builtin.token")


class TokenRequestError(Exception):
    """A request the token service refuses; carries the HTTP answer's parts."""

    def __init__(self, status: int, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def _basic_credentials(request) -> tuple[str, str] | None:
    """Return (username, secret) from a Basic header; None when there is no header."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise TokenRequestError(
            401,
            "UNAUTHORIZED",
            _("Send a username and password or token with Basic authentication."),
        )
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise TokenRequestError(
            401, "UNAUTHORIZED", _("The Basic credentials cannot be decoded.")
        ) from None
    username, sep, secret = decoded.partition(":")
    if not sep:
        raise TokenRequestError(
            401, "UNAUTHORIZED", _("The Basic credentials have no password.")
        )
    return username, secret


def _account(request, credentials: tuple[str, str] | None):
    if credentials is None:
        return accounts.ANONYMOUS
    username, secret = credentials
    address = client_address(request)
    throttled = accounts.throttled_by(username, address)
    if throttled:
        message = (
            _("Too many failed sign-ins for %(user)s; try again in a few minutes.")
            if throttled == "account"
            else _("Too many failed sign-ins from your address; try again later.")
        )
        raise TokenRequestError(
            429,
            "TOOMANYREQUESTS",
            message % {"user": username},
            retry_after=settings.BUILTIN_REGISTRY_AUTH_LOCKOUT_SECONDS,
            account=username,
        )
    account = accounts.authenticate_basic(request, username, secret)
    if account is None:
        failures = accounts.record_failure(username, address)
        raise TokenRequestError(
            401,
            "UNAUTHORIZED",
            _(
                "Wrong username, password or token (or the token was revoked or "
                "has expired)."
            ),
            account=username,
            failures=failures,
        )
    accounts.clear_failures(username, address)
    return account


def _check_service(service: str) -> None:
    if service and service != settings.BUILTIN_REGISTRY_SERVICE:
        raise TokenRequestError(
            400,
            "INVALID_SERVICE",
            _("This token service only serves “%(service)s”, not “%(asked)s”.")
            % {"service": settings.BUILTIN_REGISTRY_SERVICE, "asked": service},
        )


def _grant(request, account, scope_values: list[str]):
    try:
        scopes = parse_scopes(scope_values)
    except ScopeError as exc:
        raise TokenRequestError(400, "INVALID_SCOPE", str(exc)) from None
    access = intersect(account.grants, scopes)
    issued = tokens.issue(account.subject, access)
    logger.info(
        "token granted: account=%s kind=%s address=%s asked=[%s] granted=[%s] jti=%s",
        account.subject or "(anonymous)",
        account.kind,
        client_address(request),
        " ".join(str(scope) for scope in scopes),
        " ".join(str(entry) for entry in access),
        issued.jti,
    )
    return issued, access


# OAuth2 (RFC 6749) names for the refusals of the POST variant.
_OAUTH_CODES = {
    "UNAUTHORIZED": "invalid_grant",
    "TOOMANYREQUESTS": "slow_down",
    "INVALID_SCOPE": "invalid_scope",
    "INVALID_SERVICE": "invalid_request",
}


def _refusal(request, error: TokenRequestError, *, oauth: bool) -> JsonResponse:
    logger.warning(
        "token refused: account=%r address=%s status=%s reason=%s%s",
        error.extra.get("account", "(none)"),
        client_address(request),
        error.status,
        error.code,
        f" failures={error.extra['failures']}" if "failures" in error.extra else "",
    )
    if oauth:
        code = _OAUTH_CODES.get(error.code, error.code)
        body = {"error": code, "error_description": error.message}
    else:
        body = {"errors": [{"code": error.code, "message": error.message}]}
    response = JsonResponse(body, status=error.status)
    if error.status == 401 and not oauth:
        response["WWW-Authenticate"] = 'Basic realm="Portolan registry token service"'
    if "retry_after" in error.extra:
        response["Retry-After"] = str(error.extra["retry_after"])
    return response


def _get(request) -> JsonResponse:
    _check_service(request.GET.get("service", ""))
    account = _account(request, _basic_credentials(request))
    issued, _access = _grant(request, account, request.GET.getlist("scope"))
    return JsonResponse(
        {
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "issued_at": issued.issued_at_rfc3339,
        }
    )


def _post(request) -> JsonResponse:
    form = request.POST
    _check_service(form.get("service", ""))
    grant_type = form.get("grant_type", "")
    if grant_type == "refresh_token":
        raise TokenRequestError(
            400,
            "unsupported_grant_type",
            _("This service issues no refresh tokens; use grant_type=password."),
        )
    if grant_type != "password":
        raise TokenRequestError(
            400, "unsupported_grant_type", _("Use grant_type=password.")
        )
    username, secret = form.get("username", ""), form.get("password", "")
    if not username or not secret:
        raise TokenRequestError(
            400, "invalid_request", _("Send a username and a password or token.")
        )
    account = _account(request, (username, secret))
    issued, access = _grant(request, account, form.getlist("scope"))
    return JsonResponse(
        {
            "access_token": issued.token,
            "token_type": "Bearer",
            "scope": " ".join(str(entry) for entry in access),
            "expires_in": issued.expires_in,
            "issued_at": issued.issued_at_rfc3339,
        }
    )


@csrf_exempt  # registry clients have no CSRF token; only Basic credentials count
@never_cache
@require_http_methods(["GET", "POST"])
def token(request):
    """Answer a registry client's token request."""
    oauth = request.method == "POST"
    try:
        return _post(request) if oauth else _get(request)
    except TokenRequestError as error:
        return _refusal(request, error, oauth=oauth)
