"""Every write to registry entries: validated, atomic and audited."""

from __future__ import annotations

import copy
import dataclasses

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.models import Project
from portal.services import audit_record, diff
from registries import connect
from registries.addresses import normalize_address
from registries.clients.tls import normalise_fingerprint
from registries.models import Registry, VerifyStatus

# Fields whose changes are written to the audit log; secrets appear only as
# "set" / "" so the log never holds them.
_AUDITED = (
    "name",
    "address",
    "namespace",
    "enabled",
    "username",
    "allow_plain_http",
    "pinned_sha256",
    "crawl_interval_minutes",
)
EDITABLE_FIELDS = frozenset(_AUDITED + ("ca_pem",))


BUILTIN_MANAGED = gettext_lazy(
    "The built-in registry is configured with “manage.py builtin_registry config”; "
    "here it can only be enabled or disabled."
)


def _refuse_builtin(registry: Registry) -> None:
    if registry.is_builtin:
        raise ValidationError(BUILTIN_MANAGED, code="builtin")


def _snapshot(registry: Registry) -> dict:
    data = {field: getattr(registry, field) for field in _AUDITED}
    data["scope"] = registry.project.slug if registry.project_id else "global"
    data["password"] = "set" if registry.has_password else ""
    data["ca_pem"] = "set" if registry.ca_pem else ""
    return data


def password_needed_again(registry: Registry, address: str, password: str) -> bool:
    """Return whether a stored secret would follow the entry to a new address.

    Someone allowed to edit an entry must not be able to send its stored
    password to a server of their choosing without knowing it: a changed
    address needs the password typed again.
    """
    if password or not registry.pk or not registry.has_password:
        return False
    try:
        return normalize_address(address) != registry.address
    except ValidationError:
        return False  # the address itself gets the error message


def password_needed_error() -> ValidationError:
    message = _(
        "Enter the password again: the address changed, and the stored "
        "password is only sent to the address it was saved for."
    )
    return ValidationError(
        {"password": ValidationError(message, code="password_needed")}
    )


def username_needed_error() -> ValidationError:
    message = _(
        "Enter the username that goes with the password or access token: "
        "registries are only sent a secret together with its username."
    )
    return ValidationError(
        {"username": ValidationError(message, code="username_needed")}
    )


def _filled(snapshot: dict) -> dict:
    """Drop empty text fields: a new or deleted entry's log lists what it had."""
    return {field: value for field, value in snapshot.items() if value != ""}


def _connection(registry: Registry) -> tuple:
    return (
        registry.address,
        registry.username,
        registry.ca_pem,
        registry.pinned_sha256,
        registry.allow_plain_http,
    )


