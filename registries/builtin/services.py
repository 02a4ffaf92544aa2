"""Every write of the built-in registry: robots, access tokens, its entry, deletes."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.keys import hash_secret, mint_secret
from portal.models import Project
from portal.services import audit_record, diff
from registries.addresses import normalize_address
from registries.builtin import keys, tokens
from registries.builtin.accounts import grants_for_user
from registries.builtin.models import (
    SYSTEM_ROBOT_NAME,
    PersonalAccessToken,
    RobotAccount,
    RobotScope,
)
from registries.builtin.remote import RegistryAPI, RemoteError
from registries.builtin.scopes import DELETE, PULL, REPOSITORY, Access
from registries.models import ApiVersion, Flavour, Registry

logger = logging.getLogger("portolan.builtin")

ROBOT_TOKEN_PREFIX = "plr_"
PERSONAL_TOKEN_PREFIX = "plp_"
# How many leading characters of a token are kept in clear to recognise it.
BUILTIN_NAME = "Built-in registry"


@dataclass(frozen=True)
class NewSecret:
    """A freshly created robot or token and its secret, never available again."""

    obj: RobotAccount | PersonalAccessToken
    secret: str


def _new_secret(prefix: str) -> tuple[str, str, str]:
    minted = mint_secret(prefix)
    return minted.secret, minted.hash, minted.shown


# -- robot accounts -------------------------------------------------------------------


@transaction.atomic
def robot_create(
    *,
    acting_user,
    project: Project,
    name: str,
    scope: str = RobotScope.PULL,
    expires_at: datetime | None = None,
    description: str = "",
) -> NewSecret:
    """Create a robot account of ``project`` and return it with its one-time token."""
    secret, token_hash, prefix = _new_secret(ROBOT_TOKEN_PREFIX)
    robot = RobotAccount(
        project=project,
        name=name.strip(),
        description=description.strip(),
        scope=scope,
        expires_at=expires_at,
        token_hash=token_hash,
        token_prefix=prefix,
        created_by=acting_user,
    )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("Choose an expiry in the future.")})
    robot.full_clean()
    robot.save()
    audit_record(
        actor=acting_user,
        action="robot.create",
        obj=robot,
        project=project,
        changes={
            "name": [None, robot.name],
            "scope": [None, robot.scope],
            "expires_at": [None, expires_at.isoformat() if expires_at else None],
        },
    )
    return NewSecret(obj=robot, secret=secret)


@transaction.atomic
def robot_revoke(*, acting_user, robot: RobotAccount) -> RobotAccount:
    """Revoke a robot's token at once; tokens it already holds expire within minutes."""
    if robot.revoked_at is None:
        robot.revoked_at = timezone.now()
        robot.revoked_by = acting_user
        robot.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=acting_user,
            action="robot.revoke",
            obj=robot,
            project=robot.project,
            changes={"revoked": [False, True]},
        )
    return robot


# -- personal access tokens -----------------------------------------------------------


@transaction.atomic
def personal_token_create(
    *, acting_user, user, name: str, scope: str, expires_at: datetime | None = None
) -> NewSecret:
    """Create a registry access token for ``user``; return it with its secret."""
    secret, token_hash, prefix = _new_secret(PERSONAL_TOKEN_PREFIX)
    token = PersonalAccessToken(
        user=user,
        name=name.strip(),
        scope=scope,
        expires_at=expires_at,
        token_hash=token_hash,
        token_prefix=prefix,
    )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("Choose an expiry in the future.")})
    token.full_clean()
    token.save()
    audit_record(
        actor=acting_user,
        action="registry_token.create",
        obj=token,
        changes={"name": [None, token.name], "scope": [None, token.scope]},
    )
    return NewSecret(obj=token, secret=secret)


@transaction.atomic
def personal_token_revoke(*, acting_user, token: PersonalAccessToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=acting_user,
            action="registry_token.revoke",
            obj=token,
            changes={"revoked": [False, True]},
        )


