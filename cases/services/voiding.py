"""Voiding (makulering): the one way a registered record leaves the register (API and admin).

A voided record is never deleted: it keeps who voided it, when and why, stays readable by
id, and sync clients see it as a tombstone.
"""

from django.utils import timezone

from cases.context import current_actor
from cases.models import RegisterModel


def void_record(*, record: RegisterModel, reason: str) -> RegisterModel:
    """Void ``record`` (already row-locked by the caller's transaction) with ``reason``."""
    if record.voided_at:
        raise ValueError(f"{record.pk} is already voided")
    if not reason.strip():
        raise ValueError("a reason is required")
    record.voided_at = timezone.now()
    record.void_reason = reason.strip()
    record.voided_by = current_actor().label
    record.save()
    return record
