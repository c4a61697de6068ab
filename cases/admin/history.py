"""Change history in the admin, read from the one audit trail that API, admin and loader
edits all leave: who, when, through which channel, and each field before and after.
Protected fields of confidential records are masked for users without clearance."""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from cases.confidentiality import is_withheld, mask_snapshot
from cases.selectors import labelled

from .confidentiality import is_cleared, public_label

HIDDEN = {"id", "created", "modified", "version"}
LONGEST = 200  # characters of a value shown; full texts are on the record's own page


def admin_url(record) -> str:
    """The admin page of ``record`` ('' when it has none)."""
    try:
        return reverse(f"admin:{record._meta.app_label}_{record._meta.model_name}_change",
                       args=[record.pk])
    except NoReverseMatch:
        return ""


class Labels:
    """Records of a page by (model, id), loaded once and in bulk, and their labels as this
    reader may see them (public labels unless ``cleared``)."""

    def __init__(self, *, cleared: bool = False):
        self.cleared = cleared
        self._records: dict = {}

    def add(self, records) -> None:
        """Remember records the page has loaded already."""
        for record in records:
            self._records[(type(record), str(record.pk))] = record

    def load(self, pairs) -> None:
        """Load the (model, id) pairs not loaded yet: one query per model."""
        wanted: dict = {}
        for model, pk in pairs:
            if model is not None and (model, str(pk)) not in self._records:
                wanted.setdefault(model, set()).add(str(pk))
        for model, ids in wanted.items():
            found = _for_labels(model).in_bulk(list(ids))
            for pk in ids:
                record = found.get(pk) or found.get(_as_key(model, pk))
                self._records[(model, pk)] = record

    def get(self, model, pk):
        self.load([(model, pk)])
        return self._records[(model, str(pk))]

    def of(self, model, pk) -> str:
        record = self.get(model, pk)
        if record is None:
            return str(pk)
        if isinstance(record, ContentType):
            return str(record.name)
        return str(record) if self.cleared else public_label(record)


def _for_labels(model):
    """``model``'s rows with what their labels name (an organisation's municipality, a
    link's two ends) joined or prefetched, instead of a query per row."""
    if model is ContentType:
        return ContentType.objects.all()
    related = [f.name for f in model._meta.concrete_fields if f.many_to_one]
    generic = [f.name for f in model._meta.private_fields if isinstance(f, GenericForeignKey)]
    return model._default_manager.select_related(*related).prefetch_related(*generic)


def _as_key(model, pk):
    try:
        return model._meta.pk.to_python(pk)
    except ValidationError:  # no key of this model: not found
        return None


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


def describe(entry, *, cleared: bool, labels: Labels, withheld: bool | None = None) -> dict:
    """One audit entry for display: when, who, what, and the fields that changed (what is
    withheld of the record masked, unless ``cleared``)."""
    model = entry.content_type.model_class()
    if withheld is None:
        withheld = bool(model and not cleared and is_withheld(labels.get(model, entry.object_id)))
    before = mask_snapshot(entry.before, model, cleared=cleared, withheld=withheld) or {}
    after = mask_snapshot(entry.after, model, cleared=cleared, withheld=withheld) or {}
    changes = []
    for attname in after.keys() | before.keys():
        if attname in HIDDEN or before.get(attname) == after.get(attname):
            continue
        if not entry.before and after.get(attname) in (None, "", False):
            continue  # a new record: only the values it was given
        try:
            field = _field(model, attname)
        except FieldDoesNotExist:
            relation = _parts_relation(model, attname)
            if relation is not None:  # parts removed (voided) or added
                changes.append(_parts_change(relation, before.get(attname),
                                             after.get(attname), labels))
            continue
        changes.append({"field": str(field.verbose_name), "order": field.creation_counter,
                        "before": _shown(field, before.get(attname), labels) if entry.before
                        else "", "after": _shown(field, after.get(attname), labels)})
    changes.sort(key=lambda change: change["order"])
    label = labels.of(model, entry.object_id) if model else str(entry.object_id)
    return {"entry": entry, "heading": labelled(entry.content_type.name, label),
            "label": label, "changes": changes}


def _parts_relation(model, name):
    """``model``'s relation to its parts called ``name`` (``attachments``), if it is one."""
    for relation in model._meta.related_objects if model is not None else ():
        if relation.one_to_many and relation.get_accessor_name() == name:
            return relation
    return None


def _parts_change(relation, before, after, labels: Labels) -> dict:
    """A change of a record's parts (``cases.services.audit.record_parts_change``): the
    parts that left it as before, the parts that came as after, each by its label."""
    before, after = before or [], after or []
    part = relation.related_model

    def shown(ids) -> str:
        text = ", ".join(labels.of(part, pk) for pk in ids)
        return "–" if not text else text if len(text) <= LONGEST else text[:LONGEST] + "…"

    return {"field": str(part._meta.verbose_name_plural), "order": PARTS_ORDER,
            "before": shown([pk for pk in before if pk not in after]),
            "after": shown([pk for pk in after if pk not in before])}


PARTS_ORDER = 1 << 30  # a record's parts come after its fields


def describe_all(entries, request, labels: Labels | None = None) -> list[dict]:
    """``entries`` described for the user of ``request`` (records loaded in bulk)."""
    cleared = is_cleared(request)
    labels = labels or Labels(cleared=cleared)
    entries = list(entries)
    labels.load((entry.content_type.model_class(), entry.object_id) for entry in entries)
    labels.load(_referenced(entries))
    return [describe(entry, cleared=cleared, labels=labels) for entry in entries]


def _referenced(entries):
    """(model, id) of every record the entries' values point to."""
    for entry in entries:
        model = entry.content_type.model_class()
        if model is None:
            continue
        relations = {f.attname: f.related_model for f in model._meta.concrete_fields
                     if f.many_to_one}
        for values in (entry.before or {}, entry.after or {}):
            for attname, related in relations.items():
                if values.get(attname) is not None:
                    yield related, values[attname]
            for name, ids in values.items():
                if isinstance(ids, list) and (relation := _parts_relation(model, name)):
                    yield from ((relation.related_model, pk) for pk in ids)

