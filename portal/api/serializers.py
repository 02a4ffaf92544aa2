"""What the API reads and writes; the rules themselves stay in models and services."""

from __future__ import annotations

from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.models import Role
from portal.selectors import is_portal_admin, role_in_project
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

    def _writable(self, registry) -> bool:
        cache = self.context.setdefault("_writable", {})
        if registry.pk not in cache:
            cache[registry.pk] = can_write_registry(
                self.context["request"].user, registry
            )
        return cache[registry.pk]

    def get_writable(self, registry) -> bool:
        return self._writable(registry)

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
    project = serializers.CharField(
        source="project.slug", read_only=True, allow_null=True
    )
    changes = serializers.DictField(child=serializers.JSONField())


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
    code = serializers.ChoiceField(
        choices=[
            "allowed",
            "no_registry",
            "outside_namespace",
            "registry_disabled",
            "image_not_found",
            "registry_error",
        ]
    )
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
