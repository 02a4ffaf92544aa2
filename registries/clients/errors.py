"""One typed hierarchy for everything that can go wrong talking to a registry.

Every error carries a person-readable message, a stable ``code`` for APIs and
templates, and ``retryable``: whether trying the same call again later may help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import CertificateInfo


class RegistryError(Exception):
    """Base of all registry client errors."""

    code = "registry_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class Unreachable(RegistryError):
    """The host could not be resolved or the connection was refused or reset."""

    code = "unreachable"
    retryable = True


class Timeout(RegistryError):
    """Connecting or reading took longer than the configured limit."""

    code = "timeout"
    retryable = True


class PlainHTTPNotAllowed(RegistryError):
    """An ``http://`` address was used on an entry that does not allow plain HTTP."""

    code = "plain_http_not_allowed"


class TLSError(RegistryError):
    """The TLS handshake failed; ``certificate`` describes what the server sent."""

    code = "tls_error"

    def __init__(
        self, message: str, *, certificate: CertificateInfo | None = None, **kwargs
    ) -> None:
        super().__init__(message, **kwargs)
        self.certificate = certificate


class TLSUntrusted(TLSError):
    """The server's certificate does not chain to a trusted CA (or the pin)."""

    code = "tls_untrusted"


class TLSHostnameMismatch(TLSError):
    """The certificate is valid but not for the host name that was dialled."""

    code = "tls_hostname_mismatch"


class TLSExpired(TLSError):
    """The certificate is outside its validity period."""

    code = "tls_expired"


class AuthFailed(RegistryError):
    """The registry or its token service refused the credentials (HTTP 401)."""

    code = "auth_failed"


class Forbidden(RegistryError):
    """The credentials are valid but lack access to this resource (HTTP 403)."""

    code = "forbidden"


class NotARegistry(RegistryError):
    """The server answered, but not like any container registry we know."""

    code = "not_a_registry"


class NotFound(RegistryError):
    """The repository, tag, manifest or blob does not exist (HTTP 404)."""

    code = "not_found"


class NotSupported(RegistryError):
    """The registry does not offer this operation (no catalog, no search, ...)."""

    code = "not_supported"


class RateLimited(RegistryError):
    """The registry asked us to slow down (HTTP 429)."""

    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(RegistryError):
    """The registry failed on its side (HTTP 5xx)."""

    code = "server_error"
    retryable = True


class ProtocolError(RegistryError):
    """The answer broke the protocol: bad JSON, a bad or looping Link, too large."""

    code = "protocol_error"


class RequestRejected(RegistryError):
    """The registry refused the request as malformed or unacceptable (other 4xx)."""

    code = "request_rejected"
