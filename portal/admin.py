"""Projects, members and the audit log in the Django admin.

Writes go through the same services as the portal's pages, so a change made
here is validated and audited like any other.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from portal import services
from portal.models import AuditEntry, Membership, Project, Role
from portal.selectors import is_portal_admin


class PortalAdminAccess:
    """Let portal admins (the staff flag) use these admin pages.

    A portal admin is defined as a staff user; without this, Django's per-model
    permissions would lock them out unless they were also superusers.
    """

    def has_module_permission(self, request):
        return is_portal_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_portal_admin(request.user)

    def has_add_permission(self, request, *args):
        return is_portal_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_portal_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_portal_admin(request.user)


class ServiceRefusalsAsMessages:
    """Show a service's refusal (its ``ValidationError``) as an error message.

    The admin's views would otherwise answer 500. Each view runs in a
    transaction, so the refused request changes nothing.
    """

    def _refused(self, request, exc: ValidationError, url: str):
        self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(url)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            return self._refused(request, exc, request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:
            opts = self.model._meta
            change = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[object_id],
                current_app=self.admin_site.name,
            )
            return self._refused(request, exc, change)

    def response_action(self, request, queryset, *args, **kwargs):
        try:
            with transaction.atomic():
                return super().response_action(request, queryset, *args, **kwargs)
        except ValidationError as exc:
            return self._refused(request, exc, request.get_full_path())


class MembershipInlineFormSet(BaseInlineFormSet):
    """Refuse, on the form, to leave a project that had a project admin without one."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        had_admin = any(
            form.initial.get("role") == Role.ADMIN for form in self.initial_forms
        )
        keeps_admin = any(
            form.cleaned_data.get("role") == Role.ADMIN
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        )
        if had_admin and not keeps_admin:
            raise services.last_admin_error(self.instance)


class MembershipInline(PortalAdminAccess, admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(ServiceRefusalsAsMessages, PortalAdminAccess, admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # The slug is the project's built-in registry namespace: fixed once created.
        if obj is not None:
            return [*self.readonly_fields, "slug"]
        return self.readonly_fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else super().get_prepopulated_fields(request)

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in ("name", "slug", "description")
            if name in form.cleaned_data
        }
        if change:
            services.project_update(
                acting_user=request.user,
                project=Project.objects.get(pk=obj.pk),
                **fields,
            )
        else:
            obj.pk = services.project_create(acting_user=request.user, **fields).pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.project_delete(acting_user=request.user, project=obj)

    def delete_queryset(self, request, queryset):
        for project in queryset:
            services.project_delete(acting_user=request.user, project=project)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        project = form.instance
        adds = list(formset.new_objects)
        removals = list(formset.deleted_objects)
        promotions, demotions = [], []
        for membership, _changed in formset.changed_objects:
            stored = Membership.objects.select_related("user").get(pk=membership.pk)
            if stored.user_id != membership.user_id:
                adds.append(membership)
                removals.append(stored)
            elif stored.role != membership.role:
                changes = promotions if membership.role == Role.ADMIN else demotions
                changes.append((stored, membership.role))
        # Add and promote first, so that replacing the only admin in one save
        # never leaves the project without one midway.
        for membership in adds:
            services.membership_add(
                acting_user=request.user,
                project=project,
                user=membership.user,
                role=membership.role,
            )
        for stored, role in [*promotions, *demotions]:
            services.membership_change_role(
                acting_user=request.user, membership=stored, role=role
            )
        for membership in removals:
            services.membership_remove(acting_user=request.user, membership=membership)


@admin.register(AuditEntry)
class AuditEntryAdmin(PortalAdminAccess, admin.ModelAdmin):
    list_display = [
        "at",
        "actor_name",
        "action",
        "object_type",
        "object_repr",
        "project_name",
    ]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "project_slug", "project_name"]

    # The log is a record: nobody edits or deletes it, not even here.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
