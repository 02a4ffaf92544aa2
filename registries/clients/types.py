"""Plain data passed in to and returned by the protocol clients."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class ApiVersion(enum.StrEnum):
    V1 = "v1"
    V2 = "v2"


class Flavour(enum.StrEnum):
    DISTRIBUTION = "distribution"
    HARBOR = "harbor"
    ARTIFACTORY = "artifactory"
    DOCKER_HUB = "dockerhub"
    UNKNOWN = "unknown"


class AuthScheme(enum.StrEnum):
    NONE = "none"
    BASIC = "basic"
    BEARER = "bearer"


@dataclass(frozen=True)
class ClientConfig:
    """How to reach one registry: address, credentials, trust and limits.

    ``base_url`` is normalised (scheme, host, optional port, optional path prefix,
    no trailing slash). ``ca_pem`` is extra trust (a CA bundle or the registry's own
    certificate) on top of, or instead of, the system CAs; ``pinned_sha256`` trusts
    exactly one leaf certificate by its SHA-256 fingerprint (hex, no colons).
    """

    base_url: str
    username: str = ""
    password: str = field(default="", repr=False)
    ca_pem: str = ""
    pinned_sha256: str = ""
    allow_plain_http: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_body_bytes: int = 16 * 1024 * 1024
    user_agent: str = "Portolan/0.1"


@dataclass(frozen=True)
class CertificateInfo:
    """What a person needs to decide whether to trust a server certificate."""

    subject: str
    issuer: str
    sans: tuple[str, ...]
    sha256_fingerprint: str
    not_before: datetime
    not_after: datetime
    pem: str
    self_signed: bool = False


@dataclass(frozen=True)
class ProbeResult:
    """What "Verify" found out about a registry."""

    api_version: ApiVersion | None
    flavour: Flavour
    auth_scheme: AuthScheme
    credentials_ok: bool | None
    catalog_readable: bool | None
    message: str = ""


@dataclass(frozen=True)
class RepositoryInfo:
    """One repository as listed or found by a search."""

    name: str
    description: str = ""
    star_count: int | None = None
    pull_count: int | None = None
    is_official: bool = False


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True)
class TagDetails:
    """One tag resolved to its manifest and image configuration.

    ``size`` is the compressed size (layers plus config) of a single image; for an
    index / manifest list it is that of the first platform image, whose config also
    gives ``created`` and ``labels`` (fetching every child would count as a pull
    each). ``platforms`` lists every platform of an index, or the one image's.
    """

    repository: str
    tag: str
    digest: str
    media_type: str
    size: int | None = None
    created: datetime | None = None
    platforms: tuple[Platform, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """A manifest as served: media type, digest, parsed JSON and byte size."""

    media_type: str
    digest: str
    data: dict = field(compare=False, repr=False)
    size: int = 0
