from django import forms
from django.contrib.auth import get_user_model
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from portal.models import Project, Role


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "slug", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _(
            "Leave empty to derive it from the name. It names the project's "
            "namespace in the built-in registry and cannot be changed later."
        )

    def clean_slug(self):
        slug = self.cleaned_data.get("slug") or slugify(
            self.cleaned_data.get("name", "")
        )
        if not slug:
            raise forms.ValidationError(
                _("Enter a slug of letters, digits and dashes.")
            )
        return slug


class MemberAddForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), label=_("User")
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER, label=_("Role"))

    def __init__(self, *args, users=None, **kwargs):
        super().__init__(*args, **kwargs)
        if users is not None:
            self.fields["user"].queryset = users


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
