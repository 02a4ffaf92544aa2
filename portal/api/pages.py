"""The API tokens page: create a token (its key shown once), list and revoke them."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.api import tokens
from portal.htmx import wants_fragment
from registries.forms import apply_validation_error

EXPIRY_CHOICES = [
    ("", gettext_lazy("Never")),
    ("30", gettext_lazy("In 30 days")),
    ("90", gettext_lazy("In 90 days")),
    ("365", gettext_lazy("In a year")),
]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What the token is for, e.g. “CI deploy guard”."),
    )
    expires = forms.ChoiceField(
        label=gettext_lazy("Expires"), choices=EXPIRY_CHOICES, required=False
    )

    def expires_at(self):
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = tokens.api_token_create(
                acting_user=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            form = ApiTokenForm()
    template = "portal/api_tokens.html"
    if wants_fragment(request) and request.method == "GET":
        template += "#tokens"
    return render(
        request,
        template,
        {
            "tokens": tokens.api_tokens_for_user(request.user),
            "form": form,
            "created": created,
            "now": timezone.now(),
            "section": "api_tokens",
        },
        status=422 if request.method == "POST" and created is None else 200,
    )


@require_POST
@login_required
def api_token_revoke(request, pk):
    token = tokens.api_token_for_owner(request.user, pk)
    tokens.api_token_revoke(acting_user=request.user, token=token)
    if wants_fragment(request):
        return render(
            request,
            "portal/api_tokens.html#tokens",
            {"tokens": tokens.api_tokens_for_user(request.user), "now": timezone.now()},
        )
    messages.success(request, _("Token “%s” revoked.") % token.name)
    return redirect("api_tokens")
