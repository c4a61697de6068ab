"""Load the register's demo data, the seed facts of ``fixtures/*.yaml`` (format:
fixtures/README.md), into an empty database or on request (``make demo``).

Every record's id is derived from its fixture key, and a record is written only when a
value differs from what is stored, so loading twice changes nothing (not even ``modified``).
A record whose last change in the audit trail was not the loader's (a registrar's edit) is
never overwritten nor voided: it is reported as a conflict and left as it is.
Everything loads in one transaction: a fixture with any error loads nothing.
"""

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction

from cases.context import Actor, acting_as
from cases.models import AuditEntry, Document, Link, Provenance, RegisterModel
from cases.policies import Frozen
from cases.services.records import create_record, update_record
from cases.services.voiding import void_record

from .anchoring import DOCS_DIR, AnchorError, anchor

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"
KEY_NAMESPACE = uuid.UUID("5b1c3e0a-6f0e-4d55-9a57-0c2a3c1f2e10")
# Fields the loader never takes from a fixture: timestamps, and the register's own state.
UNMANAGED_FIELDS = {"created", "modified", "voided_at", "void_reason", "voided_by"}
LOADER = Actor(label="loader", via="loader")


class FixtureError(ValueError):
    """A fixture is malformed, inconsistent or points at something that does not exist."""


def record_id(key: str) -> uuid.UUID:
    """The stable UUID of the record with fixture key ``key``."""
    return uuid.uuid5(KEY_NAMESPACE, key)


@dataclass
class FixtureRecord:
    key: str
    model: type[models.Model]
    fields: dict = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)  # each with its "document" file name
    files: list[str] = field(default_factory=list)


@dataclass
class Conflict:
    """A record the fixtures would change but someone other than the loader changed last."""

    key: str
    model: str
    pk: uuid.UUID
    fields: list[str]  # what the fixtures would change ("voided" for a dropped record)
    actor: str  # who changed it last ("" when the audit trail does not say)
    via: str
    when: object  # datetime or None

    def __str__(self):
        who = (f"{self.actor} via {self.via} at {self.when:%Y-%m-%d %H:%M}" if self.actor
               else "someone (no audit entry)")
        return (f"{self.key} ({self.model} {self.pk}): {', '.join(self.fields)} "
                f"— last changed by {who}; left as it is")


@dataclass
class LoadResult:
    created: dict = field(default_factory=lambda: defaultdict(int))
    updated: dict = field(default_factory=lambda: defaultdict(int))
    unchanged: dict = field(default_factory=lambda: defaultdict(int))
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


def read_fixtures(directory: Path = FIXTURES_DIR) -> dict[str, FixtureRecord]:
    """Read and merge every fixture file; the same key in several files is one record."""
    records: dict[str, FixtureRecord] = {}
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise FixtureError(f"no fixture files in {directory}")
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        default_doc = data.get("document")
        for raw in data.get("records") or []:
            key = raw.get("key") or ""
            where = f"{path.name}: {key or 'record without key'}"
            record = records.get(key) or FixtureRecord(key=key, model=_model_for_key(key, where))
            records[key] = record
            for name, value in (raw.get("fields") or {}).items():
                if name in record.fields and record.fields[name] != value:
                    raise FixtureError(f"{where}: {name}={value!r} conflicts with "
                                       f"{record.fields[name]!r} in {record.files}")
                record.fields[name] = value
            for source in raw.get("sources") or []:
                record.sources.append({"document": default_doc, **source})
            record.files.append(path.name)
    for record in records.values():
        if not record.sources:
            raise FixtureError(f"{record.key}: no source passage")
    return records


def _model_for_key(key: str, where: str) -> type[models.Model]:
    model_name, _, slug = key.partition("/")
    if not slug:
        raise FixtureError(f"{where}: key must look like <model>/<slug>")
    try:
        return apps.get_model("cases", model_name)
    except LookupError:
        raise FixtureError(f"{where}: unknown model {model_name!r}") from None


def load_register(*, directory: Path = FIXTURES_DIR, docs_dir: Path = DOCS_DIR,
                  progress=None) -> LoadResult:
    """Load every fixture record and its passages; write only what differs, and nothing into
    a record someone else changed last (those are ``result.conflicts``)."""
    with acting_as(LOADER), transaction.atomic():
        return _load(directory, docs_dir, progress)


def register_is_empty() -> bool:
    """Whether the database holds no register record at all (a fresh installation)."""
    return not any(model.objects.exists() for model in apps.get_app_config("cases").get_models()
                   if issubclass(model, RegisterModel))


