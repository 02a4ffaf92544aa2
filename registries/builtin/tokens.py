"""Sign the JWTs the built-in registry accepts.

Claims follow the distribution token spec: ``aud`` is a string (2.8 rejects a
list) equal to the registry's ``service``, ``iss`` its ``issuer``. The header
carries the signing certificate in ``x5c`` (2.8 and 3.x) and the libtrust
``kid`` (what 2.8 falls back to without ``x5c``).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from django.conf import settings

from registries.builtin import keys
from registries.builtin.scopes import Access

# Tokens are valid a little before "now" for registries whose clock runs behind.
NOT_BEFORE_SLACK = 10


@dataclass(frozen=True)
class IssuedToken:
    """A signed token and what the token endpoint says about it."""

    token: str = ""
    jti: str = ""
    expires_in: int = 0
    issued_at: datetime | None = None

    @property
    def issued_at_rfc3339(self) -> str:
        return self.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    claims: dict,
    *,
    algorithm: str | None = None,
    x5c: bool = True,
    kid: bool = True,
) -> str:
    """Return ``claims`` signed with the portal's key for ``algorithm``."""
    algorithm = algorithm or settings.BUILTIN_REGISTRY_TOKEN_ALGORITHM
    pair = keys.signing_key(algorithm)
    headers: dict = {"typ": "JWT"}
    if x5c:
        headers["x5c"] = [base64.b64encode(pair.certificate_der).decode()]
    if kid:
        headers["kid"] = pair.kid
    return jwt.encode(claims, pair.key, algorithm=algorithm, headers=headers)


def claims_for(
    subject: str,
    access: Iterable[Access],
    *,
    now: datetime | None = None,
    ttl: int | None = None,
) -> dict:
    """Return the claims of a token for ``subject`` holding exactly ``access``."""
    now = now or datetime.now(UTC)
    ttl = settings.BUILTIN_REGISTRY_TOKEN_TTL if ttl is None else ttl
    issued = int(now.timestamp())
    return {
        "iss": settings.BUILTIN_REGISTRY_ISSUER,
        "sub": subject,
        "aud": settings.BUILTIN_REGISTRY_SERVICE,
        "exp": issued + ttl,
        "nbf": issued - NOT_BEFORE_SLACK,
        "iat": issued,
        "jti": uuid.uuid4().hex,
        "access": [entry.claim() for entry in access],
    }


def issue(subject: str, access: Iterable[Access]) -> IssuedToken:
    """Sign a token for ``subject`` with ``access`` and the configured lifetime."""
    now = datetime.now(UTC).replace(microsecond=0)
    claims = claims_for(subject, access, now=now)
    return IssuedToken(
        token=sign(claims),
        jti=claims["jti"],
        expires_in=claims["exp"] - claims["iat"],
        issued_at=now,
    )
