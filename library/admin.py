"""The popular images list (editable by portal admins) and a read-only index view."""

from django.contrib import admin

from library.models import Crawl, CrawlSource, PopularImage
from portal.admin import PortalAdminAccess


@admin.register(PopularImage)
class PopularImageAdmin(PortalAdminAccess, admin.ModelAdmin):
    list_display = ("name", "is_official", "position", "enabled", "description")
    list_editable = ("position", "enabled")
    search_fields = ("name", "description")
    ordering = ("position", "name")


class ReadOnlyAdmin(admin.ModelAdmin):
    """The index is written by the crawler only; the admin may look, not touch."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CrawlSource)
class CrawlSourceAdmin(ReadOnlyAdmin):
    list_display = ("address", "username", "live_only", "latest_crawl")
    exclude = ("account_key",)


@admin.register(Crawl)
class CrawlAdmin(ReadOnlyAdmin):
    list_display = (
        "source",
        "status",
        "trigger",
        "created_at",
        "repositories_found",
        "tags_found",
        "errors",
    )
    list_filter = ("status", "trigger")
