"""Creating and changing register records: the one write path of the API, the admin and the
loader (registering and voiding have their own services, ``registration`` and ``voiding``,
under the same rules).

Each write runs in one transaction: the record is row-locked, the rules of
``cases.policies`` are asked (frozen, clearance, own cases, numbering) with the version the
writer read, the record is validated in full (``full_clean``: field rules and the database
constraints, in plain words) and saved. The audit trail and the search index follow by
signals (``cases.signals``); the version is counted by the database (migration 0020), and the
returned instance carries the new one.
"""

from collections.abc import Mapping

from django.db import models, transaction

from cases import policies
from cases.models import RegisterModel
from cases.services.parts import replace_parts

PARTS_VOID_REASON = "Left out of the {relation} in a write of the record."


def _set(record, values: Mapping) -> list:
    """Set the concrete values on ``record``; return the many-to-many ones for after saving."""
    later = []
    for name, value in values.items():
        field = _field(type(record), name)
        if field is not None and field.many_to_many:
            later.append((field.name, value))
        else:
            setattr(record, name, value)
    return later


def _field(model, name):
    try:
        return model._meta.get_field(name)
    except models.FieldDoesNotExist:
        return next((f for f in model._meta.concrete_fields if f.attname == name), None)


def _save(record, later, *, relations_later: bool) -> None:
    record.full_clean(exclude=[f.name for f in record._meta.concrete_fields if f.is_relation]
                      if relations_later else None)
    record.save()
    for name, value in later:
        getattr(record, name).set(value)


def _write_parts(record, parts: Mapping | None, *, created: bool = False) -> None:
    """Make each given list the record's live parts of that kind (``replace_parts``); the
    record's ``modified`` and (unless just created with them) its version follow."""
    for relation, items in (parts or {}).items():
        replace_parts(record=record, relation=relation, items=items,
                      reason=PARTS_VOID_REASON.format(relation=relation),
                      count_version=not created)
    if parts:
        record.refresh_from_db()


@transaction.atomic
def create_record(*, model: type[RegisterModel], values: Mapping, user=None,
                  parts: Mapping | None = None, relations_later: bool = False) -> RegisterModel:
    """Create a ``model`` record from ``values`` for ``user`` (None: the system, e.g. the
    loader). ``values`` by field name (relations as records, so the rules find the case a
    record is in); the system may also give attnames (``case_id``).

    ``relations_later``: the records this one points at may be created later in the same
    transaction (the loader's, in any order): their existence is left to the database's
    foreign keys, checked at commit; every other rule is validated here. ``parts``: relation
    (``authors``) -> the parts to create with it, each a mapping of field values
    (``cases.services.parts``)."""
    policies.check_write(user=user, model=model, before=None, values=values)
    record = model()
    later = _set(record, values)
    _save(record, later, relations_later=relations_later)
    _write_parts(record, parts, created=True)
    return record


def locked(*, record: RegisterModel, expected_version: int | None = None) -> RegisterModel:
    """``record`` as stored, row-locked until the transaction ends, after the rules that do
    not depend on the change: not voided, and (with ``expected_version``) not changed since
    the writer read it. The API asks it before validating a body, so a stale or voided
    record is reported as such whatever the body holds."""
    stored = type(record)._base_manager.select_for_update().get(pk=record.pk)
    policies.check_not_frozen(stored)
    policies.check_version(stored, expected_version)
    return stored


@transaction.atomic
def update_record(*, record: RegisterModel, changes: Mapping, expected_version: int | None = None,
                  user=None, parts: Mapping | None = None,
                  relations_later: bool = False) -> RegisterModel:
    """Change ``record`` by ``changes`` (field name or attname → value) for ``user``.

    ``expected_version``: the version the writer read (the API's If-Match, the admin form's
    hidden version); None for a writer that reads and writes under the lock itself. The
    change is made to the stored row (locked), not to the caller's copy, so nothing the
    caller holds beyond ``changes`` is written; the caller's ``record`` gets the saved
    version and timestamps, and the saved instance is returned. ``relations_later`` as for
    ``create_record``. ``parts``: relation -> the record's full list of parts of that kind
    (listed with an id: changed; without: added; live ones left out: voided).
    """
    stored = locked(record=record, expected_version=expected_version)
    policies.check_write(user=user, model=type(stored), before=stored, values=changes)
    later = _set(stored, changes)
    _save(stored, later, relations_later=relations_later)
    _write_parts(stored, parts)
    if stored is not record:
        for name in ("version", "modified"):
            setattr(record, name, getattr(stored, name))
    return stored