def _last_changes(model, pks) -> dict:
    """Record id → its latest audit entry (who changed it last), for audited models."""
    if not issubclass(model, RegisterModel) or not pks:
        return {}
    entries = (AuditEntry.objects
               .filter(content_type=ContentType.objects.get_for_model(model), object_id__in=pks)
               .order_by("object_id", "-occurred_at", "-id").distinct("object_id")
               .only("object_id", "via", "actor", "occurred_at"))
    return {entry.object_id: entry for entry in entries}


def _conflict(model, pk, key, fields, last_changes) -> Conflict | None:
    """A conflict when the record's last change was not the loader's (or is not known)."""
    if not issubclass(model, RegisterModel):
        return None  # not audited: the loader's own rows (source passages)
    entry = last_changes.get(pk)
    if entry is not None and entry.via == LOADER.via:
        return None
    return Conflict(key=key, model=model._meta.model_name, pk=pk, fields=sorted(fields),
                    actor=entry.actor if entry else "", via=entry.via if entry else "",
                    when=entry.occurred_at if entry else None)


def _load(directory, docs_dir, progress) -> LoadResult:
    records = read_fixtures(directory)
    documents = _source_documents(records, docs_dir)
    result = LoadResult()
    by_model: dict[type, list[FixtureRecord]] = defaultdict(list)
    for record in records.values():
        by_model[record.model].append(record)
    for model, group in by_model.items():
        if progress:
            progress(f"{model._meta.verbose_name_plural}: {len(group)}")
        stored = model.objects.in_bulk([record_id(r.key) for r in group])
        last_changes = _last_changes(model, list(stored))
        for record in group:
            values = _values(record, records, documents)
            pk = record_id(record.key)
            _save(model, pk, record.key, values, stored.get(pk), result, last_changes)
    _load_passages(records, documents, result, swedish_notes(directory))
    _void_dropped(records, result)
    return result


def _void_dropped(records, result: LoadResult) -> None:
    """Void records an earlier load created that the fixtures no longer hold (a renamed key,
    a removed fact): registered records are voided, never deleted."""
    loaded = {record_id(key) for key in records}
    sourced = Provenance.objects.values_list("content_type", "object_id").order_by().distinct()
    for content_type_id, object_id in sourced:
        if object_id in loaded:
            continue
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        record = model.objects.filter(pk=object_id, voided_at__isnull=True).first()
        if record is None:
            continue
        conflict = _conflict(model, object_id, str(record), ["voided"],
                             _last_changes(model, [object_id]))
        if conflict:
            result.conflicts.append(conflict)
        else:
            void_record(record=record, reason="No longer in the seed fixtures.")
            result.updated[model._meta.model_name] += 1


def _source_documents(records, docs_dir: Path) -> dict[str, tuple[str, str]]:
    """Map each source file name to (document key, text); every file must have a record."""
    documents = {}
    for record in records.values():
        if record.model is Document and record.fields.get("source_file"):
            name = record.fields["source_file"]
            path = docs_dir / name
            if not path.exists():
                raise FixtureError(f"{record.key}: source file {name} not in {docs_dir}")
            documents[name] = (record.key, path.read_bytes().decode("utf-8"))
    for path in sorted(docs_dir.glob("*.txt")):
        if path.name not in documents:
            raise FixtureError(f"{path.name} has no document record in the fixtures")
    return documents


