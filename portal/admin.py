"""Projects, members and the audit log in the Django admin.

Writes go through the same services as the portal's pages, so a change made
here is validated and audited like any other.
"""

from django.contrib import admin

from portal import services
from portal.models import AuditEntry, Membership, Project
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


class MembershipInline(PortalAdminAccess, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(PortalAdminAccess, admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name] for name in ("name", "slug", "description")
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
        for membership in formset.deleted_objects:
            services.membership_remove(acting_user=request.user, membership=membership)
        for membership, _changed in formset.changed_objects:
            stored = Membership.objects.select_related("user").get(pk=membership.pk)
            if stored.user_id != membership.user_id:
                services.membership_remove(acting_user=request.user, membership=stored)
                services.membership_add(
                    acting_user=request.user,
                    project=project,
                    user=membership.user,
                    role=membership.role,
                )
            elif stored.role != membership.role:
                services.membership_change_role(
                    acting_user=request.user, membership=stored, role=membership.role
                )
        for membership in formset.new_objects:
            services.membership_add(
                acting_user=request.user,
                project=project,
                user=membership.user,
                role=membership.role,
            )


@admin.register(AuditEntry)
class AuditEntryAdmin(PortalAdminAccess, admin.ModelAdmin):
    list_display = [
        "at",
        "actor_name",
        "action",
        "object_type",
        "object_repr",
        "project",
    ]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr"]

    # The log is a record: nobody edits or deletes it, not even here.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
