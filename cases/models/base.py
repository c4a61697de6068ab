"""Shared building blocks for every model in the register."""

import uuid

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import BigIntegerField, Expression, signals
from django.db.models.base import ModelState
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

    @classmethod
    def from_db(cls, db, field_names, values):
        """A record read from the database, built without ``Model.__init__``.

        Django's ``from_db`` calls ``__init__``, which sets every field through ``setattr``
        and sends the init signals: 17 µs a record under the profiler, the largest single
        cost of a page of 500 cases with their relations. Loading needs only the column
        values in the instance's ``__dict__`` (``field_names`` are the attnames of
        ``values``, in order; deferred columns are absent and load on access, as in Django)
        and a fresh state. With an init signal receiver connected, Django's way is kept.
        """
        if signals.pre_init.receivers or signals.post_init.receivers:
            return super().from_db(db, field_names, values)
        new = cls.__new__(cls)
        state = new._state = ModelState()
        state.adding = False
        state.db = db
        new.__dict__.update(zip(field_names, values, strict=True))
        return new


class RegisterModel(TimestampedModel):
    """Abstract base of every register record: voidable, with its source passages.

    A registered record is never deleted: it is voided with a reason and stays readable by
    id; sync clients see it as a tombstone.

    ``version`` counts every change of the row and of its parts (see ``save``); the API's
    ETag and If-Match and the admin's stale-form check compare it.

    The table of every collection also has a ``change_xid`` column, the record's place in
    commit order, written only by a database trigger (migration 0017) and read through
    ``ChangeXid`` by the sync feed: see ``cases.api.pagination``.
    """

    voided_at = models.DateTimeField(
        _("voided at"), null=True, blank=True, db_index=True,
        help_text=_("When the record was voided (makulerad); empty while it is valid."),
    )
    void_reason = models.TextField(_("void reason"), blank=True,
                                   help_text=_("Why the record was voided."))
    voided_by = models.CharField(_("voided by"), max_length=200, blank=True,
                                 help_text=_("Who voided the record."))
    version = models.PositiveIntegerField(
        _("version"), db_default=1, editable=False,
        help_text=_("Counts the changes of the record and of its parts; a write names the "
                    "version it was made to (the API's If-Match, the admin's form)."),
    )
    provenance = GenericRelation("cases.Provenance", content_type_field="content_type",
                                 object_id_field="object_id")

    class Meta:
        abstract = True

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        """Update the row, then take the version the database gave it.

        The version is counted by a trigger (migration 0020), so that no write path can
        forget it (``QuerySet.update``, raw SQL, a part changed under the record); the
        instance learns the new number here, one indexed read, before the post-save signals
        (the audit trail records it) and before the caller answers with the record's ETag.
        A new row's version comes back from the INSERT itself (``db_default``)."""
        updated = super()._do_update(base_qs, using, pk_val, values, update_fields,
                                     forced_update)
        if updated:
            self.version = base_qs.filter(pk=pk_val).values_list("version", flat=True).get()
        return updated


# The condition of a part's unique constraints: a voided part frees its place (its position,
# its person ...), so that a record's parts can be replaced (cases.services.parts) and a part
# removed by mistake added again; the voided row stays, readable by id.
LIVE = models.Q(voided_at__isnull=True)


class DatePrecision(models.TextChoices):
    """How much of a stored date the source actually states."""

    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")


class ChangeXid(Expression):
    """The ``change_xid`` column of the query's table: the id of the transaction that last
    wrote the record (or one of the parts rendered in it), set by a trigger (migration 0017).

    Not a model field on purpose: the ORM would write it back on every save (the trigger
    overrides it anyway), carry a stale copy in each instance and put it in audit
    snapshots, forms and fixtures. Only the sync feed reads it, through this expression,
    which names the table by the alias it has in the query being compiled (also inside a
    subquery, where Django relabels it).
    """

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection):
        alias = compiler.query.get_initial_alias()
        return f"{compiler.quote_name_unless_alias(alias)}.change_xid", []


def order_indexes(field: str, prefix: str) -> list[models.Index]:
    """The two indexes a keyset page ordered by a nullable ``field`` walks: ``(field, id)``
    for ``ordering=field`` and ``(field DESC NULLS LAST, id DESC)`` for ``ordering=-field``
    (the API puts undated records last both ways, an order no backward scan of the first one
    gives). Without them, PostgreSQL read and sorted the whole table for every page:
    ``referral-responses?ordering=-date`` took 115 ms at a million cases, ``documents?
    ordering=-date`` 280 ms. Also the index of the range filters on ``field``, whose pages
    come in its order (``cases.api.views.RegisterViewSet.range_ordering``)."""
    return [models.Index(fields=[field, "id"], name=f"{prefix}_order"),
            models.Index(models.F(field).desc(nulls_last=True), models.F("id").desc(),
                         name=f"{prefix}_order_desc")]
