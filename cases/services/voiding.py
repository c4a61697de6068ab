"""Voiding (makulering): the one way a registered record leaves the register (API and admin).

A voided record is never deleted: it keeps who voided it, when and why, stays readable by
id, and sync clients see it as a tombstone. Voiding a part of a record (a registration
number of a case, an attachment of a document, a point of a decision ...) is also a change
of that record: its audit trail gets an update naming the part removed.
"""

from functools import cache

from django.db import models
from django.utils import timezone

from cases.context import current_actor
from cases.models import RegisterModel
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


def void_record(*, record: RegisterModel, reason: str,
                part_of_field: models.ForeignKey | None = None) -> RegisterModel:
    """Void ``record`` (already row-locked by the caller's transaction) with ``reason``.

    When ``record`` is a part of another record (``part_of_field``, by default
    ``part_of(type(record))``), the removal is recorded as a change of that record too:
    an update in its audit trail with its live parts before and after, and a new
    ``modified`` so that readers syncing it see the change.
    """
    if record.voided_at:
        raise ValueError(f"{record.pk} is already voided")
    if not reason.strip():
        raise ValueError("a reason is required")
    field = part_of_field or part_of(type(record))
    parent_id = getattr(record, field.attname) if field is not None else None
    live_before = _live_parts(type(record), field, parent_id) if parent_id else None
    record.voided_at = timezone.now()
    record.void_reason = reason.strip()
    record.voided_by = current_actor().label
    record.save()
    if parent_id:
        parent_model = field.related_model
        parent_model._default_manager.filter(pk=parent_id).update(modified=timezone.now())
        record_parts_change(
            parent_model=parent_model, parent_id=parent_id,
            relation=field.remote_field.get_accessor_name(),
            before=live_before, after=_live_parts(type(record), field, parent_id))
    return record


def _live_parts(model, field, parent_id) -> list[str]:
    """Ids of the parent's parts of this kind that are not voided, in the model's order."""
    return [str(pk) for pk in model._default_manager.filter(
        **{field.attname: parent_id, "voided_at__isnull": True}).values_list("pk", flat=True)]