@transaction.atomic
def registry_create(
    *,
    acting_user,
    project: Project | None = None,
    password: str = "",
    **fields,
) -> Registry:
    """Create an entry (global when ``project`` is None) and audit it."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"Unknown registry fields: {sorted(unknown)}")
    registry = Registry(project=project, created_by=acting_user, updated_by=acting_user)
    for field, value in fields.items():
        setattr(registry, field, value)
    if password and not registry.username:
        raise username_needed_error()
    registry.password = password
    registry.full_clean()
    registry.save()
    audit_record(
        actor=acting_user,
        action="registry.create",
        obj=registry,
        project=project,
        changes=diff({}, _filled(_snapshot(registry))),
    )
    return registry


@transaction.atomic
def registry_update(
    *, acting_user, registry: Registry, password: str | None = None, **fields
) -> Registry:
    """Change an entry; ``password=None`` (an empty form field) keeps the old one.

    Clearing the username removes the credentials, stored secret included; an
    edit that leaves the username as it was never drops the secret.
    """
    _refuse_builtin(registry)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"Unknown registry fields: {sorted(unknown)}")
    new_username = fields.get("username", registry.username)
    if password and not new_username:
        raise username_needed_error()
    clears_username = bool(registry.username) and not new_username
    if new_username and password_needed_again(
        registry, fields.get("address", registry.address), password or ""
    ):
        raise password_needed_error()
    before = _snapshot(registry)
    connection_before = _connection(registry)
    for field, value in fields.items():
        setattr(registry, field, value)
    if password:
        registry.password = password
    elif clears_username:
        # Without a username the stored secret could never be used: removing
        # the username removes the credentials.
        registry.password = ""
    registry.updated_by = acting_user
    registry.full_clean()  # normalises the address before the comparison below
    if password or _connection(registry) != connection_before:
        # The last Verify said nothing about the new settings.
        registry.verify_status = VerifyStatus.UNKNOWN
        registry.verify_message = ""
    registry.save()
    changes = diff(before, _snapshot(registry))
    if password and "password" not in changes:
        changes["password"] = ["set", "changed"]
    audit_record(
        actor=acting_user,
        action="registry.update",
        obj=registry,
        project=registry.project,
        changes=changes,
    )
    return registry


@transaction.atomic
def registry_set_enabled(*, acting_user, registry: Registry, enabled: bool) -> Registry:
    if registry.enabled != enabled:
        registry.enabled = enabled
        registry.updated_by = acting_user
        registry.save(update_fields=["enabled", "updated_by", "updated_at"])
        audit_record(
            actor=acting_user,
            action="registry.enable" if enabled else "registry.disable",
            obj=registry,
            project=registry.project,
            changes={"enabled": [not enabled, enabled]},
        )
    return registry


@transaction.atomic
def registry_delete(*, acting_user, registry: Registry) -> None:
    _refuse_builtin(registry)
    audit_record(
        actor=acting_user,
        action="registry.delete",
        obj=registry,
        project=registry.project,
        changes=diff(_filled(_snapshot(registry)), {}),
    )
    registry.delete()


@transaction.atomic
def registry_trust_certificate(
    *, acting_user, registry: Registry, pem: str, sha256: str
) -> Registry:
    """Trust the certificate the admin was shown for this entry (trust on first use)."""
    _refuse_builtin(registry)
    before = _snapshot(registry)
    # Added to what the admin trusted before, never replacing it.
    kept, new = registry.ca_pem.strip(), pem.strip()
    registry.ca_pem = (
        f"{kept}\n{new}" if kept and new not in kept else kept or new
    ) + "\n"
    registry.pinned_sha256 = ""
    registry.updated_by = acting_user
    registry.full_clean()
    registry.save()
    changes = diff(before, _snapshot(registry))
    changes["trusted_certificate_sha256"] = [None, sha256]
    audit_record(
        actor=acting_user,
        action="registry.trust_certificate",
        obj=registry,
        project=registry.project,
        changes=changes,
    )
    return registry


def registry_record_verification(
    *, registry: Registry, ok: bool, message: str, api_version="", flavour=""
) -> Registry:
    """Store the outcome of the latest Verify (not audited: it is a reading)."""
    registry.verify_status = VerifyStatus.OK if ok else VerifyStatus.ERROR
    registry.verify_message = message[:500]
    registry.verified_at = timezone.now()
    update = ["verify_status", "verify_message", "verified_at"]
    if ok:
        registry.api_version = api_version or registry.api_version
        registry.flavour = flavour or registry.flavour
        update += ["api_version", "flavour"]
    Registry.objects.filter(pk=registry.pk).update(
        **{field: getattr(registry, field) for field in update}
    )
    return registry


# The one TLS failure that trusting the presented certificate can fix.
_UNTRUSTED = "tls_untrusted"


def verify_explained(registry: Registry) -> connect.VerifyOutcome:
    """Probe ``registry`` (saved or not) and record nothing.

    An untrusted certificate that trusting would not fix (expired, or for
    another name) is reported as that problem, so trust is not offered.
    """
    outcome = connect.verify(registry)
    if outcome.code == _UNTRUSTED and outcome.certificate is not None:
        trusting = _verify_trusting(registry, outcome.certificate)
        refusal = _trust_would_not_help(trusting)
        if refusal:
            outcome = dataclasses.replace(
                outcome, code=trusting.code, message=refusal, retryable=False
            )
    return outcome


def registry_verify(*, registry: Registry) -> connect.VerifyOutcome:
    """Probe the entry now (see :func:`verify_explained`) and record its health."""
    outcome = verify_explained(registry)
    registry_record_verification(
        registry=registry,
        ok=outcome.ok,
        message=outcome.message,
        api_version=outcome.api_version,
        flavour=outcome.flavour,
    )
    return outcome


def _verify_trusting(registry: Registry, certificate) -> connect.VerifyOutcome:
    """Verify the entry as if ``certificate`` were its trust, saving nothing."""
    candidate = copy.copy(registry)
    candidate.ca_pem = certificate.pem
    candidate.pinned_sha256 = ""
    return connect.verify(candidate)


def _trust_would_not_help(outcome: connect.VerifyOutcome) -> str:
    """Return why trusting the certificate cannot fix ``outcome``, or ``""``."""
    if outcome.code == "tls_hostname_mismatch":
        names = (
            ", ".join(name.partition(":")[2] for name in outcome.certificate.sans)
            if outcome.certificate
            else ""
        )
        return _(
            "%(problem)s Trusting it would not help: use the name the certificate "
            "is issued for (%(names)s) in the address, or have the registry's "
            "certificate issued for this name."
        ) % {"problem": outcome.message, "names": names or _("none")}
    if outcome.code == "tls_expired":
        return _(
            "%(problem)s Trusting it would not help: the registry needs a "
            "certificate that is valid today."
        ) % {"problem": outcome.message}
    if outcome.certificate is not None and outcome.code != _UNTRUSTED:
        return _("Trusting the certificate would not help: %(problem)s") % {
            "problem": outcome.message
        }
    return ""


class TrustRefused(ValidationError):
    """Nothing was trusted; ``outcome`` is what the registry presents now."""

    def __init__(self, message: str, *, outcome: connect.VerifyOutcome) -> None:
        super().__init__({"sha256": [message]}, code="trust_refused")
        self.outcome = outcome


def registry_trust_presented_certificate(
    *, acting_user, registry: Registry, approved_sha256: str
) -> connect.VerifyOutcome:
    """Trust the certificate the registry presents now if it is the approved one.

    The certificate is fetched again from the server, never taken from the
    request, and stored only if its fingerprint equals what the admin approved
    and only if trusting it fixes the connection: an expired certificate or one
    for another name stays refused. Raises ``TrustRefused`` otherwise.
    """
    _refuse_builtin(registry)
    outcome = connect.verify(registry)
    certificate = outcome.certificate
    if certificate is None:
        raise TrustRefused(
            _("The registry presents no certificate to trust: %(message)s")
            % {"message": outcome.message},
            outcome=outcome,
        )
    refusal = _trust_would_not_help(outcome)
    if refusal:
        raise TrustRefused(refusal, outcome=outcome)
    seen = normalise_fingerprint(certificate.sha256_fingerprint)
    if not approved_sha256 or seen != normalise_fingerprint(approved_sha256):
        raise TrustRefused(
            _(
                "The registry's certificate changed since you looked at it: it is "
                "not the one you approved (it now has SHA-256 %(seen)s). Verify "
                "again before trusting it."
            )
            % {"seen": certificate.sha256_fingerprint},
            outcome=outcome,
        )
    trusting = _verify_trusting(registry, certificate)
    refusal = _trust_would_not_help(trusting)
    if refusal:
        raise TrustRefused(refusal, outcome=trusting)
    registry_trust_certificate(
        acting_user=acting_user,
        registry=registry,
        pem=certificate.pem,
        sha256=certificate.sha256_fingerprint,
    )
    return registry_verify(registry=registry)
