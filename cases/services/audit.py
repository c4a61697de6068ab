"""The audit trail: every create, update and void of a register record, from any channel.

Signals (``cases.signals``) call ``before_save``/``after_save`` around every save, so the API,
the admin and the loader leave the same rows without each remembering to. A part voided
(``cases.services.voiding``) is also recorded as an update of its record by
``record_parts_change``.
"""

import json

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder

from cases.context import current_actor
from cases.models import AuditAction, AuditEntry, RegisterModel
from cases.services import events

# Kept with every snapshot, but no change by themselves (the version follows the others).
COUNTERS = frozenset({"modified", "version"})


def snapshot(values: dict) -> dict:
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def _values(instance) -> dict:
    return snapshot({f.attname: getattr(instance, f.attname)
                     for f in instance._meta.concrete_fields})


def audited(model) -> bool:
    return issubclass(model, RegisterModel)


def before_save(instance) -> None:
    if instance._state.adding:
        instance._audit_before = None
        return
    row = type(instance)._default_manager.filter(pk=instance.pk).values().first()
    instance._audit_before = snapshot(row) if row else None


def after_save(instance, created: bool) -> None:
    before = getattr(instance, "_audit_before", None)
    after = _values(instance)
    if created or before is None:
        action = AuditAction.CREATE
    elif not before.get("voided_at") and after.get("voided_at"):
        action = AuditAction.VOID
    else:
        action = AuditAction.UPDATE
        if {k: v for k, v in before.items() if k not in COUNTERS} == {
                k: v for k, v in after.items() if k not in COUNTERS}:
            return  # saved without a change
    _entry(action, ContentType.objects.get_for_model(instance), instance.pk, before, after,
           instance=instance)


def _entry(action, content_type, object_id, before, after, instance=None) -> AuditEntry:
    """The audit entry of a change and its event (``cases.services.events``), in the
    change's transaction: every recorded change is announced once, or not at all."""
    actor = current_actor()
    entry = AuditEntry.objects.create(
        action=action, via=actor.via, actor=actor.label, user_id=actor.user_id,
        token_id=actor.token_id, request_id=actor.request_id,
        content_type=content_type, object_id=object_id, before=before, after=after,
    )
    events.emit(entry, instance=instance)
    return entry


def record_parts_change(*, parent_model, parent_id, relation: str, before: list[str],
                        after: list[str]) -> AuditEntry:
    """An update of the record ``parent_id`` whose parts under ``relation`` (its reverse
    accessor, e.g. ``attachments``) changed from the ids ``before`` to ``after``.

    Parts are named by id, never by a text of theirs: the record's history shows the parts'
    labels as each reader may see them (a confidential document's attachment titles stay
    withheld), and the part's own history has its void with who, when and why.
    """
    return _entry(AuditAction.UPDATE, ContentType.objects.get_for_model(parent_model),
                  parent_id, {relation: before}, {relation: after})


def history(record):
    """The record's audit entries, oldest first."""
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(record),
                                     object_id=record.pk).order_by("occurred_at", "id")
