"""Registry entries in the Django admin, with secrets write-only.

Writes go through the registry services so that they are validated and audited
exactly like changes made on the portal's pages.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin import PortalAdminAccess, ServiceRefusalsAsMessages
from registries import services
from registries.clients.tls import normalise_fingerprint
from registries.forms import validate_ca_pem
from registries.models import Registry
from registries.services import (
    password_needed_again,
    password_needed_error,
    username_needed_error,
)


class RegistryAdminForm(forms.ModelForm):
    """Keep the secret write-only: never rendered, empty keeps the stored one."""

    new_password = forms.CharField(
        label=_("Password or access token"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored secret."),
    )

    class Meta:
        model = Registry
        # The stored secret is never a field: only new_password writes it.
        fields = [
            "name",
            "address",
            "namespace",
            "project",
            "enabled",
            "username",
            "ca_pem",
            "pinned_sha256",
            "allow_plain_http",
            "crawl_interval_minutes",
        ]

    def clean_ca_pem(self):
        return validate_ca_pem(self.cleaned_data["ca_pem"])

    def clean_pinned_sha256(self):
        value = normalise_fingerprint(self.cleaned_data["pinned_sha256"])
        if value and len(value) != 64:
            raise forms.ValidationError(
                _("Enter the certificate's SHA-256 fingerprint: 64 hex digits.")
            )
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_password") and not cleaned.get("username"):
            self.add_error(None, username_needed_error())
        if (
            cleaned.get("username")
            and "address" in cleaned
            and password_needed_again(
                self.instance, cleaned["address"], cleaned.get("new_password", "")
            )
        ):
            error = password_needed_error().error_dict["password"]
            self.add_error("new_password", error)
        return cleaned


@admin.register(Registry)
class RegistryAdmin(ServiceRefusalsAsMessages, PortalAdminAccess, admin.ModelAdmin):
    form = RegistryAdminForm
    list_display = ["name", "address", "namespace", "project", "enabled", "flavour"]
    list_filter = ["enabled", "flavour", "project"]
    list_select_related = ["project"]
    search_fields = ["name", "address", "namespace"]
    readonly_fields = ["api_version", "flavour", "verify_status", "verify_message"]

    def get_readonly_fields(self, request, obj=None):
        # An entry's scope is fixed once created: delete and re-add to move it.
        if obj is not None:
            return [*self.readonly_fields, "project"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {
            name: value
            for name, value in form.cleaned_data.items()
            if name in services.EDITABLE_FIELDS
        }
        password = form.cleaned_data.get("new_password") or ""
        if change:
            services.registry_update(
                acting_user=request.user,
                registry=Registry.objects.get(pk=obj.pk),
                password=password or None,
                **fields,
            )
        else:
            created = services.registry_create(
                acting_user=request.user,
                project=form.cleaned_data.get("project"),
                password=password,
                **fields,
            )
            obj.pk = created.pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.registry_delete(acting_user=request.user, registry=obj)

    def delete_queryset(self, request, queryset):
        for registry in queryset.select_related("project"):
            services.registry_delete(acting_user=request.user, registry=registry)