# -- the registry entry ---------------------------------------------------------------


def builtin_address() -> str:
    """Return the built-in registry's normalised https:// address."""
    raw = settings.BUILTIN_REGISTRY_ADDRESS
    address = normalize_address(raw)
    parts = urlsplit(address)
    if parts.scheme != "https" or parts.path:
        raise ValidationError(
            _("BUILTIN_REGISTRY_ADDRESS must be host[:port], served over HTTPS."),
            code="builtin_address",
        )
    return address


def builtin_host() -> str:
    """Return the bare host name or IP address of the built-in registry."""
    return urlsplit(builtin_address()).hostname or ""


def builtin_port() -> int:
    return urlsplit(builtin_address()).port or 443


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain_loopback_realm() -> bool:
    parts = urlsplit(settings.PORTAL_URL)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def trust_pem() -> str:
    """Return the CA certificate clients need to trust the registry ("" if public)."""
    if settings.BUILTIN_REGISTRY_TLS_CERT:
        ca = settings.BUILTIN_REGISTRY_TLS_CA
        return Path(ca).read_text() if ca else ""
    return keys.portal_ca().certificate_pem


def _crawler_credentials(registry: Registry | None) -> tuple[RobotAccount, str, bool]:
    """Return the crawler robot, its token and whether the stored one still works."""
    active = RobotAccount.objects.active().filter(
        project__isnull=True, name=SYSTEM_ROBOT_NAME
    )
    if registry is not None and registry.has_password:
        try:
            stored = registry.password
        except ValueError:  # encrypted with a key no longer configured
            stored = ""
        robot = (
            active.filter(token_hash=hash_secret(stored)).first() if stored else None
        )
        if robot is not None:
            return robot, stored, True
    for robot in active:
        robot.revoked_at = timezone.now()
        robot.save(update_fields=["revoked_at"])
    secret, token_hash, prefix = _new_secret(ROBOT_TOKEN_PREFIX)
    robot = RobotAccount(
        project=None,
        name=SYSTEM_ROBOT_NAME,
        description="The portal's crawler.",
        scope=RobotScope.PULL,
        token_hash=token_hash,
        token_prefix=prefix,
    )
    robot.full_clean()
    robot.save()
    return robot, secret, False


def _snapshot(registry: Registry) -> dict:
    return {
        "address": registry.address,
        "username": registry.username,
        "ca_pem": "set" if registry.ca_pem else "",
        "enabled": registry.enabled,
        "allow_plain_http": registry.allow_plain_http,
    }


@transaction.atomic
def builtin_registry_sync(*, acting_user=None) -> Registry:
    """Create or update the global, built-in entry and its crawler robot.

    It is crawled as the portal's own robot, with the portal's CA (or the
    operator's) as its trust.
    """
    registry = Registry.objects.select_for_update().filter(is_builtin=True).first()
    address = builtin_address()
    created = registry is None
    if created:
        registry = Registry(
            name=BUILTIN_NAME,
            project=None,
            is_builtin=True,
            created_by=acting_user,
        )
        before: dict = {}
    else:
        before = _snapshot(registry)
    robot, secret, reused = _crawler_credentials(None if created else registry)
    registry.address = address
    registry.namespace = ""
    # The registry itself is always HTTPS; this only lets the crawler fetch its
    # tokens from a portal served over plain HTTP on this machine (make run).
    registry.allow_plain_http = _plain_loopback_realm()
    registry.flavour = Flavour.DISTRIBUTION
    registry.api_version = ApiVersion.V2
    registry.username = robot.username
    if not reused:
        registry.password = secret
    registry.ca_pem = trust_pem()
    registry.pinned_sha256 = ""
    registry.updated_by = acting_user
    registry.full_clean()
    registry.save()
    changes = diff(before, _snapshot(registry))
    if created or changes:
        audit_record(
            actor=acting_user,
            action="registry.create" if created else "registry.update",
            obj=registry,
            changes=changes,
        )
    return registry


