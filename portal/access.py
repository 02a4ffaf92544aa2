"""The deploy guard: may this project run this image, and which digest is it?

An image reference is read the way ``docker pull`` reads it (the distribution
reference grammar): a first path component holding a ``.`` or ``:``, or equal
to ``localhost``, is the registry host; otherwise the image is on Docker Hub,
where a single-component name lives under ``library/``. The answer comes only
from entries available to the project (``registries_available``): an enabled
entry serving that host whose namespace holds the repository.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from library.models import Tag
from library.selectors import repositories_visible, sources_for_entries
from library.services import open_adapter
from portal.models import Project
from registries.addresses import (
    DEFAULT_PORTS,
    DIGEST_HEX_LENGTHS,
    PATH_COMPONENT,
    address_serves,
    canonical_host,
    in_namespace,
)
from registries.clients import errors as client_errors
from registries.models import DOCKER_HUB_HOSTS, Registry
from registries.selectors import registries_available, registries_listed

DOCKER_HUB_DOMAIN = "docker.io"
# Every name Docker Hub goes by; an entry for any of them serves all of them.
NAME_MAX_LENGTH = 255
_DOMAIN_COMPONENT = re.compile(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(
    r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-zA-Z=_-]+$"
)


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference; ``domain`` is ``docker.io`` for Docker Hub."""

    domain: str
    hostname: str
    port: int | None
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def is_docker_hub(self) -> bool:
        return self.domain == DOCKER_HUB_DOMAIN

    @property
    def reference(self) -> str:
        """Return what to ask the registry for: the digest if given, else the tag."""
        return self.digest or self.tag or "latest"


def _invalid(raw: str, reason: str) -> ValidationError:
    return ValidationError(
        _("“%(value)s” is not a valid image reference: %(reason)s"),
        params={"value": raw[:300], "reason": reason},
        code="invalid_reference",
    )


def _parse_domain(raw: str, domain: str) -> tuple[str, int | None]:
    """Return ``(hostname, port)`` of a reference's domain, lower-cased."""
    host, port = domain, None
    if host.startswith("["):
        end = host.find("]")
        literal = host[1:end] if end > 0 else ""
        rest = host[end + 1 :] if end > 0 else host
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError:
            raise _invalid(raw, _("the IPv6 address is not valid.")) from None
        if address.scope_id:
            raise _invalid(raw, _("the IPv6 address cannot name a network zone."))
        if rest and not rest.startswith(":"):
            raise _invalid(raw, _("the registry host is not valid."))
        # One spelling per address: [0:0::0:1] is [::1].
        host, port_text = address.compressed, rest[1:] if rest else None
    else:
        host, sep, port_text = host.partition(":")
        port_text = port_text if sep else None
        if not host or not all(
            _DOMAIN_COMPONENT.match(part) for part in host.split(".")
        ):
            raise _invalid(
                raw, _("“%(host)s” is not a valid host name.") % {"host": host}
            )
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
            raise _invalid(raw, _("the port must be a number."))
        port = int(port_text)
        if not 0 < port < 65536:
            raise _invalid(raw, _("the port must be between 1 and 65535."))
    return host.lower(), port


def parse_reference(raw: str) -> ImageReference:
    """Parse ``[host[:port]/]path[:tag][@digest]`` or raise ``ValidationError``."""
    value = (raw or "").strip()
    if not value:
        raise ValidationError(_("Enter an image reference."), code="required")
    if any(char.isspace() for char in value):
        raise _invalid(raw, _("it contains spaces."))

    name, at, digest = value.partition("@")
    if at:
        if not _DIGEST.match(digest):
            raise _invalid(raw, _("the digest must look like sha256:<64 hex digits>."))
        algorithm, _sep, encoded = digest.partition(":")
        expected = DIGEST_HEX_LENGTHS.get(algorithm)
        if expected is None:
            raise _invalid(
                raw,
                _("digests must use sha256, sha384 or sha512, not “%(algorithm)s”.")
                % {"algorithm": algorithm},
            )
        if len(encoded) != expected or not re.fullmatch(r"[a-f0-9]+", encoded):
            raise _invalid(
                raw,
                _("a %(algorithm)s digest has %(count)d lower-case hex digits.")
                % {"algorithm": algorithm, "count": expected},
            )

    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise _invalid(
                raw,
                _(
                    "a tag is up to 128 letters, digits, _ . and -, and does not "
                    "start with . or -."
                ),
            )

    if not name:
        raise _invalid(raw, _("the image name is missing."))
    if len(name) > NAME_MAX_LENGTH:
        raise _invalid(
            raw,
            _("the name is longer than %(max)d characters.") % {"max": NAME_MAX_LENGTH},
        )

    first, slash, rest = name.partition("/")
    # docker's rule: only a first component that cannot be a repository name is a host.
    if slash and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    ):
        hostname, port = _parse_domain(raw, first)
        path = rest
    else:
        hostname, port, path = DOCKER_HUB_DOMAIN, None, name

    components = path.split("/")
    for component in components:
        if not component:
            raise _invalid(raw, _("the repository path has an empty component."))
        if not PATH_COMPONENT.match(component):
            if PATH_COMPONENT.match(component.lower()):
                raise _invalid(raw, _("repository names must be lower-case."))
            raise _invalid(
                raw,
                _(
                    "“%(component)s” is not a valid repository name component: use "
                    "lower-case letters, digits and single . _ or - between them."
                )
                % {"component": component},
            )

    if hostname in DOCKER_HUB_HOSTS and port in (None, 443):
        # docker.io:443 is docker.io: Docker Hub is HTTPS on its default port.
        hostname, port = DOCKER_HUB_DOMAIN, None
    host = f"[{hostname}]" if ":" in hostname else hostname  # an IPv6 literal
    domain = host if port is None else f"{host}:{port}"
    if domain == DOCKER_HUB_DOMAIN and len(components) == 1:
        path = "library/" + path
    return ImageReference(
        domain=domain,
        hostname=hostname,
        port=port,
        repository=path,
        tag=tag,
        digest=digest,
    )


