"""Records rendered straight from database rows: no model instances, no serializer loop.

A record shows its columns, its url, its forward relations in brief form (id, url, display
text), its parts (a case's registration numbers, a document's signatories) and, with
``expand``, its related records in full (a case's documents, each with its own parts).
Building model instances for all of these and walking the serializer for each was most of
a request's time: a sync client reading 500 cases a page was held to a few thousand records
a second, and a case with its documents, motions, referrals and decisions expanded took
ten ORM-compiled queries and hundreds of instances.

``layout_for(serializer_class, expand)`` reads the serializer's fields once (per class and
expand tree) and says how to produce each from a row, or gives ``None`` when a field is
anything else (a method field other than ``url``, an expanded forward relation, a
serializer that renders itself its own way); such requests are served the ordinary way.
``render_page`` selects exactly the needed columns with ``values_list`` (one query, the
briefs' columns joined) and one query per part list or expanded relation (the parent ids
passed as one array), and fills the dicts in the serializer's field order. Conversions,
masking of confidential records for uncleared readers, tombstones and urls are the
serializers' own functions, and ``tests/test_api_plan.py`` checks every collection, plain
and with everything expanded, byte for byte against plain DRF.
"""

import json
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connections
from django.db.models import (
    BooleanField,
    F,
    Func,
    ManyToOneRel,
    Model,
    TextField,
    UUIDField,
)
from django.db.models.functions import Cast
from rest_framework import fields as f
from rest_framework import serializers

from cases.confidentiality import (
    ANNOTATION,
    mask,
    public_fields,
    withheld_expression,
    withheld_label,
)

from .expand import related_ordering
from .fields import Related
from .plan import converter
from .serializers import (
    ExpandableMixin,
    PartSerializer,
    PassageSerializer,
    RegisterSerializer,
    request_cleared,
    tombstone,
    url_parts,
)


@dataclass
class Brief:
    """A forward relation shown in brief form: ``{"id", "url", "display"}`` or null."""

    model: type[Model]
    display: str  # column shown as display; withheld records show a public label instead

    @cached_property
    def masked(self) -> bool:
        """Whether the display can be withheld (it is not part of the public entry)."""
        return (withheld_expression(self.model) is not None
                and (self.display not in public_fields(self.model) or self.display == "title"))

    @cached_property
    def public_title(self) -> bool:
        return "public_title" in {f.name for f in self.model._meta.concrete_fields}

    def columns(self, path: str) -> list:
        """Column names, and (alias, expression) for the withheld status."""
        extra = [(f"{path}__{ANNOTATION}", withheld_expression(self.model, f"{path}__"))] \
            if self.masked else []
        if self.masked and self.public_title:
            extra.append(f"{path}__public_title")
        return [f"{path}__id", f"{path}__{self.display}", *extra]


@dataclass
class Layout:
    """How each output field of one serializer comes out of a row.

    ``record``: a register record (url, masking, tombstones) rather than a part of one.
    ``parent``: for a part list or an expanded relation, the foreign key to the record
    above it (e.g. ``case_id``)."""

    model: type[Model]
    record: bool
    parent: str | None = None
    steps: list = field(default_factory=list)  # (name, kind, detail) in output order
    columns: list[str] = field(default_factory=list)  # values_list arguments

    def add_column(self, name) -> int:
        """Add a column (a name, or (alias, expression)); its position in the row."""
        key = name[0] if isinstance(name, tuple) else name
        for i, column in enumerate(self.columns):
            if (column[0] if isinstance(column, tuple) else column) == key:
                return i
        self.columns.append(name)
        return len(self.columns) - 1

    @cached_property
    def selected(self) -> list:
        """``values_list`` arguments: uuids are read as text (PostgreSQL writes them as
        DRF does), which saves building a ``uuid.UUID`` for each only to print it."""
        return [c[1] if isinstance(c, tuple) else
                Cast(c, TextField()) if _is_uuid(self.model, c) else c for c in self.columns]

    @cached_property
    def index(self) -> dict[str, int]:
        return {(c[0] if isinstance(c, tuple) else c): i for i, c in enumerate(self.columns)}

    @cached_property
    def nested(self) -> list[tuple[str, "Layout"]]:
        return [(name, detail) for name, kind, detail in self.steps if kind == "nested"]

    def rows_under(self, ids: list[str]) -> list[tuple]:
        """The rows whose ``parent`` (for a top-level layout: whose id) is one of ``ids``,
        in the model's order."""
        statement = self.statement
        if statement is None:
            return list(self._queryset(ids))
        sql, params, slot, alias = statement
        with connections[alias].cursor() as cursor:  # Django's: connected, logged, wrapped
            if PreparedCursor is not None:
                cursor.cursor = PreparedCursor.on(cursor.cursor.connection)
            cursor.execute(sql, (*params[:slot], array(ids), *params[slot + 1:]))
            return cursor.fetchall()

    def _queryset(self, ids):
        queryset = self.model._default_manager.filter(AnyOf(self.parent or "id", ids))
        if self.parent and not self.record:  # a part list shows the live parts only
            queryset = queryset.filter(voided_at__isnull=True)
        return queryset.order_by(*related_ordering(self.model)).values_list(*self.selected)

    @cached_property
    def statement(self) -> tuple | None:
        """The query compiled once, (sql, params, where the ids go, database): the
        ORM compiled the same SQL on every request, which cost more than running it. None
        if a column needs converting in Python (then the ORM runs it)."""
        queryset = self._queryset(_IDS)
        compiler = queryset.query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        if compiler.get_converters([c[0] for c in compiler.select[:compiler.col_count]]):
            return None
        return sql, params, params.index(_IDS), queryset.db


