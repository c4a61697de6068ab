"""Shared admin building blocks: read-only provenance and timestamp handling."""

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cases.models import Provenance


class ProvenanceInline(GenericTabularInline):
    """The source passages a record was loaded from, shown read-only with their context."""

    model = Provenance
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    fields = ("document", "passage", "position", "note")
    readonly_fields = fields
    verbose_name = _("source passage")
    verbose_name_plural = _("source passages")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("passage"))
    def passage(self, obj):
        return format_html('<span style="color:#777">…{}</span><mark>{}</mark>'
                           '<span style="color:#777">{}…</span>', obj.prefix, obj.exact, obj.suffix)

    @admin.display(description=_("characters"))
    def position(self, obj):
        return f"{obj.start}–{obj.end}"


class RegisterAdmin(admin.ModelAdmin):
    """Base admin for every register model: timestamps read-only, provenance inline."""

    readonly_fields = ("id", "created", "modified")
    list_per_page = 50
    show_full_result_count = False

    def get_inlines(self, request, obj):
        return [*self.inlines, ProvenanceInline]


class PartInline(admin.TabularInline):
    """An inline for the parts of a record (points, proposals, authors ...)."""

    extra = 0
    show_change_link = True
