"""API tokens of client systems, and the audit trail of every change."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A client system's API token. Only the SHA-256 of the key is stored; the key itself
    is shown once, when the token is issued."""

    name = models.CharField(_("client system"), max_length=100, unique=True,
                            help_text=_("The system that uses the token, e.g. E-arkiv."))
    key_prefix = models.CharField(_("key prefix"), max_length=8, editable=False,
                                  help_text=_("First characters of the key, to recognise it."))
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    can_write = models.BooleanField(_("may write"), default=False,
                                    help_text=_("Scope: read always; write when set."))
    cleared = models.BooleanField(
        _("cleared for confidential details"), default=False,
        help_text=_("Sees the protected details of confidential cases and documents."))
    created = models.DateTimeField(_("issued"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("issued by"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True,
                                      help_text=_("Set to revoke: the key stops working."))
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("updated")
    VOID = "void", _("voided")


class AuditEntry(models.Model):
    """One change of one record: who, when, through which request, before and after.

    Rows are append-only: a database trigger (migration 0005) refuses UPDATE and DELETE, for
    the application's own role too.
    """

    occurred_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=10, choices=AuditAction.choices)
    via = models.CharField(_("via"), max_length=20,
                           help_text=_("api, admin, loader or another channel."))
    actor = models.CharField(_("who"), max_length=200,
                             help_text=_("User name, or token:<client system>."))
    user_id = models.IntegerField(_("user id"), null=True, blank=True)
    token_id = models.BigIntegerField(_("token id"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("record type"))
    object_id = models.UUIDField(_("record id"))
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "occurred_at"],
                                name="audit_record_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(actor=""), name="audit_actor_required"),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor} {self.get_action_display()}"