def builtin_registry() -> Registry | None:
    return Registry.objects.filter(is_builtin=True).first()


# -- deletes --------------------------------------------------------------------------


class BuiltinRegistryError(Exception):
    """A delete the registry refused or could not do; ``message`` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _api() -> RegistryAPI:
    if settings.BUILTIN_REGISTRY_TLS_CERT:
        verify: str | bool = settings.BUILTIN_REGISTRY_TLS_CA or True
    else:
        keys.portal_ca()
        verify = str(keys.pki_dir() / "ca.crt")
    return RegistryAPI(
        builtin_address(), verify=verify, timeout=settings.REGISTRY_READ_TIMEOUT
    )


def _delete_token(acting_user, repository: str) -> str:
    if DELETE not in grants_for_user(acting_user).actions_for(repository):
        raise PermissionDenied(_("You may not delete from this repository."))
    access = [Access(REPOSITORY, repository, (PULL, DELETE))]
    return tokens.issue(acting_user.get_username(), access).token


def _project_of(repository: str) -> Project | None:
    return Project.objects.filter(slug=repository.partition("/")[0]).first()


def _audit_delete(acting_user, action: str, repository: str, changes: dict) -> None:
    with transaction.atomic():
        audit_record(
            actor=acting_user,
            action=action,
            obj=builtin_registry() or Registry(name=BUILTIN_NAME),
            project=_project_of(repository),
            changes=changes,
        )


def builtin_tag_delete(*, acting_user, repository: str, tag: str) -> str:
    """Delete ``tag`` (and every tag on the same digest); return the digest.

    The attempt is audited before the registry is asked to delete, so the trail
    holds it even if this process dies before the answer, and a refusal is
    audited as such. No transaction is held open across a network call. The
    index follows through the registry's delete notifications (the Library's
    webhook), which may arrive before this function returns.
    """
    token = _delete_token(acting_user, repository)
    api = _api()
    try:
        digest = api.digest(repository, tag, token)
    except RemoteError as exc:
        raise BuiltinRegistryError(exc.message) from exc
    image = f"{repository}:{tag}@{digest}"
    _audit_delete(
        acting_user, "builtin.tag_delete", repository, {"image": [image, None]}
    )
    try:
        api.delete_manifest(repository, digest, token)
    except RemoteError as exc:
        _audit_delete(
            acting_user,
            "builtin.delete_failed",
            repository,
            {"image": [image, image], "error": [None, exc.message]},
        )
        raise BuiltinRegistryError(exc.message) from exc
    logger.info("deleted %s for %s", image, acting_user)
    return digest


def builtin_repository_delete(*, acting_user, repository: str) -> list[str]:
    """Delete every tagged manifest of ``repository``; return the deleted tags.

    Audited like ``builtin_tag_delete``: the attempt first, a refusal after.
    """
    token = _delete_token(acting_user, repository)
    api = _api()
    try:
        tags = api.tags(repository, token)
        by_digest: dict[str, list[str]] = {}
        for tag in tags:
            by_digest.setdefault(api.digest(repository, tag, token), []).append(tag)
    except RemoteError as exc:
        raise BuiltinRegistryError(exc.message) from exc
    _audit_delete(
        acting_user,
        "builtin.repository_delete",
        repository,
        {"repository": [repository, None], "tags": [tags, None]},
    )
    try:
        for digest in by_digest:
            api.delete_manifest(repository, digest, token)
    except RemoteError as exc:
        _audit_delete(
            acting_user,
            "builtin.delete_failed",
            repository,
            {"repository": [repository, repository], "error": [None, exc.message]},
        )
        raise BuiltinRegistryError(exc.message) from exc
    logger.info(
        "deleted repository %s (%d tags) for %s", repository, len(tags), acting_user
    )
    return tags
