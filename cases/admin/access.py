"""Admin for API tokens (issued and revoked here) and the read-only audit trail."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.confidentiality import is_withheld, mask_snapshot
from cases.models import ApiToken, AuditEntry
from cases.services.tokens import set_key

from .confidentiality import ConfidentialityAdminMixin, public_json


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


@admin.register(AuditEntry)
class AuditEntryAdmin(ConfidentialityAdminMixin, admin.ModelAdmin):
    """The audit trail, read-only. Without clearance, the before and after values of a
    confidential record show its protected fields masked, as its API history does."""

    list_display = ("occurred_at", "action", "actor", "via", "content_type", "object_id")
    confidential_columns = ("before", "after")
    list_filter = ("action", "via", "content_type")
    search_fields = ("actor", "request_id", "object_id")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def masked_value(self, obj, name):
        if name in ("before", "after"):
            model = obj.content_type.model_class()
            record = None if model is None else model._base_manager.filter(
                pk=obj.object_id).first()
            return public_json(mask_snapshot(getattr(obj, name), model, cleared=False,
                                             withheld=is_withheld(record)))
        return super().masked_value(obj, name)
