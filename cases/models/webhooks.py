"""Events of register changes and the webhooks that carry them to other systems (DESIGN §8).

An ``Event`` is written in the transaction of the change it reports (the outbox): a change
rolled back leaves none, a change committed always has one. Each active ``Subscription``
whose filters match gets a ``Delivery`` of it in the same transaction, and a job for the
worker (``cases.tasks``). Events name records by id and URL and list the names of changed
fields, never a value: the receiver fetches the record with its own credentials.

Events and subscriptions refer to records by id, not by foreign key: an event outlives
nothing and drags no register record into reach of anything else.
"""

import uuid

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventAction(models.TextChoices):
    CREATED = "created", _("created")
    UPDATED = "updated", _("updated")
    VOIDED = "voided", _("voided")


class Event(models.Model):
    """One change of one register record, as a CloudEvents 1.0 message (``message``)."""

    id = models.UUIDField(_("id"), primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    # No database constraint: the audit trail's own trigger, not a foreign key, is what
    # refuses to empty it (and an event never outlives its entry: both are append-only).
    audit_entry = models.OneToOneField("cases.AuditEntry", on_delete=models.DO_NOTHING,
                                       db_constraint=False, related_name="event",
                                       verbose_name=_("audit entry"))
    type = models.CharField(_("event type"), max_length=100)
    action = models.CharField(_("action"), max_length=10, choices=EventAction.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("record type"))
    record_id = models.UUIDField(_("record id"), db_index=True)
    case_id = models.UUIDField(_("case id"), null=True, blank=True)
    # What subscriptions filter on: the record's collection and those of the records it is
    # a part of; the organisations and municipalities of the record and its case.
    collections = ArrayField(models.CharField(max_length=50), verbose_name=_("collections"))
    organisations = ArrayField(models.UUIDField(), default=list, blank=True,
                               verbose_name=_("organisations"))
    municipalities = ArrayField(models.UUIDField(), default=list, blank=True,
                                verbose_name=_("municipalities"))
    changed_fields = ArrayField(models.CharField(max_length=100), default=list, blank=True,
                                verbose_name=_("changed fields"))
    message = models.JSONField(_("message"), help_text=_("The CloudEvent as delivered."))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-occurred_at"]

    def __str__(self):
        return f"{self.type} {self.record_id}"


class Subscription(models.Model):
    """Another system's order for events, delivered to its ``callback_url``.

    Empty filters match everything. Secrets never expire on their own: rotating one keeps the
    previous valid until ``previous_secret_expires`` (both sign meanwhile), so a receiver
    switches without losing a message. The secrets are kept to sign with (an HMAC key cannot
    be hashed away) and shown only once, when made.
    """

    name = models.CharField(_("name"), max_length=100)
    token = models.ForeignKey("cases.ApiToken", on_delete=models.PROTECT, null=True,
                              blank=True, related_name="subscriptions",
                              verbose_name=_("client system"),
                              help_text=_("The system whose API token manages it; empty when "
                                          "managed in the admin only."))
    callback_url = models.URLField(_("callback URL"), max_length=500)
    collections = ArrayField(models.CharField(max_length=50), default=list, blank=True,
                             verbose_name=_("collections"),
                             help_text=_("Empty: every collection."))
    actions = ArrayField(models.CharField(max_length=10, choices=EventAction.choices),
                         default=list, blank=True, verbose_name=_("actions"),
                         help_text=_("Empty: every action."))
    organisations = models.ManyToManyField("cases.Organisation", blank=True, related_name="+",
                                           verbose_name=_("organisations"),
                                           help_text=_("Empty: every organisation."))
    municipalities = models.ManyToManyField("cases.Municipality", blank=True,
                                            related_name="+", verbose_name=_("municipalities"),
                                            help_text=_("Empty: every municipality."))
    contact_email = models.EmailField(_("contact e-mail"), blank=True,
                                      help_text=_("Told when a message finally fails."))
    active = models.BooleanField(_("active"), default=True)
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    previous_secret = models.CharField(_("previous secret"), max_length=100, blank=True,
                                       editable=False)
    previous_secret_expires = models.DateTimeField(_("previous secret valid until"), null=True,
                                                   blank=True, editable=False)
    secret_rotated = models.DateTimeField(_("secret rotated"), null=True, blank=True,
                                          editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    modified = models.DateTimeField(_("modified"), auto_now=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class Delivery(models.Model):
    """One event for one subscription: its state, and the attempts in ``attempt_log``."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE,
                                     related_name="deliveries",
                                     verbose_name=_("webhook subscription"))
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries",
                              verbose_name=_("event"))
    status = models.CharField(_("status"), max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveIntegerField(_("last status code"), null=True,
                                                   blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["subscription", "event"],
                                               name="delivery_once_per_event")]

    def __str__(self):
        return f"{self.event} → {self.subscription}"


class DeliveryAttempt(models.Model):
    """One try to deliver: the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE,
                                 related_name="attempt_log", verbose_name=_("webhook delivery"))
    attempted_at = models.DateTimeField(_("when"), auto_now_add=True)
    status_code = models.PositiveIntegerField(_("status code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["attempted_at", "id"]
        indexes = [models.Index(fields=["attempted_at", "id"], name="delivery_attempt_order")]

    def __str__(self):
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"
