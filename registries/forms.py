"""Forms for registry entries; validation rules live on the model."""

from __future__ import annotations

import ssl

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from registries.models import Registry
from registries.services import (
    password_needed_again,
    password_needed_error,
    username_needed_error,
)


class RegistryForm(forms.ModelForm):
    """Add or edit an entry; an empty password on edit keeps the stored one."""

    password = forms.CharField(
        label=_("Password or access token"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        ),
    )

    class Meta:
        model = Registry
        fields = [
            "name",
            "address",
            "namespace",
            "username",
            "password",
            "ca_pem",
            "allow_plain_http",
            "enabled",
            "crawl_interval_minutes",
        ]
        widgets = {
            "ca_pem": forms.Textarea(
                attrs={"rows": 4, "placeholder": "-----BEGIN CERTIFICATE-----"}
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.has_password:
            self.fields["password"].help_text = _(
                "A password is stored. Leave empty to keep it."
            )
            if self.instance.username:
                self.fields["username"].help_text = _(
                    "Clearing the username also removes the stored password."
                )
        interval = self.fields["crawl_interval_minutes"]
        # One clear minimum instead of the model field's generic "≥ 0".
        interval.validators = [
            validator
            for validator in interval.validators
            if not isinstance(validator, MinValueValidator)
        ] + [MinValueValidator(1, message=_("Crawl at most once a minute."))]
        interval.widget.attrs["min"] = 1

    def clean_ca_pem(self):
        return validate_ca_pem(self.cleaned_data["ca_pem"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("username") == "":
            self.add_error(None, username_needed_error())
        # The instance still holds the stored values here; the form's are applied
        # after clean().
        if (
            cleaned.get("username")
            and "address" in cleaned
            and password_needed_again(
                self.instance, cleaned["address"], cleaned.get("password", "")
            )
        ):
            self.add_error(None, password_needed_error())
        return cleaned

    def service_fields(self) -> dict:
        """Return cleaned values as keyword arguments for the registry services."""
        data = dict(self.cleaned_data)
        data.pop("password", None)
        return data


def validate_ca_pem(value: str) -> str:
    """Return ``value`` if it holds PEM certificates a TLS client can trust."""
    if not value.strip():
        return ""
    if not value.isascii():
        # ssl reads PEM only as ASCII: it raises TypeError rather than refuse.
        raise ValidationError(
            _("PEM certificates are plain ASCII text; remove other characters."),
            code="pem",
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError):
        raise ValidationError(
            _(
                "Paste one or more PEM certificates, each from "
                "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
            ),
            code="pem",
        ) from None
    return value.strip() + "\n"


def apply_validation_error(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ``ValidationError`` on the form, on its field if it has one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target if target else NON_FIELD_ERRORS, error)
    else:
        form.add_error(None, exc)
