"""Change history in the admin, read from the one audit trail that API, admin and loader
edits all leave: who, when, through which channel, and each field before and after.
Protected fields of confidential records are masked for users without clearance."""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from cases.confidentiality import mask_snapshot

from .confidentiality import is_cleared, public_label

HIDDEN = {"id", "created", "modified"}
LONGEST = 200  # characters of a value shown; full texts are on the record's own page


def admin_url(record) -> str:
    """The admin page of ``record`` ('' when it has none)."""
    try:
        return reverse(f"admin:{record._meta.app_label}_{record._meta.model_name}_change",
                       args=[record.pk])
    except NoReverseMatch:
        return ""


class Labels:
    """Public labels of records by (model, id), each looked up once per page."""

    def __init__(self):
        self._seen: dict = {}

    def of(self, model, pk) -> str:
        key = (model, str(pk))
        if key not in self._seen:
            record = model._default_manager.filter(pk=pk).first()
            if isinstance(record, ContentType):
                self._seen[key] = str(record.name)
            else:
                self._seen[key] = public_label(record) if record else str(pk)
        return self._seen[key]


def _field(model, attname):
    for field in model._meta.concrete_fields:
        if field.attname == attname:
            return field
    raise FieldDoesNotExist(attname)


def _shown(field, value, labels: Labels) -> str:
    if value is None or value == "":
        return "–"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field.is_relation:
        return labels.of(field.related_model, value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    text = str(value)
    return text if len(text) <= LONGEST else text[:LONGEST] + "…"


def describe(entry, *, cleared: bool, labels: Labels, confidential: bool | None = None) -> dict:
    """One audit entry for display: when, who, what, and the fields that changed."""
    model = entry.content_type.model_class()
    if confidential is None:
        confidential = bool(model and model._default_manager.filter(
            pk=entry.object_id, confidential=True).exists()) if hasattr(
            model, "PROTECTED_FIELDS") else False
    before = mask_snapshot(entry.before, model, cleared=cleared, confidential=confidential) or {}
    after = mask_snapshot(entry.after, model, cleared=cleared, confidential=confidential) or {}
    changes = []
    for attname in after.keys() | before.keys():
        if attname in HIDDEN or before.get(attname) == after.get(attname):
            continue
        if not entry.before and after.get(attname) in (None, "", False):
            continue  # a new record: only the values it was given
        try:
            field = _field(model, attname)
        except FieldDoesNotExist:
            continue
        changes.append({"field": str(field.verbose_name), "order": field.creation_counter,
                        "before": _shown(field, before.get(attname), labels) if entry.before
                        else "", "after": _shown(field, after.get(attname), labels)})
    changes.sort(key=lambda change: change["order"])
    return {"entry": entry, "type": entry.content_type.name,
            "label": labels.of(model, entry.object_id) if model else str(entry.object_id),
            "changes": changes}


def describe_all(entries, request) -> list[dict]:
    cleared, labels = is_cleared(request), Labels()
    return [describe(entry, cleared=cleared, labels=labels) for entry in entries]

