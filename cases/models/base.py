"""Shared building blocks for every model in the register."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegisterModel(models.Model):
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


class DatePrecision(models.TextChoices):
    """How much of a stored date the source actually states."""

    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")