def _is_uuid(model, path: str) -> bool:
    target = None
    for name in path.split("__"):
        target = model._meta.get_field(name)
        model = target.related_model
    if target.is_relation:
        target = target.target_field
    return isinstance(target, UUIDField)


_LAYOUTS: dict[tuple, Layout | None] = {}
_IDS = object()  # stands for the ids in a compiled nested query


def layout_for(serializer_class, expand: dict | None = None) -> Layout | None:
    """The layout of ``serializer_class``'s records under the ``expand`` tree, or None if
    one of its fields needs the serializer (worked out once per class and tree)."""
    key = (serializer_class, json.dumps(expand or {}, sort_keys=True))
    if key not in _LAYOUTS:
        serializer = serializer_class(context={"expand": expand or {}})
        own = type(serializer).to_representation
        _LAYOUTS[key] = (
            _layout(serializer, record=True)
            # passages: parts with a withheld status of their own (their document's)
            if own in (RegisterSerializer.to_representation, PassageSerializer.to_representation)
            else None)
    return _LAYOUTS[key]


def _layout(serializer, *, record: bool) -> Layout | None:
    model = serializer.Meta.model
    concrete = {c.name: c for c in model._meta.concrete_fields}
    tree = serializer.expand_tree
    result = Layout(model=model, record=record)
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
        elif (isinstance(item, Related) and not item.many and name not in tree
              and source in concrete and getattr(item.resource().brief, "columns", None)
              and type(item).get_attribute is Related.get_attribute):
            brief = Brief(concrete[source].related_model, item.resource().brief.columns[1])
            first = len(result.columns)
            for column in brief.columns(source):
                result.add_column(column)
            result.steps.append((name, "brief", (brief, first)))
        elif isinstance(item, serializers.ListSerializer) or (
                isinstance(item, Related) and item.many and name in tree):
            nested = _nested(model, item, tree.get(name, {})) if record else None
            if nested is None:
                return None
            result.steps.append((name, "nested", nested))
        else:
            return None
    if record:
        for column in ("voided_at", "modified", "public_title"):
            if column in concrete:
                result.add_column(column)
        expression = withheld_expression(model)
        if expression is not None:
            result.add_column((ANNOTATION, expression))
    return result


def _nested(model, item, subtree: dict) -> Layout | None:
    """A part list (registration numbers ...) or an expanded relation (documents ...),
    read by a query of its own on the foreign key to the record above."""
    relation = model._meta.get_field(item.source)
    if not isinstance(relation, ManyToOneRel) or not relation.one_to_many:
        return None
    if isinstance(item, serializers.ListSerializer):
        if not (isinstance(item.child, PartSerializer) and not subtree and
                type(item.child).to_representation is ExpandableMixin.to_representation):
            return None
        nested = _layout(item.child, record=False)
    else:
        found = layout_for(item.resource().full, subtree)  # shared: copied, not changed
        nested = None if found is None else Layout(
            model=found.model, record=True, steps=[*found.steps], columns=[*found.columns])
    if nested is None:
        return None
    nested.parent = relation.field.attname
    nested.add_column(nested.parent)
    return nested


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
    return page.render(page_layout, rows), [(row[order_column], row[0]) for row in rows]


try:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        """Runs each query as a prepared statement: PostgreSQL plans it once per connection.

        The compiled row queries are the same text on every request (the ids are one
        parameter); planning one with its joins took longer than running it (a case's
        documents: 1 ms planned, 0.3 ms run)."""

        @classmethod
        def on(cls, connection):
            # Django turns psycopg's statement preparation off (prepare_threshold None,
            # which also refuses prepare=True); client-side binding cursors, which the ORM
            # uses, never prepare, so allowing it changes only cursors like this one.
            if connection.prepare_threshold is None:
                connection.prepare_threshold = 2**31 - 1
                # A custom plan for each call would plan each time: the point is not to.
                connection.execute("SET plan_cache_mode = force_generic_plan")
            return cls(connection)

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)
except ImportError:  # psycopg 2
    PreparedCursor = None


def array(ids: list[str]) -> str:
    """Uuids (as text) as one PostgreSQL array literal: psycopg dumps a list of 500 strings
    element by element in Python (1.7 ms), a string at once."""
    return "{" + ",".join(ids) + "}"


class AnyOf(Func):
    """``column = ANY(%s::uuid[])``: the ids as one array parameter, not hundreds of
    parameters Django converts one by one (and one query text for PostgreSQL to plan)."""

    output_field = BooleanField()

    def __init__(self, column: str, ids):
        super().__init__(F(column))
        self.ids = ids

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        ids = self.ids if self.ids is _IDS else array(self.ids)
        return f"{column} = ANY(%s::uuid[])", (*params, ids)


def render_record(record_layout: Layout, pk, *, request) -> dict | None:
    """One record by id, rendered (None if there is none)."""
    rows = record_layout.rows_under([str(pk)])
    page = _Page(request=request, cleared=request_cleared(request), tombstones=False)
    return page.render(record_layout, rows)[0] if rows else None


class _Page:
    """What rendering a page needs once: the reader's clearance, url prefixes, memos."""

    def __init__(self, *, request, cleared: bool, tombstones: bool):
        self.request, self.cleared, self.tombstones = request, cleared, tombstones
        self.briefs: dict = {}  # (model, id) -> brief dict; the same for every record
        self.urls: dict = {}

    def render(self, layout: Layout, rows: list[tuple]) -> list[dict]:
        """``rows`` rendered, with their parts and expanded relations (a query each)."""
        nested = {}
        if rows and layout.nested:
            ids = [row[0] for row in rows]
            for name, inner in layout.nested:
                found = inner.rows_under(ids)
                grouped: dict = {}
                parent = inner.index[inner.parent]
                for row, item in zip(found, self.render(inner, found), strict=True):
                    grouped.setdefault(row[parent], []).append(item)
                nested[name] = grouped
        if layout.record:
            return [self.record(layout, row, nested) for row in rows]
        return [self.fill(layout, row, nested, row[0]) for row in rows]

    def url(self, model, pk: str) -> str:
        parts = self.urls.get(model)
        if parts is None:
            parts = self.urls[model] = url_parts(model, self.request)
        return f"{parts[0]}{pk}{parts[1]}"

    def record(self, layout: Layout, row: tuple, nested: dict) -> dict:
        model, index, pk = layout.model, layout.index, row[0]
        if self.tombstones and "voided_at" in index:
            voided_at = row[index["voided_at"]]
            if voided_at:
                return tombstone(pk, self.url(model, pk), voided_at, row[index["modified"]])
        data = self.fill(layout, row, nested, pk)
        if not self.cleared and ANNOTATION in index and row[index[ANNOTATION]]:
            mask(data, model, withheld=True, cleared=False)
            if "title" in data and data["title"] is None and "public_title" in index:
                data["title"] = row[index["public_title"]]
        return data

    def fill(self, layout: Layout, row: tuple, nested: dict, pk: str) -> dict:
        data = {}
        for name, kind, detail in layout.steps:
            if kind == "column":
                value = row[detail[0]]
                data[name] = None if value is None else detail[1](value)
            elif kind == "url":
                data[name] = self.url(layout.model, pk)
            elif kind == "brief":
                data[name] = self.brief(*detail, row)
            else:
                data[name] = nested[name].get(pk, [])
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
                display = (row[first + 3] if brief.public_title else None) or \
                    withheld_label(brief.model)
            found = self.briefs[key] = {"id": related, "url": self.url(brief.model, related),
                                        "display": str(display)}
        return found
