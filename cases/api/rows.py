"""List pages rendered straight from database rows: no model instances, no serializer loop.

A list page without ``expand`` shows each record's columns, its url, its forward relations
in brief form (id, url, display text) and its parts (a case's registration numbers, a
document's signatories) with their own columns and briefs. For such a page, building model
instances (the record, every joined relation, every part) and walking the serializer for
each was most of a page's time: a sync client reading 500 cases a page was held to a few
thousand records a second.

``layout(serializer)`` reads the serializer's fields once and says how to produce each from
a row, or ``None`` when a field is anything else (a method field other than ``url``, an
expanded relation, a serializer that renders itself its own way); that list is then served
the ordinary way. ``render_page`` selects exactly the needed columns with ``values_list``
(one query, the briefs' columns joined), one query per part list, and fills the dicts in
the serializer's field order. Conversions, masking of confidential records for uncleared
readers, tombstones and urls are the serializers' own functions, and
``tests/test_api_plan.py`` checks every collection byte for byte against plain DRF.
"""

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Model, TextField, UUIDField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from rest_framework import fields as f
from rest_framework import serializers

from cases.confidentiality import MASK, protected_fields

from .fields import Related
from .plan import converter
from .serializers import (
    ExpandableMixin,
    PartSerializer,
    RegisterSerializer,
    request_cleared,
    tombstone,
    url_parts,
)


@dataclass
class Brief:
    """A forward relation shown in brief form: ``{"id", "url", "display"}`` or null."""

    name: str
    path: str  # lookup from the listed model, e.g. "municipality"
    model: type[Model]
    display: str  # column shown as display; "title" is masked for confidential records

    @cached_property
    def masked(self) -> bool:
        """Whether the display is a title that confidential records hide."""
        names = {f.name for f in self.model._meta.concrete_fields}
        return self.display == "title" and {"confidential", "public_title"} <= names

    @property
    def columns(self) -> list[str]:
        extra = ["confidential", "public_title"] if self.masked else []
        return [f"{self.path}__id", *(f"{self.path}__{c}" for c in (self.display, *extra))]


@dataclass
class Parts:
    """A list of parts (registration numbers, signatories ...) read by a second query."""

    name: str
    model: type[Model]
    parent: str  # the part's foreign key to the record, e.g. "case_id"
    layout: "Layout"


@dataclass
class Layout:
    """How each output field of one serializer comes out of a row."""

    model: type[Model]
    steps: list = field(default_factory=list)  # (name, kind, detail) in output order
    columns: list[str] = field(default_factory=list)  # values_list arguments

    def add_column(self, name: str) -> int:
        if name not in self.columns:
            self.columns.append(name)
        return self.columns.index(name)

    @cached_property
    def selected(self) -> list:
        """``values_list`` arguments: uuids are read as text (PostgreSQL writes them as
        DRF does), which saves building a ``uuid.UUID`` for each only to print it."""
        return [Cast(c, TextField()) if _is_uuid(self.model, c) else c for c in self.columns]

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.columns)}

    @cached_property
    def parts(self) -> list[Parts]:
        return [detail for _, kind, detail in self.steps if kind == "parts"]


def _is_uuid(model, path: str) -> bool:
    field = None
    for name in path.split("__"):
        field = model._meta.get_field(name)
        model = field.related_model
    if field.is_relation:
        field = field.target_field
    return isinstance(field, UUIDField)


_LAYOUTS: dict[type, Layout | None] = {}


def layout_for(serializer_class) -> Layout | None:
    """The layout of ``serializer_class``'s records on a list page without ``expand``, or
    None if one of its fields needs the serializer (worked out once per class)."""
    if serializer_class not in _LAYOUTS:
        serializer = serializer_class(context={"expand": {}})
        _LAYOUTS[serializer_class] = (
            _layout(serializer, record=True)
            if type(serializer).to_representation is RegisterSerializer.to_representation
            else None)
    return _LAYOUTS[serializer_class]