def is_docker_hub_entry(registry: Registry) -> bool:
    """Return whether the entry is Docker Hub, under any of its names."""
    return registry.is_docker_hub


def serves_host(registry: Registry, reference: ImageReference) -> bool:
    """Return whether ``registry`` is the registry ``reference`` names."""
    if reference.is_docker_hub:
        return is_docker_hub_entry(registry)
    parts = urlsplit(registry.address)
    if canonical_host(parts.hostname or "") != reference.hostname:
        return False
    default = DEFAULT_PORTS.get(parts.scheme, 443)
    return (parts.port or default) == (reference.port or default)


def pull_reference(registry: Registry, reference: ImageReference, digest: str) -> str:
    """Return ``host/repository@digest`` (or ``:tag`` when no digest is known)."""
    host = DOCKER_HUB_DOMAIN if reference.is_docker_hub else registry.host
    suffix = f"@{digest}" if digest else f":{reference.tag or 'latest'}"
    return f"{host}/{reference.repository}{suffix}"


class Code(models.TextChoices):
    """Why the guard answered as it did: stable values for deploy tools."""

    ALLOWED = "allowed", gettext_lazy("Allowed")
    NO_REGISTRY = "no_registry", gettext_lazy("No registry for that host")
    OUTSIDE_NAMESPACE = "outside_namespace", gettext_lazy("Outside the namespace")
    REGISTRY_DISABLED = "registry_disabled", gettext_lazy("Registry disabled")
    NOT_FOUND = "image_not_found", gettext_lazy("Image not found")
    UNVERIFIABLE = "registry_error", gettext_lazy("The registry could not be asked")


@dataclass(frozen=True)
class AccessDecision:
    """The guard's answer, with the reason in words and the digest that was checked."""

    allowed: bool
    code: str
    reason: str
    reference: ImageReference
    registry: Registry | None = None
    digest: str = ""
    pull_reference: str = ""


@dataclass(frozen=True)
class Lookup:
    """Where an image was found (``digest``), or why looking failed (``error``)."""

    digest: str = ""
    registry: Registry | None = None
    error: str = ""


def _most_specific_first(entries: Iterable[Registry]) -> list[Registry]:
    return sorted(
        entries,
        key=lambda r: (-len(r.namespace), r.project_id is None, r.name, r.pk),
    )


def _namespace_for(
    registry: Registry, project: Project, *, on_builtin: bool = False
) -> str | None:
    """Return the namespace ``project`` may use on an entry; ``None`` for none.

    The built-in registry is global, but its namespaces are projects: a project
    deploys only its own images from it, as its robots pull only those. That
    holds whichever entry names the built-in registry's host (``on_builtin``):
    another entry for it gives at most the project's own namespace.
    """
    if registry.is_builtin:
        return project.slug
    if not on_builtin:
        return registry.namespace
    if not registry.namespace:
        return project.slug
    return (
        registry.namespace if in_namespace(registry.namespace, project.slug) else None
    )


def reaches_builtin(reference: ImageReference) -> bool:
    """Return whether ``reference`` could be pulled from the built-in registry."""
    if reference.is_docker_hub:
        return False
    addresses = Registry.objects.filter(is_builtin=True).values_list(
        "address", flat=True
    )
    return any(
        address_serves(address, reference.hostname, reference.port)
        for address in addresses
    )


