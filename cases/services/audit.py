"""The audit trail: every create, update and void of a register record, from any channel.

Signals (``cases.signals``) call ``before_save``/``after_save`` around every save, so the API,
the admin and the loader leave the same rows without each remembering to.
"""

import json

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder

from cases.context import current_actor
from cases.models import AuditAction, AuditEntry, RegisterModel


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
        if {k: v for k, v in before.items() if k != "modified"} == {
                k: v for k, v in after.items() if k != "modified"}:
            return  # saved without a change
    actor = current_actor()
    AuditEntry.objects.create(
        action=action, via=actor.via, actor=actor.label, user_id=actor.user_id,
        token_id=actor.token_id, request_id=actor.request_id,
        content_type=ContentType.objects.get_for_model(instance), object_id=instance.pk,
        before=before, after=after,
    )


def history(record):
    """The record's audit entries, oldest first."""
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(record),
                                     object_id=record.pk).order_by("occurred_at", "id")
