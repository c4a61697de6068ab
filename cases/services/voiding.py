"""Voiding (makulering): the one way a registered record leaves the register (API and admin).

A voided record is never deleted: it keeps who voided it, when and why, stays readable by
id, and sync clients see it as a tombstone. Voiding a part of a record (a registration
number of a case, an attachment of a document, a point of a decision ...) is also a change
of that record: its audit trail gets an update naming the part removed.
"""

from functools import cache

from django.db import models, transaction
from django.utils import timezone

from cases import policies
from cases.context import current_actor
from cases.models import RegisterModel
from cases.services import records  # (module import: records imports parts imports us)
from cases.services.audit import record_parts_change


@cache
def part_of(model) -> models.ForeignKey | None:
    """The foreign key from ``model`` to the record it is a part of, or None for a record
    in its own right.

    A part cannot outlive its record: its one foreign key to another register record that
    cascades (``on_delete=CASCADE``) names it. Records with a life of their own (a case's
    documents, an organisation's sub-organisations) point to their case or parent with
    PROTECT or SET_NULL and are not parts. Read from the models, so a new part is covered
    without anyone listing it.
    """
    cascading = [field for field in model._meta.concrete_fields
                 if field.many_to_one and field.remote_field.on_delete is models.CASCADE
                 and isinstance(field.related_model, type)
                 and issubclass(field.related_model, RegisterModel)]
    return cascading[0] if len(cascading) == 1 else None


@transaction.atomic
def void_record(*, record: RegisterModel, reason: str,
                part_of_field: models.ForeignKey | None = None,
                expected_version: int | None = None, user=None) -> RegisterModel:
    """Void ``record`` with ``reason`` for ``user`` (None: the system), the row locked and
    the rules of ``cases.policies`` asked (not voided already, own cases, and the version the
    writer read when ``expected_version`` is given).

    When ``record`` is a part of another record (``part_of_field``, by default
    ``part_of(type(record))``), the removal is recorded as a change of that record too: an
    update in its audit trail with its live parts before and after, and a new ``modified``
    (its new version is counted by the database, migration 0020). ``record`` gets the
    voided state; the saved instance is returned.
    """
    if not reason.strip():
        raise ValueError("a reason is required")
    stored = records.locked(record=record, expected_version=expected_version)
    policies.check_void(user=user, record=stored)
    field = part_of_field or part_of(type(stored))
    parent_id = getattr(stored, field.attname) if field is not None else None
    live_before = _live_parts(type(stored), field, parent_id) if parent_id else None
    stored.voided_at = timezone.now()
    stored.void_reason = reason.strip()
    stored.voided_by = current_actor().label
    stored.save()
    if stored is not record:
        for name in ("voided_at", "void_reason", "voided_by", "version", "modified"):
            setattr(record, name, getattr(stored, name))
    if parent_id:
        parent_model = field.related_model
        parent_model._default_manager.filter(pk=parent_id).update(modified=timezone.now())
        record_parts_change(
            parent_model=parent_model, parent_id=parent_id,
            relation=field.remote_field.get_accessor_name(),
            before=live_before, after=_live_parts(type(stored), field, parent_id))
    return stored


def _live_parts(model, field, parent_id) -> list[str]:
    """Ids of the parent's parts of this kind that are not voided, in the model's order."""
    return [str(pk) for pk in model._default_manager.filter(
        **{field.attname: parent_id, "voided_at__isnull": True}).values_list("pk", flat=True)]
