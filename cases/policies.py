"""Who may change what in the register: the rules every write path asks, in one place.

The services (``cases.services.records``, ``registration``, ``voiding``) ask them for every
write, whoever calls (the API, the admin, the loader); the API and the admin ask them again
earlier only to answer in their own terms (the API's status codes in the right order, the
admin's form errors), never with rules of their own. A rule broken raises one of the
exceptions below, which the API maps to 403, 409 and 412 (``cases.api.problems``) and the
admin shows as form errors.

The rules:

- **frozen**: a voided record, and the parts of a voided record, stay as they were voided;
- **clearance**: without clearance a writer may mark a record confidential but never lift
  it, may not mark a record public (``marked_public``), and may not change (unseen) what is
  withheld of a withheld record;
- **own cases**: a case officer writes only inside the cases they own, at both ends of a
  move (``cases.roles.may_write``);
- **numbering**: registration numbers are allocated only by registering a case
  (``cases.services.registration``; the loader brings in those its sources record); a
  number given by mistake is voided;
- **status flow**: a case goes open (or decided) → closed → archived, and may be reopened
  while closed; an archived case keeps its status;
- **stale**: a write names the version of the record it was made to, and is refused when
  the record has changed since (``version``, counted by the database, migration 0020).

``user`` is who writes: a Django user, the API's token user (``token`` attribute), or None
for the system (the loader, management commands), which the user rules leave alone.
"""

from collections.abc import Mapping

from cases.confidentiality import PUBLIC_MARK, hidden_fields, is_withheld
from cases.roles import may_write

CLEARANCE_PERMISSION = "cases.view_confidential"
CONFIDENTIALITY = ("confidential", "confidentiality_basis", "public_title")


class PolicyError(Exception):
    """A write the register's rules refuse; ``message`` says why, in English (the API's
    language), ``code`` which rule (the admin shows its own translated text for each)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


class NotAllowed(PolicyError):
    """The writer may not make this change (clearance, own cases, numbering): HTTP 403."""


class Frozen(PolicyError):
    """The record (or the record it is a part of) is voided: HTTP 409."""


class OutOfOrder(PolicyError):
    """The write skips a step of a flow (archiving a case that is not closed, reopening an
    archived one): HTTP 409."""


class Stale(PolicyError):
    """The record changed after the writer read it: HTTP 412. ``expected`` is the version
    the write was made to, ``current`` the stored one."""

    def __init__(self, record, expected, current: int):
        super().__init__(
            f"The record has changed since you read it (you read version {expected}, it is "
            f"now at version {current}): GET it again, then retry.", "stale")
        self.record, self.expected, self.current = record, expected, current


def is_cleared(user) -> bool:
    """May ``user`` see (and so change) the protected details of confidential records?"""
    token = getattr(user, "token", None)
    if token is not None:
        return bool(token.cleared)
    return bool(user is not None and user.is_authenticated
                and user.has_perm(CLEARANCE_PERMISSION))


def check_not_frozen(record) -> None:
    """A voided record stays as it was voided."""
    if record is not None and getattr(record, "voided_at", None):
        raise Frozen("The record is voided and can no longer be changed.", "frozen")


def check_parent_not_frozen(model, values: Mapping) -> None:
    """A part is not added to, or moved into, a voided record (``values``: what is written,
    by field name or attname)."""
    from cases.services.voiding import part_of

    field = part_of(model)
    if field is None:
        return
    parent = values.get(field.name)
    if parent is None and values.get(field.attname) is not None:
        parent = field.related_model._base_manager.filter(
            pk=values[field.attname]).only("voided_at").first()
    if parent is not None and getattr(parent, "voided_at", None):
        raise Frozen(f"The {field.related_model._meta.verbose_name} this belongs to is voided "
                     "and can no longer be changed.", "frozen")


def check_clearance(*, user, model, before, values: Mapping) -> None:
    """Without clearance: no marking public, no lifting confidentiality, no change of what
    is withheld of a withheld record. ``before``: the stored record (None when creating)."""
    if user is None or is_cleared(user):
        return
    if values.get(PUBLIC_MARK) and not getattr(before, PUBLIC_MARK, False):
        raise NotAllowed("Marking a record of a confidential case public needs clearance.",
                         "clearance")
    if before is None or not is_withheld(before):
        return
    names = {f.name for f in model._meta.concrete_fields}
    guarded = {*hidden_fields(model), *(n for n in CONFIDENTIALITY if n in names), PUBLIC_MARK}
    touched = sorted(name for name in guarded
                     if name in values and values[name] != getattr(before, name, None))
    if touched:
        raise NotAllowed(
            "Changing the confidentiality or protected details of a confidential record "
            f"needs clearance ({', '.join(touched)}).", "clearance")


def check_own_cases(*, user, model, before, values) -> None:
    """A case officer writes only inside the cases they own (``before`` the stored record,
    ``values`` what is written: a mapping, or the record as it will be saved)."""
    if user is not None and not may_write(user, model, before, values):
        raise NotAllowed(
            "You may write only inside the cases you own: both the case the record is in and "
            "the case it would be in must be yours.", "own_cases")


def check_numbering(*, user, model) -> None:
    """Registration numbers come only from registering (the next of the series, under its
    lock): one typed in would have no serial and collide with the next one allocated. The
    system may write the numbers its sources record (the loader's historical cases)."""
    from cases.models import RegistrationNumber

    if model is RegistrationNumber and user is not None:
        raise NotAllowed("Registration numbers are allocated only by registering a case; a "
                         "number given by mistake is voided.", "numbering")


def check_status_flow(*, model, before, values: Mapping) -> None:
    """A case is archived only once closed, and an archived case stays archived (its closed
    date and closing record with it: ``Case.clean`` keeps them only while it is closed)."""
    from cases.models import Case, CaseStatus

    if model is not Case or before is None or "status" not in values:
        return
    old, new = before.status, values["status"]
    if old == new:
        return
    if old == CaseStatus.ARCHIVED:
        raise OutOfOrder("The case is archived: its status can no longer change.",
                         "status_flow")
    if new == CaseStatus.ARCHIVED and old != CaseStatus.CLOSED:
        raise OutOfOrder("Only a closed case can be archived: close it first.", "status_flow")


def check_version(record, expected_version) -> None:
    """The write was made to the record's current version (``expected_version``: the
    version the writer read; None for writers that read under the same lock)."""
    if expected_version is not None and expected_version != record.version:
        raise Stale(record, expected_version, record.version)


def check_write(*, user, model, before, values: Mapping) -> None:
    """Every rule on a create (``before`` None) or change of a record but the version: the
    services ask it; the API's serializers and the admin's forms ask it for their errors."""
    check_not_frozen(before)
    check_parent_not_frozen(model, values)
    check_numbering(user=user, model=model)
    check_clearance(user=user, model=model, before=before, values=values)
    check_own_cases(user=user, model=model, before=before, values=values)
    check_status_flow(model=model, before=before, values=values)


def may_change(*, user, record, frozen: bool = True) -> bool:
    """Whether ``user`` may change the stored ``record`` at all (what pages and permissions
    ask before any change is known): not voided (unless ``frozen`` is False, for callers
    that answer a voided record otherwise, the API's 409) and inside the user's cases."""
    try:
        if frozen:
            check_not_frozen(record)
        check_own_cases(user=user, model=type(record), before=record, values={})
    except PolicyError:
        return False
    return True


def check_void(*, user, record) -> None:
    """Voiding: not twice, and a case officer only inside their own cases."""
    check_not_frozen(record)
    check_own_cases(user=user, model=type(record), before=record, values={})
