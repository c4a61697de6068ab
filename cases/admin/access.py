"""Admin for API tokens (issued and revoked here) and the read-only audit trail."""

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from cases.confidentiality import is_withheld, mask_snapshot
from cases.models import ApiToken, AuditEntry
from cases.services.tokens import set_key
from cases.templatetags.register_admin import audit_actor

from .confidentiality import ConfidentialityAdminMixin, is_cleared, public_json
from .history import Labels, admin_url


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "can_write", "cleared", "created", "last_used",
                    "revoked_at")
    list_filter = ("can_write", "cleared")
    search_fields = ("name", "key_prefix")
    readonly_fields = ("key_prefix", "created", "created_by", "last_used")
    fields = ("name", "can_write", "cleared", "revoked_at", *readonly_fields)
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if not change:
            key = set_key(obj)
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            self.message_user(request, _(
                "The key of %(name)s is %(key)s. Copy it now: it is shown only this once.")
                % {"name": obj.name, "key": key}, messages.WARNING)
            return
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps naming the token

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": count})


class RecordTypeFilter(admin.SimpleListFilter):
    """The audit trail by the type of record changed, named as the admin names it
    ("ärende", not "Diarium | ärende")."""

    title = _("record type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        types = [(ct.pk, ct.model_class()) for ct in ContentType.objects.filter(
            app_label="cases")]
        return sorted(((str(pk), capfirst(model._meta.verbose_name_plural))
                       for pk, model in types if model is not None), key=lambda c: c[1])

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(content_type_id=value) if value and value.isdigit() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ConfidentialityAdminMixin, admin.ModelAdmin):
    """The audit trail, read-only. Without clearance, the before and after values of a
    confidential record show its protected fields masked, as its API history does."""

    list_display = ("occurred_at", "action", "record_type", "record", "who")
    confidential_columns = ("before", "after")
    list_filter = ("action", "via", RecordTypeFilter)
    search_fields = ("actor", "request_id", "object_id")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist_instance(self, request):
        """The page's records, loaded in bulk (a query per type), named by their titles as
        this reader may see them."""
        changelist = super().get_changelist_instance(request)
        entries = list(changelist.result_list)
        labels = Labels(cleared=is_cleared(request))
        labels.load([(entry.content_type.model_class(), entry.object_id) for entry in entries])
        for entry in entries:
            model = entry.content_type.model_class()
            record = labels.get(model, entry.object_id) if model else None
            entry.record_label = labels.of(model, entry.object_id) if model else entry.object_id
            entry.record_url = admin_url(record) if record is not None else ""
        return changelist

    @admin.display(description=_("record type"), ordering="content_type")
    def record_type(self, entry):
        model = entry.content_type.model_class()
        return capfirst(model._meta.verbose_name) if model else entry.content_type.model

    @admin.display(description=_("who"), ordering="actor")
    def who(self, entry):
        return audit_actor(entry)

    @admin.display(description=_("record"))
    def record(self, entry):
        label = getattr(entry, "record_label", entry.object_id)
        url = getattr(entry, "record_url", "")
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    def masked_value(self, obj, name):
        if name in ("before", "after"):
            model = obj.content_type.model_class()
            record = None if model is None else model._base_manager.filter(
                pk=obj.object_id).first()
            return public_json(mask_snapshot(getattr(obj, name), model, cleared=False,
                                             withheld=is_withheld(record)))
        return super().masked_value(obj, name)