def check_access(
    *,
    user,
    project: Project,
    reference: ImageReference,
    require_exists: bool,
) -> AccessDecision:
    """Decide whether ``project`` may run ``reference``; say why when it may not."""
    listed = [r for r in registries_listed(user, project) if serves_host(r, reference)]
    if not listed:
        return AccessDecision(
            allowed=False,
            code=Code.NO_REGISTRY,
            reason=_("No registry available to project “%(project)s” serves %(host)s.")
            % {"project": project.slug, "host": reference.domain},
            reference=reference,
        )
    on_builtin = reaches_builtin(reference)
    namespaces_of = {
        r.pk: _namespace_for(r, project, on_builtin=on_builtin) for r in listed
    }
    inside = [
        r
        for r in listed
        if namespaces_of[r.pk] is not None
        and in_namespace(reference.repository, namespaces_of[r.pk])
    ]
    if not inside:
        namespaces = sorted(
            {ns for ns in namespaces_of.values() if ns is not None} or {project.slug}
        )
        return AccessDecision(
            allowed=False,
            code=Code.OUTSIDE_NAMESPACE,
            reason=_(
                "%(repository)s is outside the namespaces project “%(project)s” may "
                "use on %(host)s: %(namespaces)s."
            )
            % {
                "repository": reference.repository,
                "project": project.slug,
                "host": reference.domain,
                "namespaces": ", ".join(namespaces),
            },
            reference=reference,
        )
    available = set(
        registries_available(user, project)
        .filter(pk__in=[r.pk for r in inside])
        .values_list("pk", flat=True)
    )
    entries = _most_specific_first(r for r in inside if r.pk in available)
    if not entries:
        names = ", ".join(sorted(f"“{r.name}”" for r in inside))
        return AccessDecision(
            allowed=False,
            code=Code.REGISTRY_DISABLED,
            reason=_("The registry entry for %(repository)s is disabled: %(names)s.")
            % {"repository": reference.repository, "names": names},
            reference=reference,
            registry=_most_specific_first(inside)[0],
        )

    found = find_image(user, project, entries, reference, live=require_exists)
    entry = found.registry or entries[0]
    if require_exists and not found.digest:
        if found.error:
            return AccessDecision(
                allowed=False,
                code=Code.UNVERIFIABLE,
                reason=_(
                    "Could not check that %(image)s exists, so it is not allowed: "
                    "%(error)s"
                )
                % {"image": _describe(reference), "error": found.error},
                reference=reference,
                registry=entry,
            )
        return AccessDecision(
            allowed=False,
            code=Code.NOT_FOUND,
            reason=_("%(image)s was not found in %(registry)s.")
            % {"image": _describe(reference), "registry": entry.name},
            reference=reference,
            registry=entry,
        )
    digest = found.digest or reference.digest
    return AccessDecision(
        allowed=True,
        code=Code.ALLOWED,
        reason=_("Project “%(project)s” may use %(image)s from %(registry)s.")
        % {
            "project": project.slug,
            "image": _describe(reference),
            "registry": entry.name,
        },
        reference=reference,
        registry=entry,
        digest=digest,
        pull_reference=pull_reference(entry, reference, digest),
    )


def find_image(
    user,
    project: Project,
    entries: list[Registry],
    reference: ImageReference,
    *,
    live: bool,
) -> Lookup:
    """Look for the image in the index, then (when ``live``) ask each registry."""
    found = index_digest(user, project, entries, reference)
    if found is not None or not live:
        return found or Lookup()
    errors_seen: list[str] = []
    for entry in entries:
        try:
            digest = live_digest(entry, reference)
        except client_errors.NotFound:
            continue
        except client_errors.RegistryError as exc:
            errors_seen.append(f"{entry.name}: {exc.message}")
            continue
        return Lookup(digest=digest, registry=entry)
    return Lookup(error="; ".join(errors_seen))


def index_digest(
    user, project: Project, entries: list[Registry], reference: ImageReference
) -> Lookup | None:
    """Return where the index holds the tag (or digest), through the Library's door."""
    sources = sources_for_entries(entries)
    if not sources:
        return None
    visible = repositories_visible(user, project)
    for entry in entries:
        source = sources.get(entry.pk)
        if source is None:
            continue
        tags = Tag.objects.filter(
            repository__in=visible.filter(source=source, name=reference.repository)
        )
        if reference.digest:
            tags = tags.filter(digest=reference.digest)
        else:
            tags = tags.filter(name=reference.reference)
        digest = tags.values_list("digest", flat=True).first()
        if digest:
            return Lookup(digest=digest, registry=entry)
    return None


def live_digest(entry: Registry, reference: ImageReference) -> str:
    """Return the manifest digest the registry serves for ``reference`` (a HEAD)."""
    adapter = open_adapter(entry)
    try:
        return adapter.head_digest(reference.repository, reference.reference)
    finally:
        close = getattr(adapter, "close", None)
        if close is not None:
            close()


def _describe(reference: ImageReference) -> str:
    text = f"{reference.domain}/{reference.repository}"
    if reference.tag or not reference.digest:
        text += f":{reference.tag or 'latest'}"
    if reference.digest:
        text += f"@{reference.digest}"
    return text
