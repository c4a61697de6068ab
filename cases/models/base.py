"""Shared building blocks for every model in the register."""

import uuid

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimestampedModel(models.Model):
    """Abstract base: a stable UUID identifier and created/modified timestamps.

    Records loaded from the source documents get a UUID derived from their fixture key
    (see ``cases.services.fixtures``), so the same fact keeps the same id on every load.
    """

    id = models.UUIDField(
        _("id"), primary_key=True, default=uuid.uuid4, editable=False,
        help_text=_("Stable identifier of the record."),
    )
    created = models.DateTimeField(
        _("created"), auto_now_add=True, db_index=True,
        help_text=_("When the record was created in the register."),
    )
    modified = models.DateTimeField(
        _("modified"), auto_now=True, db_index=True,
        help_text=_("When the record was last changed in the register."),
    )

    class Meta:
        abstract = True


class RegisterModel(TimestampedModel):
    """Abstract base of every register record: voidable, with its source passages.

    A registered record is never deleted: it is voided with a reason and stays readable by
    id; sync clients see it as a tombstone.
    """

    voided_at = models.DateTimeField(
        _("voided at"), null=True, blank=True, db_index=True,
        help_text=_("When the record was voided (makulerad); empty while it is valid."),
    )
    void_reason = models.TextField(_("void reason"), blank=True,
                                   help_text=_("Why the record was voided."))
    voided_by = models.CharField(_("voided by"), max_length=200, blank=True,
                                 help_text=_("Who voided the record."))
    provenance = GenericRelation("cases.Provenance", content_type_field="content_type",
                                 object_id_field="object_id")

    class Meta:
        abstract = True


class DatePrecision(models.TextChoices):
    """How much of a stored date the source actually states."""

    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")
