"""Write the distribution registry configuration for the built-in registry.

JSON is valid YAML, so the file is written with the json module. Paths are
absolute so the registry may be started from any directory.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from registries.builtin import keys

CONFIG_NAME = "config.yml"


@dataclass(frozen=True)
class Notifications:
    """Where the registry reports pushes and deletes, and the bearer secret."""

    url: str
    secret: str


def realm_url() -> str:
    return f"{settings.PORTAL_URL}/auth/token"


def listen_address(host: str, port: int) -> str:
    """Return ``http.addr``: loopback hosts listen only there, others everywhere."""
    if settings.BUILTIN_REGISTRY_LISTEN:
        return settings.BUILTIN_REGISTRY_LISTEN
    from registries.builtin.services import is_loopback

    if is_loopback(host):
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f":{port}"


def tls_names(host: str) -> list[str]:
    # Loopback names too, so the portal and `make run` reach it on this machine.
    names = [host] + ["localhost", "127.0.0.1", "::1"]
    return list(dict.fromkeys(names))


def tls_files(host: str) -> tuple[str, str]:
    """Return the (certificate, key) the registry serves: the operator's or issued."""
    if settings.BUILTIN_REGISTRY_TLS_CERT:
        return settings.BUILTIN_REGISTRY_TLS_CERT, settings.BUILTIN_REGISTRY_TLS_KEY
    cert, key = keys.registry_tls_files(tls_names(host))
    return str(cert), str(key)


def _http_secret(directory: Path) -> str:
    """Return the registry's upload-state secret, kept across restarts."""
    path = directory / "http_secret"
    if not path.exists():
        keys.write_once(path, secrets.token_urlsafe(32).encode())
    return path.read_text().strip()


def build(
    *,
    address: str,
    host: str,
    port: int,
    notifications: Notifications | None,
) -> dict:
    """Return the registry configuration as a dictionary."""
    directory = keys.registry_dir()
    storage = directory / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    bundle = directory / "token-signers.pem"
    keys.replace_file(bundle, keys.signing_certificates_pem().encode(), 0o644)
    certificate, key = tls_files(host)
    config: dict = {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "portolan-builtin-registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {
            "addr": listen_address(host, port),
            "host": address,
            "secret": _http_secret(directory),
            "tls": {"certificate": certificate, "key": key},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {
            "token": {
                "realm": realm_url(),
                "service": settings.BUILTIN_REGISTRY_SERVICE,
                "issuer": settings.BUILTIN_REGISTRY_ISSUER,
                "rootcertbundle": str(bundle),
            }
        },
        "health": {
            "storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}
        },
    }
    if notifications is not None:
        config["notifications"] = {
            "events": {"includereferences": True},
            "endpoints": [
                {
                    "name": "portolan",
                    "url": notifications.url,
                    "headers": {"Authorization": [f"Bearer {notifications.secret}"]},
                    "timeout": "5s",
                    "threshold": 5,
                    "backoff": "10s",
                    "ignoredmediatypes": ["application/octet-stream"],
                    "ignore": {"actions": ["pull"]},
                }
            ],
        }
    return config


def write(config: dict) -> Path:
    """Write ``config`` (it holds secrets: mode 0600) and return its path."""
    path = keys.registry_dir() / CONFIG_NAME
    keys.replace_file(path, (json.dumps(config, indent=2) + "\n").encode(), 0o600)
    return path


def config_path() -> Path:
    return keys.registry_dir() / CONFIG_NAME


BINARY = "docker-registry"


def registry_command(path: Path) -> list[str] | None:
    """Return the command serving the registry with ``path``; None if not installed."""
    binary = shutil.which(BINARY)
    return [binary, "serve", str(path)] if binary else None


def webhook_url(registry) -> str | None:
    """Return the portal's notification endpoint for ``registry``, if it has one."""
    from django.urls import NoReverseMatch, reverse

    for name, kwargs in WEBHOOK_ROUTES:
        try:
            path = reverse(
                name, kwargs={key: getattr(registry, attr) for key, attr in kwargs}
            )
        except NoReverseMatch:
            continue
        return f"{settings.PORTAL_URL}{path}"
    return None


# (URL name, ((URL kwarg, Registry attribute), ...)) of the library's webhook.
WEBHOOK_ROUTES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("library_webhook", (("pk", "pk"),)),
)
