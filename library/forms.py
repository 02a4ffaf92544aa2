"""The Library search form: free text, filters, sort and page."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from library.selectors import PAGE_SIZE, SORTS, SearchQuery
from registries.addresses import DIGEST_HEX_LENGTHS, normalize_namespace

_HEX = re.compile(r"^[0-9a-f]+$")
_PLATFORM = re.compile(r"^[a-z0-9_.-]+/[a-z0-9_.-]+$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
COMMON_PLATFORMS = (
    "linux/amd64",
    "linux/arm64",
    "linux/arm",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "windows/amd64",
)


# The highest page number any Library listing serves.
MAX_PAGE = 10_000


class SearchForm(forms.Form):
    """Parse the query string of Library > All Repositories into a SearchQuery."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Search repositories, descriptions, labels…"),
                "autocomplete": "off",
            }
        ),
    )
    registry = forms.TypedChoiceField(
        label=_("Registry"), required=False, coerce=int, empty_value=None
    )
    namespace = forms.CharField(
        label=_("Namespace"),
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. team-a")}),
    )
    tag = forms.CharField(
        label=_("Tag"),
        required=False,
        max_length=128,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. latest")}),
    )
    digest = forms.CharField(
        label=_("Digest"),
        required=False,
        max_length=135,
        widget=forms.TextInput(attrs={"placeholder": _("sha256:… (a prefix)")}),
    )
    label = forms.CharField(
        label=_("Label"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("key=value")}),
    )
    platform = forms.CharField(
        label=_("OS/arch"),
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. linux/arm64"), "list": "platforms"}
        ),
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("relevance", _("Relevance")),
            ("name", _("Name")),
            ("updated", _("Last updated")),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def __init__(self, *args, registries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["registry"].choices = [("", _("All registries"))] + [
            (r.pk, f"{r.name} ({r.namespace})" if r.namespace else r.name)
            for r in registries
        ]

    def clean_namespace(self) -> str:
        try:
            return normalize_namespace(self.cleaned_data["namespace"])
        except ValidationError as exc:
            raise ValidationError(exc.messages[0], code="namespace") from None

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        if tag and not _TAG.match(tag):
            raise ValidationError(
                _("A tag has letters, digits, _ . and -, up to 128 characters."),
                code="tag",
            )
        return tag

    def clean_digest(self) -> str:
        raw = self.cleaned_data["digest"].strip().lower()
        if not raw:
            return ""
        algorithm, _sep, hexpart = raw.rpartition(":")
        algorithm = algorithm or "sha256"
        if (
            algorithm not in DIGEST_HEX_LENGTHS
            or not hexpart
            or not _HEX.match(hexpart)
            or len(hexpart) > DIGEST_HEX_LENGTHS[algorithm]
        ):
            raise ValidationError(
                _(
                    "A digest looks like sha256: (or sha512:) followed by "
                    "hexadecimal digits; the first few digits are enough."
                ),
                code="digest",
            )
        return f"{algorithm}:{hexpart}"

    def clean_label(self) -> tuple[str, str | None]:
        raw = self.cleaned_data["label"].strip()
        if not raw:
            return ("", None)
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not key:
            raise ValidationError(
                _("Write a label as key=value, or just key to find any value."),
                code="label",
            )
        return (key, value.strip() if sep else None)

    def clean_platform(self) -> str:
        raw = self.cleaned_data["platform"].strip().lower()
        if raw and not _PLATFORM.match(raw):
            raise ValidationError(
                _("Write the platform as os/architecture, e.g. linux/arm64."),
                code="platform",
            )
        return raw

    def search_query(self) -> SearchQuery:
        """Return the query; only call after ``is_valid()``."""
        data = self.cleaned_data
        label_key, label_value = data.get("label") or ("", None)
        return SearchQuery(
            text=data.get("q") or "",
            registry_id=data.get("registry"),
            namespace=data.get("namespace") or "",
            tag=data.get("tag") or "",
            digest=data.get("digest") or "",
            label_key=label_key,
            label_value=label_value,
            platform=data.get("platform") or "",
            sort=data.get("sort") if data.get("sort") in SORTS else "relevance",
            page=data.get("page") or 1,
            page_size=PAGE_SIZE,
        )

    @property
    def has_filters(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return any(
            data.get(name) for name in ("namespace", "tag", "digest", "platform")
        ) or bool((data.get("label") or ("", None))[0])
