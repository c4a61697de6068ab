"""Keyset pagination with a bounded count: fast at millions of rows, safe while data changes.

Pages are cut by ``(ordering field, id)`` rather than by offset, so a client following
``next`` to the end sees every record exactly once even when records are added or changed
underneath (records are ordered by ``created`` by default, which never changes). ``count``
counts at most ``COUNT_LIMIT`` rows, so no page pays for an exact COUNT(*) over a large result.
"""

import base64
import json
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Func, Q, UUIDField, Value
from django.db.models.lookups import GreaterThan, LessThan
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from cases.confidentiality import annotate_withheld_joined

COUNT_LIMIT = 1000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


TOMBSTONE_SCHEMA = {
    "type": "object",
    "title": "Tombstone",
    "description": "A voided record, listed only when modified_since is given: its content "
                   "is gone from the register's public lists; fetch it by url for the reason.",
    "required": ["id", "url", "voided", "voided_at", "modified"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Id of the voided record."},
        "url": {"type": "string", "format": "uri", "description": "The record in the API."},
        "voided": {"type": "boolean", "enum": [True], "description": "Always true."},
        "voided_at": {"type": "string", "format": "date-time", "description": "When voided."},
        "modified": {"type": "string", "format": "date-time",
                     "description": "Last change, at or after modified_since."},
    },
}


class InvalidCursor(ValueError):
    pass


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def decode_cursor(cursor: str, model_field) -> tuple:
    """(value of the ordering field, id) of the last record of the previous page."""
    try:
        raw_value, raw_pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        value = None if raw_value is None else model_field.to_python(raw_value)
        return value, uuid.UUID(str(raw_pk))
    except (ValueError, TypeError, DjangoValidationError) as exc:
        raise InvalidCursor("Not a cursor returned by this API for this ordering.") from exc


def page_size(raw) -> int:
    if raw in (None, ""):
        return DEFAULT_PAGE_SIZE
    size = int(raw)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"Must be between 1 and {MAX_PAGE_SIZE}.")
    return size


def after(field: str, descending: bool, value, pk) -> Q:
    """Rows after (value, pk) in ORDER BY field [DESC] NULLS LAST, id [DESC]."""
    beyond = "lt" if descending else "gt"
    if value is None:
        return Q(**{f"{field}__isnull": True, f"id__{beyond}": pk})
    return (Q(**{f"{field}__{beyond}": value}) | Q(**{field: value, f"id__{beyond}": pk})
            | Q(**{f"{field}__isnull": True}))


class Row(Func):
    """A row constructor, ``(a, b)``, for row comparisons."""

    template = "(%(expressions)s)"


def after_row(queryset, model_field, descending: bool, value, pk):
    """Rows after (value, pk) as one row comparison, ``(field, id) > (value, pk)``, which
    PostgreSQL answers from the (field, id) index by a range scan. (The OR of ``after`` on a
    column that is never null would make every page scan from the start: quadratic syncs.)
    An expression, not raw SQL, so that it names the right table inside a subquery too."""
    comparison = LessThan if descending else GreaterThan
    return queryset.filter(comparison(
        Row(F(model_field.name), F("id"), output_field=model_field),
        Row(Value(value, output_field=model_field), Value(pk, output_field=UUIDField()),
            output_field=model_field)))


def page_rows(queryset, page_ids, ordering):
    """The rows of a page whose ids ``page_ids`` (a sliced ``values("pk")`` query) selects:
    ``WHERE id IN (SELECT id ... ORDER BY ... LIMIT n)``, one query.

    The subquery needs only indexed columns when the filters do, so PostgreSQL finds the
    page's ids by an index-only scan, skipping non-matching records inside the index, and
    reads the table only for the rows of the page (a "deferred join"). Filtering the full
    rows instead would read every skipped record from the table. The related records the
    queryset joins or prefetches are loaded for the page as before.
    """
    rows = queryset.model._base_manager.filter(pk__in=page_ids).order_by(*ordering)
    rows.query.select_related = queryset.query.select_related
    rows.query.deferred_loading = queryset.query.deferred_loading
    rows = annotate_withheld_joined(rows)  # what is withheld, in the same query
    return rows.prefetch_related(*queryset._prefetch_related_lookups)


class KeysetPagination(BasePagination):
    """``?page_size=`` (1–500, default 50) and an opaque ``?cursor=`` from ``next``."""

    def paginate_queryset(self, queryset, request, view=None, render=None):
        """The page's records. With ``render`` (page ids, ordering) -> [(record, row)], the
        page is fetched and rendered by it (cases.api.rows) and the rendered records are
        returned; rows give the cursor its position by ``view.ordering_for``'s column."""
        field, descending = view.ordering_for(request)
        self.request = request
        self.size = page_size(request.query_params.get("page_size"))
        model_field = queryset.model._meta.get_field(field)
        direction = "-" if descending else ""
        order = F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
        self.count = queryset.order_by().values("pk")[:COUNT_LIMIT + 1].count()
        ordered = queryset.order_by(order, f"{direction}id")
        cursor = request.query_params.get("cursor")
        if cursor:
            value, pk = decode_cursor(cursor, model_field)
            if model_field.null:
                ordered = ordered.filter(after(field, descending, value, pk))
            else:
                ordered = after_row(ordered, model_field, descending, value, pk)
        page_ids = ordered.values("pk")[:self.size + 1]
        ordering = (order, f"{direction}id")
        if render is None:
            records = list(page_rows(queryset, page_ids, ordering))
            positions = [(getattr(r, model_field.attname), r.pk) for r in records]
        else:
            records, positions = render(page_ids, ordering, model_field.attname)
        self.has_next = len(records) > self.size
        self.next_cursor = None
        if self.has_next:
            value, pk = positions[self.size - 1]
            self.next_cursor = encode_cursor(
                [value.isoformat() if hasattr(value, "isoformat") else value, str(pk)])
        return records[:self.size]

    def get_paginated_response(self, data):
        return Response({
            "count": min(self.count, COUNT_LIMIT),
            "count_is_exact": self.count <= COUNT_LIMIT,
            "next": self._next_link(),
            "results": data,
        })

    def _next_link(self):
        if not self.next_cursor:
            return None
        return replace_query_param(self.request.build_absolute_uri(), "cursor", self.next_cursor)

    def get_paginated_response_schema(self, schema):
        schema = {**schema, "items": {"oneOf": [schema["items"], TOMBSTONE_SCHEMA]}}
        return {
            "type": "object",
            "required": ["count", "count_is_exact", "next", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123,
                          "description": f"Number of matching records, counted up to "
                                         f"{COUNT_LIMIT}; see count_is_exact."},
                "count_is_exact": {"type": "boolean",
                                   "description": f"False when more than {COUNT_LIMIT} records "
                                                  "match: count is then a lower bound."},
                "next": {"type": "string", "nullable": True, "format": "uri",
                         "description": "The next page, or null on the last page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "cursor", "required": False, "in": "query",
             "description": "Opaque position from a previous page's `next` link.",
             "schema": {"type": "string"}},
            {"name": "page_size", "required": False, "in": "query",
             "description": f"Records per page, 1–{MAX_PAGE_SIZE} (default "
                            f"{DEFAULT_PAGE_SIZE}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                        "default": DEFAULT_PAGE_SIZE}},
        ]
