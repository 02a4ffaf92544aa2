"""The search index of repositories and tags, and the crawls that fill it.

Registry entries never own index rows directly. Entries with the same address
and the same account share one :class:`CrawlSource`, crawled once; each entry
is a view onto that source limited to its namespace (see ``library.selectors``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CrawlSource(models.Model):
    """One registry address as one account sees it: the unit that is crawled.

    ``account_key`` is a keyed hash of username and password, so entries share a
    source (and its index) only when they use exactly the same credentials.
    """

    address = models.CharField(_("address"), max_length=255)
    username = models.CharField(_("username"), max_length=255, blank=True)
    account_key = models.CharField(max_length=64, editable=False)
    # Registries without a catalog (Docker Hub) are searched live, not crawled.
    live_only = models.BooleanField(default=False)
    latest_crawl = models.ForeignKey(
        "Crawl",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address", "username"]
        constraints = [
            models.UniqueConstraint(
                fields=["address", "account_key"],
                name="crawlsource_unique_address_account",
                violation_error_message=_(
                    "This address is already indexed for this account."
                ),
            ),
        ]

    def __str__(self) -> str:
        who = self.username or _("anonymous")
        return f"{self.address} ({who})"


class Repository(models.Model):
    """A repository found in a source, with what search ranks and shows."""

    source = models.ForeignKey(
        CrawlSource, on_delete=models.CASCADE, related_name="repositories"
    )
    name = models.CharField(_("name"), max_length=255)
    # The last path component, for "exact" and "prefix" ranking of e.g. "nginx".
    short_name = models.CharField(max_length=255)
    description = models.TextField(_("description"), blank=True)
    is_official = models.BooleanField(default=False)
    star_count = models.PositiveIntegerField(null=True, blank=True)
    pull_count = models.PositiveBigIntegerField(null=True, blank=True)
    tag_count = models.PositiveIntegerField(default=0)
    # What the pull command in search results names: latest, else the newest tag.
    default_tag = models.CharField(max_length=128, blank=True)
    # Name words, description and label values: what full-text search reads.
    search_text = models.TextField(blank=True)
    last_modified = models.DateTimeField(
        _("last updated"), null=True, blank=True, db_index=True
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # When the registry was read for what is stored: an older read never
    # overwrites a newer one (a crawl racing a notification).
    fetched_at = models.DateTimeField(default=timezone.now)
    seen_by_crawl = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "name"],
                name="repository_unique_source_name",
                violation_error_message=_(
                    "This repository is already indexed for this registry."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="repository_name_not_empty",
                violation_error_message=_("A repository needs a name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """One tag of a repository, resolved to its manifest and image details."""

    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="tags"
    )
    name = models.CharField(_("tag"), max_length=128)
    digest = models.CharField(_("digest"), max_length=135)
    media_type = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size"), null=True, blank=True)
    created = models.DateTimeField(_("created"), null=True, blank=True)
    # "os/arch[/variant]" per platform, as shown; os_arch without variants, to filter.
    platforms = models.JSONField(default=list, blank=True)
    os_arch = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "name"],
                name="tag_unique_repository_name",
                violation_error_message=_("This tag is already indexed."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.repository.name}:{self.name}"

    @property
    def short_digest(self) -> str:
        algorithm, _sep, hexpart = self.digest.partition(":")
        return f"{algorithm}:{hexpart[:12]}" if hexpart else self.digest


class CrawlStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    PARTIAL = "partial", _("Finished with errors")
    FAILED = "failed", _("Failed")


ACTIVE_STATUSES = (CrawlStatus.QUEUED, CrawlStatus.RUNNING)


class CrawlTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Crawl now")


class Crawl(models.Model):
    """One walk over a source: status, counts, timing, progress and error."""

    source = models.ForeignKey(
        CrawlSource, on_delete=models.CASCADE, related_name="crawls"
    )
    trigger = models.CharField(
        max_length=10, choices=CrawlTrigger.choices, default=CrawlTrigger.SCHEDULE
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=10, choices=CrawlStatus.choices, default=CrawlStatus.QUEUED
    )
    # Which worker runs it: a worker that lost the crawl to another stops writing.
    owner = models.CharField(max_length=36, blank=True, editable=False)
    attempt = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    catalog_done = models.BooleanField(default=False)
    repositories_found = models.PositiveIntegerField(default=0)
    repositories_done = models.PositiveIntegerField(default=0)
    repositories_changed = models.PositiveIntegerField(default=0)
    repositories_deleted = models.PositiveIntegerField(default=0)
    tags_found = models.PositiveIntegerField(default=0)
    tags_described = models.PositiveIntegerField(default=0)
    tags_deleted = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["source", "-created_at"], name="crawl_source_created_idx"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(status__in=["queued", "running"]),
                name="crawl_one_active_per_source",
                violation_error_message=_("This registry is already being crawled."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=CrawlStatus.values),
                name="crawl_status_valid",
                violation_error_message=_("Unknown crawl status."),
            ),
        ]

    def __str__(self) -> str:
        return f"Crawl {self.pk} of {self.source} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def percent(self) -> int:
        """Return progress 0-100; unknown until the catalog has been read."""
        if self.status not in ACTIVE_STATUSES:
            return 100
        if not self.repositories_found:
            return 0
        share = self.repositories_done / self.repositories_found
        # Until the catalog is complete the total still grows: stay below 50 %.
        return min(99 if self.catalog_done else 50, int(share * 100))

    @property
    def duration(self):
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return end - self.started_at


class NotificationEvent(models.Model):
    """A registry notification already accepted, so a redelivery is ignored."""

    source = models.ForeignKey(
        CrawlSource, on_delete=models.CASCADE, related_name="events"
    )
    event_id = models.CharField(max_length=100)
    action = models.CharField(max_length=20)
    repository = models.CharField(max_length=255, blank=True)
    tag = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=135, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_id"],
                name="notificationevent_unique_source_event",
                violation_error_message=_("This event was already received."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.repository}:{self.tag or self.digest}"


class PopularImage(models.Model):
    """An image suggested on the empty Library page, even without Docker Hub.

    A bundled list is loaded by a migration; portal admins edit it in the admin.
    """

    name = models.CharField(
        _("name"),
        max_length=255,
        unique=True,
        help_text=_("As pulled from Docker Hub, e.g. nginx or grafana/grafana."),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_official = models.BooleanField(_("official image"), default=False)
    position = models.PositiveIntegerField(_("position"), default=100)
    enabled = models.BooleanField(_("shown"), default=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(name=""),
                name="popularimage_name_not_empty",
                violation_error_message=_("A popular image needs a name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("library_repositories") + f"?q={self.name}"

    @property
    def hub_repository(self) -> str:
        """Return the repository path on Docker Hub (official images under library/)."""
        return self.name if "/" in self.name else f"library/{self.name}"

    @property
    def pull_command(self) -> str:
        return f"docker pull {self.name}"
