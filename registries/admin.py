from django import forms
from django.contrib import admin

from registries.models import Registry


class RegistryAdminForm(forms.ModelForm):
    """Keep the secret write-only: never rendered, empty keeps the stored one."""

    new_password = forms.CharField(
        label="Password or access token",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored secret.",
    )

    class Meta:
        model = Registry
        exclude = ["password_encrypted"]

    def save(self, commit=True):
        if self.cleaned_data.get("new_password"):
            self.instance.password = self.cleaned_data["new_password"]
        return super().save(commit=commit)


@admin.register(Registry)
class RegistryAdmin(admin.ModelAdmin):
    form = RegistryAdminForm
    list_display = ["name", "address", "namespace", "project", "enabled", "flavour"]
    list_filter = ["enabled", "flavour", "project"]
    search_fields = ["name", "address", "namespace"]
    readonly_fields = ["api_version", "flavour", "verify_status", "verify_message"]