def _layout(serializer, *, record: bool) -> Layout | None:
    model = serializer.Meta.model
    concrete = {c.name: c for c in model._meta.concrete_fields}
    result = Layout(model=model)
    result.add_column("id")
    for item in serializer._readable_fields:
        name, source = item.field_name, item.source
        if (type(item).get_attribute is f.Field.get_attribute and source in concrete
                and not concrete[source].is_relation):
            index = result.add_column(concrete[source].attname)
            result.steps.append((name, "column", (index, converter(item))))
        elif (record and isinstance(item, f.SerializerMethodField) and name == "url"
              and type(serializer).get_url is RegisterSerializer.get_url):
            result.steps.append((name, "url", None))
        elif (isinstance(item, Related) and not item.many and source in concrete
              and getattr(item.resource().brief, "columns", None)
              and type(item).get_attribute is Related.get_attribute):
            brief = Brief(name, source, concrete[source].related_model,
                          item.resource().brief.columns[1])
            first = len(result.columns)
            for column in brief.columns:
                result.add_column(column)
            result.steps.append((name, "brief", (brief, first)))
        elif (record and isinstance(item, serializers.ListSerializer)
              and isinstance(item.child, PartSerializer)
              and type(item.child).to_representation is ExpandableMixin.to_representation):
            relation = model._meta.get_field(source)
            child = _layout(item.child, record=False)
            if child is None or not relation.one_to_many:
                return None
            child.add_column(relation.field.attname)
            result.steps.append((name, "parts", Parts(name, relation.related_model,
                                                      relation.field.attname, child)))
        else:
            return None
    if record:
        for column in ("voided_at", "modified", *(
                ("confidential", "public_title") if "confidential" in concrete else ())):
            result.add_column(column)
    return result


def render_page(page_layout: Layout, page_ids, ordering, attname: str, *, request,
                tombstones: bool) -> tuple[list[dict], list[tuple]]:
    """The rendered records of the page whose ids ``page_ids`` selects, and each one's
    position for the cursor: (value of ``attname``, id)."""
    columns = page_layout.columns
    order_column = columns.index(attname) if attname in columns else len(columns)
    rows = list(page_layout.model._base_manager.filter(pk__in=page_ids).order_by(*ordering)
                .values_list(*page_layout.selected,
                             *([attname] if order_column == len(columns) else [])))
    page = _Page(request=request, cleared=request_cleared(request), tombstones=tombstones)
    # the page's ids as one array parameter, not hundreds of parameters Django converts
    page_ids_array = RawSQL("SELECT unnest(%s::uuid[])", [[row[0] for row in rows]])
    parts = {}
    for part in page_layout.parts:
        grouped: dict = {}
        parent = part.layout.index[part.parent]
        for row in (part.model._default_manager.filter(**{f"{part.parent}__in": page_ids_array})
                    .values_list(*part.layout.selected)):
            grouped.setdefault(row[parent], []).append(row)
        parts[part.name] = grouped
    return ([page.record(page_layout, row, parts) for row in rows],
            [(row[order_column], row[0]) for row in rows])


class _Page:
    """What rendering a page needs once: the reader's clearance, url prefixes, memos."""

    def __init__(self, *, request, cleared: bool, tombstones: bool):
        self.request, self.cleared, self.tombstones = request, cleared, tombstones
        self.briefs: dict = {}  # (model, id) -> brief dict; the same for every record
        self.urls: dict = {}

    def url(self, model, pk: str) -> str:
        parts = self.urls.get(model)
        if parts is None:
            parts = self.urls[model] = url_parts(model, self.request)
        return f"{parts[0]}{pk}{parts[1]}"

    def record(self, page_layout: Layout, row: tuple, parts: dict) -> dict:
        model, index = page_layout.model, page_layout.index
        pk = str(row[0])
        if self.tombstones:
            voided_at = row[index["voided_at"]]
            if voided_at:
                return tombstone(pk, self.url(model, pk), voided_at, row[index["modified"]])
        data = self.fill(page_layout, row, parts, pk)
        if not self.cleared and "confidential" in index and row[index["confidential"]]:
            public_title = row[index["public_title"]]
            for name in protected_fields(model):
                if name in data:
                    data[name] = public_title if name == "title" else MASK
        return data

    def fill(self, page_layout: Layout, row: tuple, parts: dict, pk: str) -> dict:
        data = {}
        for name, kind, detail in page_layout.steps:
            if kind == "column":
                value = row[detail[0]]
                data[name] = None if value is None else detail[1](value)
            elif kind == "url":
                data[name] = self.url(page_layout.model, pk)
            elif kind == "brief":
                data[name] = self.brief(*detail, row)
            else:
                data[name] = [self.fill(detail.layout, item, {}, str(item[0]))
                              for item in parts[name].get(row[0], ())]
        return data

    def brief(self, brief: Brief, first: int, row: tuple) -> dict | None:
        related = row[first]
        if related is None:
            return None
        key = (brief.model, related)
        found = self.briefs.get(key)
        if found is None:
            display = row[first + 1]
            if brief.masked and row[first + 2] and not self.cleared:
                display = row[first + 3]  # the public title of a confidential record
            pk = str(related)
            found = self.briefs[key] = {"id": pk, "url": self.url(brief.model, pk),
                                        "display": str(display)}
        return found
