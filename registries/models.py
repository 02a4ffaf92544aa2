"""Registry entries: where images come from, and who may use them."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from registries import crypto
from registries.addresses import (
    ADDRESS_MAX_LENGTH,
    addresses_overlap,
    host_port,
    normalize_address,
    normalize_namespace,
)

DOCKER_HUB_ADDRESS = "https://registry.hub.docker.com"
# Every name Docker Hub's registry answers to; the entry may use any of them.
DOCKER_HUB_HOSTS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


def _new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class ApiVersion(models.TextChoices):
    V1 = "v1", "V1"
    V2 = "v2", "V2"


class Flavour(models.TextChoices):
    DISTRIBUTION = "distribution", _("Distribution registry")
    HARBOR = "harbor", "Harbor"
    ARTIFACTORY = "artifactory", "JFrog Artifactory"
    DOCKER_HUB = "dockerhub", "Docker Hub"
    UNKNOWN = "unknown", _("Unknown")


class VerifyStatus(models.TextChoices):
    UNKNOWN = "", _("Not verified")
    OK = "ok", _("Healthy")
    ERROR = "error", _("Failing")


class RegistryQuerySet(models.QuerySet):
    def global_entries(self):
        return self.filter(project__isnull=True)

    def enabled(self):
        return self.filter(enabled=True)


class Registry(models.Model):
    """One registry entry: an address, an optional namespace, and a scope.

    A global entry (no project) is available to every project; a project entry
    only to that project. The same address may be added several times with
    different namespaces, each entry a view limited to its namespace.
    """

    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(
        _("address"),
        max_length=ADDRESS_MAX_LENGTH,
        help_text=_(
            "For example registry.example.com or https://registry.example.com:5000. "
            "https:// is assumed when no scheme is given; default ports (443, 80) "
            "are dropped."
        ),
    )
    namespace = models.CharField(
        _("namespace"),
        max_length=255,
        blank=True,
        help_text=_(
            "Optional. Limit this entry to repositories under this path, e.g. "
            "team-a or team-a/sub. Add the registry again for another namespace."
        ),
    )
    project = models.ForeignKey(
        "portal.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="registries",
        help_text=_("Empty for a global entry that every project may use."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    username = models.CharField(_("username"), max_length=255, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    ca_pem = models.TextField(
        _("trusted certificate (PEM)"),
        blank=True,
        help_text=_(
            "A CA bundle or the registry's own certificate to trust in addition "
            "to the system CAs."
        ),
    )
    pinned_sha256 = models.CharField(
        _("pinned certificate SHA-256"), max_length=64, blank=True
    )
    allow_plain_http = models.BooleanField(
        _("allow plain HTTP"),
        default=False,
        help_text=_(
            "Needed for an http:// address. Traffic, including credentials, is "
            "not encrypted, and every Docker host must list this registry in "
            "--insecure-registry."
        ),
    )
    api_version = models.CharField(
        _("API version"), max_length=2, choices=ApiVersion.choices, blank=True
    )
    flavour = models.CharField(
        _("flavour"), max_length=20, choices=Flavour.choices, blank=True
    )
    is_builtin = models.BooleanField(default=False, editable=False)
    is_default = models.BooleanField(
        default=False,
        editable=False,
        help_text=_("Created by the portal (Docker Hub)."),
    )
    verify_status = models.CharField(
        max_length=10, choices=VerifyStatus.choices, blank=True, editable=False
    )
    verify_message = models.CharField(max_length=500, blank=True, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    crawl_interval_minutes = models.PositiveIntegerField(
        _("crawl every (minutes)"),
        default=60,
        help_text=_("How often the background crawler refreshes this registry."),
    )
    webhook_secret = models.CharField(
        max_length=64, default=_new_webhook_secret, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = RegistryQuerySet.as_manager()

    class Meta:
        ordering = ["name", "address", "namespace"]
        verbose_name_plural = "registries"
        constraints = [
            models.UniqueConstraint(
                fields=["address", "namespace"],
                condition=models.Q(project__isnull=True),
                name="registry_unique_global_address_namespace",
                violation_error_message=_(
                    "A global entry for this address and namespace already exists. "
                    "Use another namespace to add the registry again."
                ),
            ),
            models.UniqueConstraint(
                fields=["project", "address", "namespace"],
                condition=models.Q(project__isnull=False),
                name="registry_unique_project_address_namespace",
                violation_error_message=_(
                    "This project already has an entry for this address and "
                    "namespace. Use another namespace to add the registry again."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(allow_plain_http=True)
                | ~models.Q(address__startswith="http://"),
                name="registry_plain_http_opt_in",
                violation_error_message=_(
                    "An http:// address needs “Allow plain HTTP”."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("registry_edit", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        for field, normalise in (
            ("address", normalize_address),
            ("namespace", normalize_namespace),
        ):
            try:
                setattr(self, field, normalise(getattr(self, field)))
            except ValidationError as exc:
                errors[field] = exc
        if "address" not in errors and self.address.startswith("http://"):
            if not self.allow_plain_http:
                errors["allow_plain_http"] = ValidationError(
                    _(
                        "This is a plain-HTTP address. Tick “Allow plain HTTP” to "
                        "use it anyway, or use https://."
                    ),
                    code="plain_http",
                )
        if "address" not in errors and not self.is_builtin and self._on_builtin():
            errors["address"] = ValidationError(
                _(
                    "This is the built-in registry's address. Its images are "
                    "reached through the built-in entry, where each project uses "
                    "its own namespace; add another registry's address here."
                ),
                code="builtin_address",
            )
        if self.is_builtin and self.project_id is not None:
            errors["project"] = ValidationError(_("The built-in registry is global."))
        if errors:
            raise ValidationError(errors)

    def _on_builtin(self) -> bool:
        """Return whether a reference to this address could reach the built-in one.

        The built-in entry limits each project to its own namespace; another
        entry for its address would not.
        """
        builtin = Registry.objects.filter(is_builtin=True).exclude(pk=self.pk)
        return any(
            addresses_overlap(self.address, address)
            for address in builtin.values_list("address", flat=True)
        )

    @property
    def is_global(self) -> bool:
        return self.project_id is None

    @property
    def scope_label(self) -> str:
        return _("Global") if self.is_global else self.project.name

    @property
    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted)

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = crypto.encrypt(value)

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    @property
    def is_docker_hub(self) -> bool:
        """Return whether this entry is Docker Hub, under any of its names."""
        if self.flavour == Flavour.DOCKER_HUB:
            return True
        parts = urlsplit(self.address)
        return (
            parts.scheme == "https"
            and parts.port in (None, 443)
            and ((parts.hostname or "") in DOCKER_HUB_HOSTS)
        )

    @property
    def host(self) -> str:
        """Return ``host[:port]`` as written in pull references."""
        return host_port(self.address)

    def pull_reference(
        self, repository: str, tag: str = "latest", *, digest: str = ""
    ) -> str:
        """Return what ``docker pull`` needs for ``repository:tag`` from this entry.

        With ``digest`` the reference is pinned to it (``repository@digest``).
        """
        suffix = f"@{digest}" if digest else f":{tag}"
        if self.is_docker_hub:
            return repository.removeprefix("library/") + suffix
        return f"{self.host}/{repository}{suffix}"


# Robot accounts and access tokens of the built-in registry live in their own
# module; importing them here registers them with the registries app.
from registries.builtin.models import PersonalAccessToken, RobotAccount  # noqa: E402, F401
