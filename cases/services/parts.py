"""Writing the parts of a record (a motion's authors and proposals, a decision's points ...).

A part lives and dies with its record (``cases.services.voiding.part_of``: its one cascading
foreign key to a register record). A write gives a record's parts of one kind as the full
list: listed parts with an id are changed, listed parts without one are added, live parts not
listed are voided, never deleted. The whole list is one change of the record: one update in
its audit trail naming its parts before and after (as voiding one part does), and a new
``modified``, so that readers, ETags and mirrors see it; each part keeps its own trail too.
"""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cases.context import current_actor
from cases.services.audit import record_parts_change


class PartsConflict(Exception):
    """The parts cannot be stored in any order (two parts trading places, e.g. positions
    1 and 2 swapped): each would take the place the other still holds."""


def _reverse(record, relation: str):
    rel = next(r for r in record._meta.related_objects if r.get_accessor_name() == relation)
    return rel.related_model, rel.remote_field


def _live(part_model, field, record) -> dict:
    return {part.pk: part for part in part_model._default_manager.select_for_update().filter(
        **{field.attname: record.pk, "voided_at__isnull": True})}


@transaction.atomic
def replace_parts(*, record, relation: str, items: list[dict], reason: str,
                  count_version: bool = True) -> bool:
    """Make ``items`` the live parts of ``record`` under ``relation`` (e.g. ``authors``).

    Each item holds the part's field values (validated by the caller), with ``id`` for a
    live part of ``record`` to change. Parts not listed are voided with ``reason``. Returns
    whether anything changed. Raises ``PartsConflict`` when the parts cannot be stored
    (see there) and ValueError for an id that is no live part of the record."""
    part_model, field = _reverse(record, relation)
    live = _live(part_model, field, record)
    before = [str(pk) for pk in live]
    listed = {item["id"] for item in items if item.get("id") is not None}
    unknown = listed - set(live)
    if unknown:
        raise ValueError(f"not live parts of {record.pk}: {sorted(map(str, unknown))}")
    changed = False
    now, actor = timezone.now(), current_actor().label
    for pk, part in live.items():  # first, so that a voided part's place is free
        if pk not in listed:
            part.voided_at, part.void_reason, part.voided_by = now, reason, actor
            part.save()
            changed = True
    pending = []
    for item in items:
        values = {name: value for name, value in item.items() if name != "id"}
        if item.get("id") is None:
            part = part_model(**{field.name: record}, **values)
        else:
            part = live[item["id"]]
            if all(getattr(part, name) == value for name, value in values.items()):
                continue
            for name, value in values.items():
                setattr(part, name, value)
        part.full_clean(validate_unique=False, validate_constraints=False)
        pending.append(part)
    _save_in_turn(pending)
    changed = changed or bool(pending)
    if changed:
        after = [str(pk) for pk in _live(part_model, field, record)]
        # A new version of the record, also when the parts' own triggers (migration 0020)
        # count none: a record created in this same transaction, a test's or a batch's.
        type(record)._default_manager.filter(pk=record.pk).update(
            modified=timezone.now(), **({"version": F("version") + 1} if count_version else {}))
        record_parts_change(parent_model=type(record), parent_id=record.pk,
                            relation=relation, before=before, after=after)
    return changed


def _save_in_turn(parts: list) -> None:
    """Save ``parts`` in an order in which none takes a place (a position, a number) that
    another still holds: 1 -> 2 waits until 2 -> 3 is stored. A part whose save fails on
    a unique constraint is rolled back to its savepoint and tried again after the others."""
    while parts:
        waiting = []
        for part in parts:
            try:
                with transaction.atomic():
                    part.save()
            except IntegrityError:
                waiting.append(part)
        if len(waiting) == len(parts):
            raise PartsConflict(
                "These parts trade places with each other (e.g. positions swapped): "
                "store one at a free place first, then the rest.")
        parts = waiting
