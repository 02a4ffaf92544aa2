"""Robot accounts and personal access tokens for the built-in registry.

Only a SHA-256 hash of each token is stored: the token is shown once, when it
is created. Tokens are 256-bit random strings, so a fast hash is enough.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ROBOT_PREFIX = "robot$"
# The portal's own robot, which crawls the built-in registry.
SYSTEM_ROBOT_NAME = "portolan-crawler"

robot_name_validator = RegexValidator(
    r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
    _("Use lower-case letters and digits, separated by single - or _."),
    code="robot_name",
)


class RobotScope(models.TextChoices):
    PULL = "pull", _("Pull")
    PUSH = "pull,push", _("Pull and push")


class TokenScope(models.TextChoices):
    PULL = "pull", _("Pull")
    PUSH = "pull,push", _("Pull and push")
    DELETE = "pull,push,delete", _("Everything my roles allow")


class TokenQuerySet(models.QuerySet):
    def active(self):
        """Return the tokens that are neither revoked nor expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class RobotAccount(models.Model):
    """A non-human account of one project (CI systems), with one token.

    It signs in to the built-in registry as ``robot$<project>+<name>``; the ``$``
    cannot appear in portal usernames, so the two never collide. The account
    with no project is the portal's own crawler.
    """

    project = models.ForeignKey(
        "portal.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="robot_accounts",
    )
    name = models.CharField(_("name"), max_length=40, validators=[robot_name_validator])
    description = models.CharField(_("description"), max_length=200, blank=True)
    scope = models.CharField(
        _("access"), max_length=20, choices=RobotScope.choices, default=RobotScope.PULL
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["project__name", "name", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(revoked_at__isnull=True, project__isnull=False),
                name="robot_unique_active_name_per_project",
                violation_error_message=_(
                    "This project already has a robot account with this name."
                ),
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(revoked_at__isnull=True, project__isnull=True),
                name="robot_unique_active_system_name",
                violation_error_message=_("This portal robot already exists."),
            ),
            models.CheckConstraint(
                condition=models.Q(scope__in=RobotScope.values),
                name="robot_scope_valid",
                violation_error_message=_("Choose pull, or pull and push."),
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def username(self) -> str:
        if self.project_id is None:
            return f"{ROBOT_PREFIX}{self.name}"
        return f"{ROBOT_PREFIX}{self.project.slug}+{self.name}"

    @property
    def is_system(self) -> bool:
        return self.project_id is None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired


class PersonalAccessToken(models.Model):
    """A token a person uses instead of their password with docker login.

    It acts as its user, bounded by its scope: a pull-only token never pushes,
    whatever the user's role.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="registry_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(
        _("access"), max_length=20, choices=TokenScope.choices, default=TokenScope.PULL
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["user", "-created_at", "-id"]
        verbose_name = "registry access token"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="registrytoken_unique_active_name_per_user",
                violation_error_message=_("You already have a token with this name."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="registrytoken_name_not_empty",
                violation_error_message=_("Give the token a name."),
            ),
            models.CheckConstraint(
                condition=models.Q(scope__in=TokenScope.values),
                name="registrytoken_scope_valid",
                violation_error_message=_("Choose a valid access level."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired
