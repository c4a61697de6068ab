"""Shared admin building blocks: read-only provenance, timestamps, stale-form protection,
no hard delete, and (from ``confidentiality``) masking for staff without clearance."""

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cases.models import Provenance

from .confidentiality import (
    WITHHELD,
    ConfidentialityAdminMixin,
    MaskingMixin,
    PublicAutocompleteJsonView,
    row_protected,
)


class ProvenanceInline(MaskingMixin, GenericTabularInline):
    """The source passages a record was loaded from, shown read-only with their context."""

    model = Provenance
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    fields = ("document", "passage", "position", "note")
    readonly_fields = fields
    confidential_columns = ("passage",)
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

    def masked_value(self, obj, name):
        if name == "passage" and row_protected(obj):
            return WITHHELD
        return super().masked_value(obj, name)


class VersionedForm(forms.ModelForm):
    """Refuses to save a form edited from a version someone else has since changed."""

    edited_version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["edited_version"].initial = self.instance.modified.isoformat()

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            # Locked until the admin's transaction ends, so the check and the save are one.
            current = type(self.instance).objects.select_for_update().filter(
                pk=self.instance.pk).values_list("modified", flat=True).first()
            if current is None or cleaned.get("edited_version") != current.isoformat():
                raise forms.ValidationError(
                    _("Someone else changed this record after you opened it, so your changes "
                      "were not saved. Open the record again to see the current version (its "
                      "history shows what changed), then make your changes again."),
                    code="stale")
        return cleaned


class RegisterAdmin(ConfidentialityAdminMixin, admin.ModelAdmin):
    """Base admin for every register model: timestamps read-only, provenance inline, no
    hard delete, no saving over a colleague's newer change, and confidential details only
    for those cleared."""

    form = VersionedForm
    readonly_fields = ("id", "created", "modified", "voided_at", "void_reason", "voided_by")
    list_per_page = 50
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False  # registered records are voided, never deleted

    def get_inlines(self, request, obj):
        return [*self.inlines, ProvenanceInline]


class PartInline(MaskingMixin, admin.TabularInline):
    """An inline for the parts of a record (points, proposals, authors ...)."""

    extra = 0
    show_change_link = True


def autocomplete_view(site):
    """The admin site's autocomplete endpoint, naming records by their public labels."""

    def view(request):
        return PublicAutocompleteJsonView.as_view(admin_site=site)(request)

    return view