def _values(record: FixtureRecord, records, documents) -> dict:
    """Column values (by attname) for a record, relations resolved to derived ids."""
    model = record.model
    # A field the fixture leaves out is stored as unknown (its default), also when an
    # earlier version of the fixture gave it a value.
    values = {f.attname: f.get_default() for f in model._meta.concrete_fields
              if f.editable and not f.primary_key and f.name not in UNMANAGED_FIELDS}
    for name, value in record.fields.items():
        if model is Link and name in ("source", "target"):
            target = _referenced(record, name, value, records)
            values[f"{name}_type_id"] = ContentType.objects.get_for_model(target.model).pk
            values[f"{name}_id"] = record_id(value)
            continue
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            raise FixtureError(f"{record.key}: {model.__name__} has no field {name!r}") from None
        if model_field.is_relation:
            if value is None:
                values[model_field.attname] = None
                continue
            target = _referenced(record, name, value, records)
            if target.model is not model_field.related_model:
                raise FixtureError(f"{record.key}: {name} must point at a "
                                   f"{model_field.related_model._meta.model_name}, not {value}")
            values[model_field.attname] = record_id(value)
        else:
            values[model_field.attname] = _clean(record, model_field, value)
    if model is Document and record.fields.get("source_file"):
        text = documents[record.fields["source_file"]][1]
        values["text"] = text
        values["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return values


def _referenced(record, name, key, records) -> FixtureRecord:
    if key not in records:
        raise FixtureError(f"{record.key}: {name} points at unknown record {key!r}")
    return records[key]


def _clean(record, model_field, value):
    if value is None and not model_field.null:
        value = ""  # an omitted text is stored empty, never as a guess
    try:
        value = model_field.to_python(value)
        if value not in (None, ""):
            model_field.validate(value, None)
    except ValidationError as exc:
        raise FixtureError(f"{record.key}: {model_field.name}: {'; '.join(exc.messages)}") from None
    return value


def _save(model, pk, key, values, existing, result: LoadResult, last_changes=None) -> None:
    """Create or change one record: register records through the write services (the same
    rules and validation as every channel, as the system), source passages directly."""
    label = model._meta.model_name
    register = issubclass(model, RegisterModel)
    if existing is None:
        obj = model(id=pk, **values)
        _check_required(key, obj)
        if register:
            create_record(model=model, values={"id": pk, **values}, relations_later=True)
        else:
            obj.save(force_insert=True)
        result.created[label] += 1
        return
    changed = [name for name, value in values.items() if getattr(existing, name) != value]
    if not changed:
        result.unchanged[label] += 1
        return
    conflict = _conflict(model, pk, key, changed, last_changes or {})
    if conflict:
        result.conflicts.append(conflict)
        return
    if not register:
        for name in changed:
            setattr(existing, name, values[name])
        existing.save(update_fields=[*changed, "modified"])
    else:
        try:
            update_record(record=existing, changes={name: values[name] for name in changed},
                          relations_later=True)
        except Frozen:  # voided by an earlier load, back in the fixtures: stays voided
            result.conflicts.append(Conflict(
                key=key, model=label, pk=pk, fields=sorted(changed), actor=existing.voided_by,
                via="void", when=existing.voided_at))
            return
    result.updated[label] += 1


def _check_required(key, obj) -> None:
    relations = [f.name for f in obj._meta.concrete_fields if f.is_relation]
    try:
        obj.clean_fields(exclude=relations)
    except ValidationError as exc:
        raise FixtureError(f"{key}: {exc.message_dict}") from None
    for f in obj._meta.concrete_fields:
        if f.is_relation and not f.null and getattr(obj, f.attname) is None:
            raise FixtureError(f"{key}: {f.name} is required")


def swedish_notes(directory: Path = FIXTURES_DIR) -> dict[str, str]:
    """The Swedish wording of the passages' notes (``sv/notes.yaml``), by English note."""
    path = directory / "sv" / "notes.yaml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _load_passages(records, documents, result: LoadResult, notes_sv: dict) -> None:
    """Create each record's provenance rows; remove rows whose passage left the fixtures."""
    wanted = {}
    for record in records.values():
        content_type = ContentType.objects.get_for_model(record.model)
        for source in record.sources:
            doc_name = source.get("document")
            if doc_name not in documents:
                raise FixtureError(f"{record.key}: source document {doc_name!r} is not loaded")
            doc_key, text = documents[doc_name]
            try:
                anchor(text, source)
            except (AnchorError, KeyError) as exc:
                raise FixtureError(f"{record.key}: passage not anchored: {exc}") from None
            pk = record_id(f"{record.key}#{doc_name}:{source['start']}-{source['end']}")
            wanted[pk] = dict(
                content_type_id=content_type.pk, object_id=record_id(record.key),
                document_id=record_id(doc_key), exact=source["exact"],
                prefix=source.get("prefix", ""), suffix=source.get("suffix", ""),
                start=source["start"], end=source["end"], note=source.get("note", ""),
                note_sv=notes_sv.get(source.get("note", ""), ""),
            )
    loaded_ids = [record_id(key) for key in records]
    stored = Provenance.objects.filter(object_id__in=loaded_ids).in_bulk()
    stale = [pk for pk in stored if pk not in wanted]
    if stale:
        Provenance.objects.filter(pk__in=stale).delete()
        result.updated["provenance"] += len(stale)
    for pk, values in wanted.items():
        _save(Provenance, pk, f"passage {pk}", values, stored.get(pk), result)
