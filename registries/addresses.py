"""Normalise registry addresses, namespaces and image references."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_PORTS = {"https": 443, "http": 80}
# The address column's length; https:// is added before it is checked.
ADDRESS_MAX_LENGTH = 255
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# One path component of a repository name, per the distribution reference grammar.
PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
# The digest algorithms registries use (go-digest), with their hex lengths.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


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
    if host.endswith("."):
        # Image references cannot name a host with a trailing dot, so an entry
        # written that way would never match one.
        raise ValidationError(
            _(
                "“%(value)s” ends the host name with a dot: write it without the "
                "dot, as image references do."
            ),
            params={"value": raw},
            code="host",
        )
    if not host or not _valid_host(host):
        raise ValidationError(
            _("“%(value)s” does not name a valid host."),
            params={"value": raw},
            code="host",
        )
    if port == 0:
        raise ValidationError(_("The port must be between 1 and 65535."), code="port")
    host = canonical_host(host)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    address = f"{scheme}://{netloc}{path}"
    if len(address) > ADDRESS_MAX_LENGTH:
        raise ValidationError(
            _(
                "The address is too long: %(length)d characters with its scheme, "
                "at most %(max)d."
            ),
            params={"length": len(address), "max": ADDRESS_MAX_LENGTH},
            code="max_length",
        )
    return address


def _valid_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        # Zone ids (fe80::1%eth0) have no place in image references.
        return not getattr(address, "scope_id", None)
    labels = host.split(".")
    return all(_HOST_LABEL.match(label) for label in labels) and len(host) <= 253


def canonical_host(host: str) -> str:
    """Return a host name lower-cased, an IP address in its shortest form.

    ``[0:0::0:1]`` and ``::1`` are the same host; comparing canonical forms
    keeps duplicates out and lets references match entries however written.
    """
    value = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return value


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


def is_repository_path(name: str) -> bool:
    """Whether ``name`` is a repository path: components, no empty or ``..`` parts.

    Only such a name can lie inside a namespace: "team-a/../x" or "team-a//x"
    must not pass a prefix check on their way to a registry.
    """
    return bool(name) and all(PATH_COMPONENT.match(part) for part in name.split("/"))


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


def _same_machine_key(host: str) -> str:
    """Return ``canonical_host``, with every name of this machine folded into one.

    Loopback addresses, ``localhost`` and names under it, the unspecified
    addresses (``0.0.0.0`` and ``::`` reach this machine on Linux) and their
    IPv4-mapped forms. Other DNS aliases of a host are not known here.
    """
    value = canonical_host(host)
    if value == "localhost" or value.endswith(".localhost"):
        return "loopback"
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return "loopback" if ip.is_loopback or ip.is_unspecified else value


def address_serves(address: str, hostname: str, port: int | None) -> bool:
    """Return whether a reference to ``hostname[:port]`` reaches ``address``.

    A reference without a port uses the address's default port. Loopback names
    are taken as one machine: this is for refusing, never for allowing.
    """
    parts = urlsplit(address)
    if _same_machine_key(parts.hostname or "") != _same_machine_key(hostname):
        return False
    default = DEFAULT_PORTS.get(parts.scheme, 443)
    return (parts.port or default) == (port or default)


def addresses_overlap(first: str, second: str) -> bool:
    """Return whether one image reference could name both normalised addresses.

    That is the same host (loopback names taken as one) with the same port, or
    both on their scheme's default port, which a reference without a port means.
    """
    a, b = urlsplit(first), urlsplit(second)
    if _same_machine_key(a.hostname or "") != _same_machine_key(b.hostname or ""):
        return False
    default_a = DEFAULT_PORTS.get(a.scheme, 443)
    default_b = DEFAULT_PORTS.get(b.scheme, 443)
    port_a, port_b = a.port or default_a, b.port or default_b
    return port_a == port_b or (port_a == default_a and port_b == default_b)
