"""What the API reads and writes; the rules themselves stay in models and services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from library.models import CrawlStatus, CrawlTrigger
from library.selectors import crawl_states
from portal import access
from portal.models import Role
from portal.selectors import is_portal_admin, role_in_project
from registries import forms as registry_forms
from registries.models import ApiVersion, Flavour, VerifyStatus
from registries.selectors import can_write_registry

# Generous bounds that still keep a request from filling the database.
MAX_PEM_CHARS = 100_000
MAX_SECRET_CHARS = 4_096
MAX_INTERVAL_MINUTES = 2_147_483_647


class StrictCharField(serializers.CharField):
    """Text, and only text: a number or a boolean is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSlugField(StrictCharField, serializers.SlugField):
    """A slug given as text."""


class StrictIntegerField(serializers.IntegerField):
    """A JSON number without a fraction; "5" and true are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false; "yes" and 1 are refused."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ProjectSerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    role = serializers.SerializerMethodField(
        help_text="Your role in the project (portal admins act as project admins)."
    )

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, project) -> str | None:
        return role_in_project(self.context["request"].user, project)


class ProjectCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    slug = StrictSlugField(
        max_length=63,
        required=False,
        allow_blank=True,
        help_text="Leave out to derive it from the name.",
    )
    description = StrictCharField(max_length=300, required=False, allow_blank=True)

    def validate(self, attrs):
        attrs["slug"] = attrs.get("slug") or slugify(attrs["name"])[:63].strip("-")
        if not attrs["slug"]:
            raise serializers.ValidationError(
                {"slug": [_("Enter a slug of letters, digits and dashes.")]}
            )
        attrs.setdefault("description", "")
        return attrs


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_portal_admin = serializers.BooleanField()
    projects = ProjectSerializer(many=True)


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.get_username", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MemberAddSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class CrawlCountersSerializer(serializers.Serializer):
    repositories_found = serializers.IntegerField()
    repositories_done = serializers.IntegerField()
    repositories_changed = serializers.IntegerField()
    repositories_deleted = serializers.IntegerField()
    tags_found = serializers.IntegerField()
    tags_described = serializers.IntegerField()
    tags_deleted = serializers.IntegerField()
    errors = serializers.IntegerField()


class CrawlSerializer(serializers.Serializer):
    """One crawl; its counters cover the whole registry, so namespaces get none."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CrawlStatus.choices)
    trigger = serializers.ChoiceField(choices=CrawlTrigger.choices)
    percent = serializers.IntegerField(help_text="Progress, 0 to 100.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.SerializerMethodField()
    error_code = serializers.CharField()
    error_message = serializers.SerializerMethodField(
        help_text="Empty unless the whole source is yours: it may name any repository."
    )
    counters = serializers.SerializerMethodField()

    def get_duration_seconds(self, crawl) -> float | None:
        duration = crawl.duration
        return round(duration.total_seconds(), 3) if duration is not None else None

    def get_error_message(self, crawl) -> str:
        if not self.context.get("show_errors", self.context.get("show_counters")):
            return ""
        return crawl.error_message

    @extend_schema_field(CrawlCountersSerializer(allow_null=True))
    def get_counters(self, crawl):
        if not self.context.get("show_counters", False):
            return None
        return CrawlCountersSerializer(crawl).data


class RegistrySerializer(serializers.Serializer):
    """A registry entry as its readers see it; connection details for its writers."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    address = serializers.CharField(read_only=True)
    host = serializers.CharField(read_only=True)
    namespace = serializers.CharField(read_only=True)
    project = serializers.CharField(
        source="project.slug", read_only=True, allow_null=True
    )
    enabled = serializers.BooleanField(read_only=True)
    allow_plain_http = serializers.BooleanField(read_only=True)
    api_version = serializers.ChoiceField(
        choices=[("", "")] + ApiVersion.choices, read_only=True
    )
    flavour = serializers.ChoiceField(
        choices=[("", "")] + Flavour.choices, read_only=True
    )
    is_builtin = serializers.BooleanField(read_only=True)
    is_default = serializers.BooleanField(read_only=True)
    verify_status = serializers.ChoiceField(
        choices=VerifyStatus.choices, read_only=True
    )
    verify_message = serializers.CharField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    crawl_interval_minutes = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    writable = serializers.SerializerMethodField(
        help_text="Whether you may change this entry."
    )
    connection = serializers.SerializerMethodField(
        help_text="Credentials and trust settings; only for those who may change it."
    )
    crawl = serializers.SerializerMethodField(
        help_text="The latest crawl of the index this entry reads, if any."
    )

    def _writable(self, registry) -> bool:
        cache = self.context.setdefault("_writable", {})
        if registry.pk not in cache:
            cache[registry.pk] = can_write_registry(
                self.context["request"].user, registry
            )
        return cache[registry.pk]

    def get_writable(self, registry) -> bool:
        return self._writable(registry)

    @extend_schema_field(CrawlSerializer(allow_null=True))
    def get_crawl(self, registry):
        # List views pass every row's crawl in one go; a single entry asks here.
        states = self.context.get("crawls")
        if states is None:
            states = crawl_states([registry])
        crawl = states.get(registry.pk)
        if crawl is None:
            return None
        # A crawl counts its whole source: not for namespaced or built-in entries.
        whole = not registry.namespace and not registry.is_builtin
        context = {
            "show_counters": whole,
            # Error messages may name any repository of the source.
            "show_errors": whole or self._writable(registry),
        }
        return CrawlSerializer(crawl, context=context).data

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "username": {"type": "string"},
                "has_password": {"type": "boolean"},
                "ca_pem": {"type": "string"},
                "pinned_sha256": {"type": "string"},
            },
            "required": ["username", "has_password", "ca_pem", "pinned_sha256"],
        }
    )
    def get_connection(self, registry):
        if not self._writable(registry):
            return None
        return {
            "username": registry.username,
            "has_password": registry.has_password,
            "ca_pem": registry.ca_pem,
            "pinned_sha256": registry.pinned_sha256,
        }


class RegistryWriteSerializer(serializers.Serializer):
    """The fields of the registry form; the model validates and normalises them."""

    name = StrictCharField(max_length=100)
    address = StrictCharField(
        max_length=255,
        help_text="e.g. registry.example.com or https://registry.example.com:5000",
    )
    namespace = StrictCharField(max_length=255, required=False, allow_blank=True)
    username = StrictCharField(max_length=255, required=False, allow_blank=True)
    password = StrictCharField(
        max_length=MAX_SECRET_CHARS,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        help_text="Leave out or empty to keep the stored one.",
    )
    ca_pem = StrictCharField(max_length=MAX_PEM_CHARS, required=False, allow_blank=True)
    allow_plain_http = StrictBooleanField(required=False)
    enabled = StrictBooleanField(required=False)
    crawl_interval_minutes = StrictIntegerField(
        min_value=1, max_value=MAX_INTERVAL_MINUTES, required=False
    )

    def validate_ca_pem(self, value: str) -> str:
        # The page form's check, so both refuse what no TLS client could trust.
        try:
            return registry_forms.validate_ca_pem(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def service_fields(self) -> tuple[dict, str | None]:
        """Return the entry fields for the service, and the password if given."""
        data = dict(self.validated_data)
        password = data.pop("password", None) or None
        return data, password


class CertificateSerializer(serializers.Serializer):
    subject = serializers.CharField()
    issuer = serializers.CharField()
    sans = serializers.ListField(child=serializers.CharField())
    sha256_fingerprint = serializers.CharField()
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    self_signed = serializers.BooleanField()
    pem = serializers.CharField()


class VerifyOutcomeSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    code = serializers.CharField()
    api_version = serializers.CharField()
    flavour = serializers.CharField()
    retryable = serializers.BooleanField()
    certificate = CertificateSerializer(
        allow_null=True,
        help_text="The certificate the registry presented, when it is not trusted.",
    )


class TrustSerializer(serializers.Serializer):
    sha256 = StrictCharField(
        max_length=200,
        help_text="Fingerprint of the certificate you were shown by Verify.",
    )


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_name")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    object_repr = serializers.CharField()
    project = serializers.SerializerMethodField(
        help_text="Slug of the project the change belongs to (kept after a delete)."
    )
    changes = serializers.DictField(child=serializers.JSONField())

    def get_project(self, entry) -> str | None:
        return entry.project_slug or None


class AccessCheckRequestSerializer(serializers.Serializer):
    project = StrictSlugField(max_length=63, help_text="The project's slug.")
    image = StrictCharField(
        max_length=1024,
        help_text="An image reference as docker pull takes it, e.g. nginx:1.27, "
        "registry.example.com:5000/team-a/app@sha256:…",
    )
    require_exists = StrictBooleanField(
        default=True,
        help_text="Refuse images found neither in the index nor in the registry.",
    )


class RegistryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    namespace = serializers.CharField()
    project = serializers.CharField(
        source="project.slug", read_only=True, allow_null=True
    )


class AccessCheckResponseSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    code = serializers.ChoiceField(choices=access.Code.choices)
    reason = serializers.CharField()
    registry = serializers.CharField(
        help_text="The registry host the reference names (docker.io for Docker Hub)."
    )
    repository = serializers.CharField()
    tag = serializers.CharField(allow_null=True)
    digest = serializers.CharField(allow_null=True)
    pull_reference = serializers.CharField(
        allow_null=True, help_text="host/repository@digest, to pull what was checked."
    )
    registry_entry = RegistryRefSerializer(allow_null=True)


def me_data(user, projects) -> dict:
    return {
        "username": user.get_username(),
        "is_portal_admin": is_portal_admin(user),
        "projects": projects,
    }


# -- the Library: crawls, search, repositories and tags --------------------------------


class WebhookSerializer(serializers.Serializer):
    url = serializers.CharField()
    secret = serializers.CharField()


class CrawlOverviewSerializer(serializers.Serializer):
    registry = serializers.IntegerField(source="registry.pk")
    live = serializers.BooleanField(
        help_text="Searched live (no catalog, e.g. Docker Hub): never crawled."
    )
    repositories = serializers.IntegerField(help_text="Indexed in this namespace.")
    tags = serializers.IntegerField(help_text="Indexed in this namespace.")
    latest = CrawlSerializer(source="crawl", allow_null=True)
    recent = CrawlSerializer(many=True)
    webhook = serializers.SerializerMethodField(
        help_text="Where the registry sends push notifications (writers only)."
    )

    @extend_schema_field(WebhookSerializer(allow_null=True))
    def get_webhook(self, overview):
        url = self.context.get("webhook_url")
        if not url or overview.live:
            return None
        return {"url": url, "secret": overview.registry.webhook_secret}


class HitRegistrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    host = serializers.CharField()
    namespace = serializers.CharField()


class HitSerializer(serializers.Serializer):
    registry = HitRegistrySerializer()
    name = serializers.CharField()
    description = serializers.CharField()
    is_official = serializers.BooleanField()
    star_count = serializers.IntegerField(allow_null=True)
    pull_count = serializers.IntegerField(allow_null=True)
    tag_count = serializers.IntegerField(allow_null=True)
    last_modified = serializers.DateTimeField(allow_null=True)
    live = serializers.BooleanField(help_text="Found by asking the registry live.")
    pull_reference = serializers.SerializerMethodField()

    def get_pull_reference(self, hit) -> str:
        # The Library's own pull command, so the page and the API never differ.
        return hit.pull_command.removeprefix("docker pull ")


class SearchResultsSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        source="total",
        help_text="Results so far: the search does not count every match.",
    )
    count_capped = serializers.BooleanField(
        source="total_capped", help_text="There are more than count results."
    )
    page = serializers.IntegerField()
    next = serializers.SerializerMethodField()
    previous = serializers.SerializerMethodField()
    notices = serializers.ListField(
        child=serializers.CharField(),
        help_text="Things the person searching should know (a registry unreachable).",
    )
    results = HitSerializer(many=True, source="hits")

    def get_next(self, results) -> str | None:
        return self.context.get("next")

    def get_previous(self, results) -> str | None:
        return self.context.get("previous")


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    digest = serializers.CharField(help_text="Empty for tags listed live.")
    media_type = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    created = serializers.DateTimeField(allow_null=True)
    platforms = serializers.ListField(child=serializers.CharField())
    labels = serializers.DictField(child=serializers.CharField())
    pull_reference = serializers.CharField(
        help_text="host/repository@digest when the digest is known, else :tag."
    )


class RepositoryDetailSerializer(serializers.Serializer):
    registry = HitRegistrySerializer()
    name = serializers.CharField()
    description = serializers.CharField()
    live = serializers.BooleanField()
    notice = serializers.CharField()
    insecure = serializers.BooleanField(
        help_text="Plain HTTP: Docker hosts need --insecure-registry for it."
    )
    page = serializers.IntegerField(source="tag_page")
    has_next = serializers.BooleanField()
    tags = TagSerializer(many=True)
