"""Normalise registry addresses, namespaces and image references."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# One path component of a repository name, per the distribution reference grammar.
PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")


def normalize_address(raw: str) -> str:
    """Return ``scheme://host[:port][/path]`` or raise ``ValidationError``.

    The scheme defaults to https, default ports and trailing slashes are dropped,
    the host is lower-cased; credentials, queries and fragments are refused.
    """
    value = (raw or "").strip()
    if not value:
        raise ValidationError(_("Enter the registry address."), code="required")
    if "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(
            _("“%(value)s” is not a valid address: %(error)s."),
            params={"value": raw, "error": exc},
            code="invalid",
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValidationError(
            _("Use an https:// or http:// address, not “%(scheme)s://”."),
            params={"scheme": parts.scheme},
            code="scheme",
        )
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValidationError(
            _("Do not put credentials in the address; use the credential fields."),
            code="credentials",
        )
    if parts.query or parts.fragment or value.rstrip().endswith("?"):
        raise ValidationError(
            _("The address cannot have a query (?…) or fragment (#…)."), code="query"
        )
    host = (parts.hostname or "").lower()
    if not host or not _valid_host(host):
        raise ValidationError(
            _("“%(value)s” does not name a valid host."),
            params={"value": raw},
            code="host",
        )
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    return f"{scheme}://{netloc}{path}"


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(_HOST_LABEL.match(label) for label in labels) and len(host) <= 253


def normalize_namespace(raw: str) -> str:
    """Return a namespace such as ``team-a`` or ``team-a/sub``, or ``""`` for none."""
    value = (raw or "").strip().strip("/")
    if not value:
        return ""
    components = value.split("/")
    for component in components:
        if not PATH_COMPONENT.match(component):
            raise ValidationError(
                _(
                    "“%(value)s” is not a valid namespace: use lower-case letters, "
                    "digits and . _ - separated by /, e.g. team-a or team-a/sub."
                ),
                params={"value": raw},
                code="namespace",
            )
    return "/".join(components)


def in_namespace(repository: str, namespace: str) -> bool:
    """Return whether ``repository`` lies inside ``namespace`` (whole components)."""
    return (
        not namespace
        or repository == namespace
        or repository.startswith(namespace + "/")
    )


def host_port(address: str) -> str:
    """Return ``host[:port]`` of a normalised address, as used in pull references."""
    return urlsplit(address).netloc
