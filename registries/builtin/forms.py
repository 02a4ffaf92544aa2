"""Forms for robot accounts and personal registry tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registries.builtin.models import RobotScope, TokenScope, robot_name_validator

EXPIRY_CHOICES = [
    ("7", _("7 days")),
    ("30", _("30 days")),
    ("90", _("90 days")),
    ("365", _("1 year")),
    ("never", _("Never")),
]


class _ExpiryMixin:
    def expires_at(self) -> datetime | None:
        choice = self.cleaned_data["expires"]
        if choice == "never":
            return None
        return timezone.now() + timedelta(days=int(choice))


class RobotForm(_ExpiryMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=40,
        validators=[robot_name_validator],
        help_text=_(
            "For example ci or deploy-prod. It signs in as robot$<project>+<name>."
        ),
    )
    description = forms.CharField(
        label=_("Description"), max_length=200, required=False
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=RobotScope.choices,
        initial=RobotScope.PULL,
        widget=forms.RadioSelect,
    )
    expires = forms.ChoiceField(
        label=_("Expires after"), choices=EXPIRY_CHOICES, initial="90"
    )


class PersonalTokenForm(_ExpiryMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Where you use it, for example “laptop” or “build server”."),
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=TokenScope.choices,
        initial=TokenScope.PULL,
        widget=forms.RadioSelect,
    )
    expires = forms.ChoiceField(
        label=_("Expires after"), choices=EXPIRY_CHOICES, initial="90"
    )
