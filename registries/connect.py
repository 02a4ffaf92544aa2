"""Turn registry entries (or unsaved form values) into protocol client calls."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.conf import settings

from registries.clients import errors
from registries.clients.types import CertificateInfo, ClientConfig
from registries.models import Registry


def hub_urls() -> dict | None:
    """Return Docker Hub's service URLs when overridden (tests point them at a fake)."""
    return settings.DOCKER_HUB_URLS


def open_adapter(registry: Registry, *, read_timeout: float | None = None):
    """Return a registry adapter for an entry (a new one each call: not shared)."""
    from registries.clients.probe import adapter_for
    from registries.models import Flavour

    config = client_config(registry)
    if read_timeout is not None:
        config = replace(
            config,
            read_timeout=read_timeout,
            connect_timeout=min(config.connect_timeout, read_timeout),
        )
    flavour = Flavour.DOCKER_HUB if registry.is_docker_hub else registry.flavour
    return adapter_for(
        config,
        flavour or Flavour.UNKNOWN,
        registry.api_version or "v2",
        dockerhub_urls=hub_urls(),
    )


def client_config(registry: Registry) -> ClientConfig:
    """Return the client settings for an entry (saved or not)."""
    return ClientConfig(
        base_url=registry.address,
        username=registry.username,
        password=registry.password if registry.username else "",
        ca_pem=registry.ca_pem,
        pinned_sha256=registry.pinned_sha256,
        allow_plain_http=registry.allow_plain_http,
        connect_timeout=settings.REGISTRY_CONNECT_TIMEOUT,
        read_timeout=settings.REGISTRY_READ_TIMEOUT,
    )


@dataclass(frozen=True)
class VerifyOutcome:
    """What the Verify button shows: success with details, or an error in words."""

    ok: bool
    message: str
    api_version: str = ""
    flavour: str = ""
    code: str = ""
    certificate: CertificateInfo | None = None
    retryable: bool = False


def verify(registry: Registry) -> VerifyOutcome:
    """Probe the registry described by ``registry`` and explain the result."""
    try:
        from registries.clients.probe import probe
    except ImportError:
        return VerifyOutcome(ok=False, message="Verification is not available yet.")
    try:
        result = probe(client_config(registry), dockerhub_urls=hub_urls())
    except errors.TLSError as exc:
        return VerifyOutcome(
            ok=False,
            message=exc.message,
            code=exc.code,
            certificate=exc.certificate,
        )
    except errors.RegistryError as exc:
        return VerifyOutcome(
            ok=False, message=exc.message, code=exc.code, retryable=exc.retryable
        )
    if result.credentials_ok is False:
        return VerifyOutcome(
            ok=False,
            message=result.message or "The registry refused these credentials.",
            code="auth_failed",
            api_version=str(result.api_version or ""),
            flavour=str(result.flavour),
        )
    if result.api_version is None:
        return VerifyOutcome(
            ok=False,
            message=result.message or "This server does not look like a registry.",
            code="not_a_registry",
        )
    return VerifyOutcome(
        ok=True,
        message=result.message or "The registry answered.",
        api_version=str(result.api_version),
        flavour=str(result.flavour),
    )
