"""Projects, their members and the audit log."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from registries.addresses import PATH_COMPONENT

# The slug is the project's namespace in the built-in registry (``<slug>/app``),
# so it must be a repository path component as well as a URL slug.
project_slug_validator = RegexValidator(
    PATH_COMPONENT,
    _(
        "Use lower-case letters and digits, separated by - or _ (not at the "
        "start or end): the slug is the project's namespace in the built-in "
        "registry, where names are lower case."
    ),
    code="invalid_slug",
)


class Project(models.Model):
    """A team that may use some registries; its members share them."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(
        _("slug"),
        max_length=63,
        unique=True,
        validators=[project_slug_validator],
        help_text=_(
            "Short lower-case name used in URLs and as the built-in registry "
            "namespace. It cannot be changed once the project exists."
        ),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_registries", args=[self.slug])


class Role(models.TextChoices):
    ADMIN = "admin", _("Project admin")
    MEMBER = "member", _("Member")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    """A user's role in one project."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"],
                name="membership_unique_user_per_project",
                violation_error_message=_("This user is already a member."),
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.get_role_display()})"


class AuditEntry(models.Model):
    """One change made by someone, with before/after values and never a secret."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied on write: the project's history stays findable after it is deleted.
    project_slug = models.CharField(max_length=63, blank=True, db_index=True)
    project_name = models.CharField(max_length=100, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        when = f"{self.at:%Y-%m-%d %H:%M}"
        return f"{when} {self.actor_name} {self.action} {self.object_repr}"

    def change_rows(self) -> list[tuple[str, str | None, str | None]]:
        """Return ``(field, before, after)`` with lists joined, for people to read."""

        def text(value):
            if isinstance(value, list):
                return "; ".join(str(item) for item in value) or None
            return value

        return [
            (field, text(values[0]), text(values[1]))
            if isinstance(values, list) and len(values) == 2
            else (field, None, text(values))
            for field, values in self.changes.items()
        ]


class ApiToken(models.Model):
    """A personal key for scripts calling the REST API as its user.

    Only a SHA-256 hash of the key is stored: the key itself is shown once, when
    it is created. The prefix (the key's first characters) lets people tell
    their tokens apart without revealing them. The keys are 256-bit random
    strings, so a fast hash is enough; a slow password hash would only cost
    time on every request.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at", "-id"]
        verbose_name = "API token"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                name="apitoken_unique_name_per_user",
                violation_error_message=_("You already have a token with this name."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="apitoken_name_not_empty",
                violation_error_message=_("Give the token a name."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
