"""Keyset pagination with a bounded count: fast at millions of rows, safe while data changes.

Pages are cut by ``(ordering field, id)`` rather than by offset, so a client following
``next`` to the end sees every record exactly once even when records are added or changed
underneath (records are ordered by ``created`` by default, which never changes). ``count``
counts at most ``COUNT_LIMIT`` rows, so no page pays for an exact COUNT(*) over a large result.

The sync feed (``?sync_token=``) is the same pages in commit order, with a resume point the
server hands out. Every record carries ``change_xid``, the id of the transaction that last
wrote it or one of its parts (a trigger sets it: migration 0017). The feed lists the records
with ``change_xid >= sync_token``, voided ones as tombstones, ordered by ``(change_xid, id)``.
Before reading its first page, a walk takes the ``xmin`` of a fresh snapshot: every
transaction with a smaller id has ended (its writes are visible to every page of the walk,
so the walk delivers them), and every transaction still running or not yet begun has an id
at least as large. That ``xmin`` rides in the ``next`` cursors and is handed out on the last
page as ``sync_token``; resuming from it delivers every change that committed after the walk
began, whatever the order of stamps and commits (a write that waited on a lock, a long
transaction). A record changed during a walk can come twice; none is ever missed. A
timestamp computed by the client cannot give this: ``modified`` is stamped before COMMIT,
and a change stamped earlier can commit after one stamped later that the client has seen.
"""

import base64
import json
import uuid

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, models
from django.db.models import BigIntegerField, F, Func, OrderBy, Q, UUIDField, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan
from django.utils.translation import gettext
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from cases.confidentiality import annotate_withheld_joined
from cases.models.base import ChangeXid

from .problems import InvalidParameters

COUNT_LIMIT = 1000
DEFAULT_PAGE_SIZE = 20  # DIGG's REST API profile, FNS.09
MAX_PAGE_SIZE = 500
# How deep ``page`` and ``offset`` reach: an offset makes the database read and discard every
# record before the page, so the cost grows with the depth, and a record added or voided
# before the page shifts it (one is shown twice or never). Beyond this depth, ``next``.
MAX_OFFSET = 10_000
PAGING_PARAMETERS = {"limit", "page_size", "page", "offset", "cursor"}

SYNC_PARAMETER = "sync_token"
SYNC_TOKEN_PATTERN = "^[0-9]{1,19}$"
SYNC_TOKEN_MAX = 2**63 - 1
SYNC_TOKEN_SCHEMA = {
    "type": "string",
    "nullable": True,
    "pattern": SYNC_TOKEN_PATTERN,
    "description": "Only in a sync feed (sync_token given): on the last page of the walk "
                   "(next is null), the token to resume from next time; null on the "
                   "pages before it (follow next). Opaque: store it as given.",
}
SYNC_DESCRIPTION = (
    "Sync feed for mirrors: every record changed after the point this token marks, in "
    "commit order, voided ones as tombstones. Give `0` for a first walk; follow `next` to "
    "the last page, which returns `sync_token`: store it with the mirror and resume from it "
    "next time. Records that changed during a walk may come again (upsert them); none is "
    "ever missed, unlike with a timestamp the client computes (`modified_since`), which can "
    "miss changes that commit after later-stamped ones. Not combinable with `ordering`. "
    "Other filters narrow the feed to records that match them now; a record that stops "
    "matching is not reported, so exact mirrors sync unfiltered. A token this database "
    "never handed out (e.g. after it was restored from a backup) is refused: rebuild the "
    "mirror from `0`.")


TOMBSTONE_SCHEMA = {
    "type": "object",
    "title": "Tombstone",
    "description": "A voided record, listed only in a collection's change feed "
                   "(`/changes/`): its content is gone from the register's public lists; "
                   "fetch it by url for the reason.",
    "required": ["id", "url", "voided", "voided_at", "modified"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Id of the voided record."},
        "url": {"type": "string", "format": "uri", "description": "The record in the API."},
        "voided": {"type": "boolean", "enum": [True], "description": "Always true."},
        "voided_at": {"type": "string", "format": "date-time", "description": "When voided."},
        "modified": {"type": "string", "format": "date-time",
                     "description": "Last change (when it was voided, or later)."},
    },
}


# One component for every feed (cases.api.schema adds it): one Tombstone type in clients.
TOMBSTONE_REF = {"$ref": "#/components/schemas/Tombstone"}


class InvalidCursor(ValueError):
    pass


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def decode_cursor(cursor: str, model_field) -> tuple:
    """(value of the ordering field, id) of the last record of the previous page. A cursor
    is client input: parsed by orjson (no recursion, nesting limited: a cursor of 5000 ``[``
    is a 400, not a RecursionError) and only a [scalar, string] pair is accepted."""
    try:
        raw_value, raw_pk = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(raw_value, (str, int, float, type(None))) or not isinstance(
                raw_pk, str):
            raise TypeError("not a [value, id] pair")
        value = None if raw_value is None else model_field.to_python(raw_value)
        return value, uuid.UUID(str(raw_pk))
    except (ValueError, TypeError, DjangoValidationError) as exc:
        raise InvalidCursor(gettext(
            "Not a cursor returned by this API for this ordering.")) from exc


class SyncPosition(models.CharField):
    """What a sync feed's cursor holds as its ordering value: ``"<change_xid>:<token>"``,
    the last record's place in commit order and the walk's token (taken before its first
    page, handed out on its last). A field, so that ``decode_cursor`` reads it as it reads
    any ordering field."""

    def to_python(self, value):
        position, token = (int(part) for part in str(value).split(":"))
        if not (0 <= position <= SYNC_TOKEN_MAX and 0 <= token <= SYNC_TOKEN_MAX):
            raise ValueError("out of range")
        return position, token


SYNC_POSITION = SyncPosition()


def sync_token(raw) -> int | None:
    """The resume point a sync walk starts from, or None when the request is no sync.
    ValueError when it is not a token this API hands out."""
    if raw is None:
        return None
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19
            and int(raw) <= SYNC_TOKEN_MAX):
        raise ValueError(gettext("Not a sync token: give the sync_token of your last walk's "
                                 "final page, or 0 for a first walk."))
    return int(raw)


def commit_horizon(alias: str) -> tuple[int, int]:
    """(xmin, xmax) of a fresh snapshot: every transaction below xmin has ended; none at or
    above xmax had begun. Read on the primary: a replica's snapshot lags (DESIGN §9)."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(s)::text::bigint, "
                       "pg_snapshot_xmax(s)::text::bigint FROM pg_current_snapshot() s")
        return cursor.fetchone()


def _whole(raw, low: int, high: int | None, problems: list) -> int | None:
    if raw in (None, ""):
        return None
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()):
        problems.append(gettext("Must be a whole number."))
        return None
    value = int(raw)
    if value < low or (high is not None and value > high):
        problems.append(gettext("Must be between %(low)s and %(high)s.") % {
            "low": low, "high": high} if high is not None else
            gettext("Must be at least %(low)s.") % {"low": low})
        return None
    return value


def paging(params) -> tuple[int, int, dict[str, list[str]]]:
    """(records per page, records skipped, problems) of a list request's paging parameters.

    ``limit`` (DIGG FNS.07) sets the page's size; ``page_size``, its older name kept until a
    next major version, wins where given (a client generated from this schema sends
    ``limit``'s default with every request, also when its user sets ``page_size``). ``page``
    (from 1, FNS.08) or ``offset`` pick a page by number for clients that page so, down to
    ``MAX_OFFSET`` records; ``next`` (a keyset cursor) goes anywhere and is the way to walk a
    list: stable while records change, as fast at any depth. ``page=1`` and ``offset=0`` are
    the defaults and change nothing, so they may come with a cursor (generated clients send
    defaults)."""
    problems: dict[str, list[str]] = {}
    sizes = {}
    for name in ("limit", "page_size"):
        reasons: list[str] = []
        sizes[name] = _whole(params.get(name), 1, MAX_PAGE_SIZE, reasons)
        if reasons:
            problems[name] = reasons
    size = sizes["page_size"] or sizes["limit"] or DEFAULT_PAGE_SIZE
    skips = {}
    for name, low in (("page", 1), ("offset", 0)):
        reasons = []
        skips[name] = _whole(params.get(name), low, None, reasons)
        if reasons:
            problems[name] = reasons
    page = None if skips["page"] == 1 else skips["page"]
    offset = None if skips["offset"] == 0 else skips["offset"]
    if page is not None and offset is not None:
        problems["offset"] = [gettext("Give page or offset, not both.")]
    skip = (page - 1) * size if page is not None else offset or 0
    if skip > MAX_OFFSET:
        name = "page" if page is not None else "offset"
        problems[name] = [gettext(
            "Pages by number reach the first %(depth)s records; follow the next link of "
            "the last page (a cursor) to go further.") % {"depth": MAX_OFFSET}]
    if (page is not None or offset is not None) and (
            params.get("cursor") or params.get(SYNC_PARAMETER) is not None):
        problems["page" if page is not None else "offset"] = [gettext(
            "A cursor or sync_token already names the position: leave out page and "
            "offset.")]
    return size, skip, problems


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


def bounded_count(queryset) -> int:
    """How many records match, up to COUNT_LIMIT + 1.

    Ordered by the column a range filter bounds (a range's page, the sync feed), the count
    walks the page's index from the start of the range: every entry it reads is in the
    range. Unordered, PostgreSQL picked whatever index it expected to hold matches evenly
    spread, and for a range that grows with created (``documents?date_after=``) walked the
    created-order index through every older record to find the matches at its end (456 ms
    at a million documents). Any other filter is counted unordered, from its own index:
    counted in created order instead, ``cases?municipality=`` took 78 ms and
    ``cases?registered_by=`` 324 ms at a million cases, against 10 and 34 ms unordered."""
    return queryset.values("pk")[:COUNT_LIMIT + 1].count()


def sorted_matches(field: str, descending: bool, nulls: dict) -> OrderBy:
    """The page's order as an expression no index holds (``COALESCE(field, field)``, the
    same values), for a filter the bounded count found to match at most COUNT_LIMIT
    records: PostgreSQL then gathers them by the filter's own index and sorts them, rather
    than walking the ordering's index from its start and testing every record on the way,
    which it chose when it expected the matches spread through the whole table. A body
    consulted on 653 of 250,000 referrals: 114 ms walking created order (18,000 referrals
    tested for the first 21), 5 ms gathered."""
    same = Coalesce(F(field), F(field))
    return same.desc(**nulls) if descending else same.asc(**nulls)


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
    """``?limit=`` (1–500, default 20), an opaque ``?cursor=`` from ``next``, and, for
    clients that page by number, ``?page=`` or ``?offset=`` (see ``paging``)."""

    def paginate_queryset(self, queryset, request, view=None, render=None):
        """The page's records. With ``render`` (page ids, ordering) -> [(record, row)], the
        page is fetched and rendered by it (cases.api.rows) and the rendered records are
        returned; rows give the cursor its position by ``view.ordering_for``'s column."""
        self.request = request
        self.size, skip, _ = paging(request.query_params)  # checked by the view before
        self.resume = sync_token(request.query_params.get(SYNC_PARAMETER))
        if self.resume is not None:
            return self._paginate_sync(queryset, render)
        field, descending = view.ordering_for(request)
        model_field = queryset.model._meta.get_field(field)
        direction = "-" if descending else ""
        # NULLS LAST only where there can be nulls: on a NOT NULL column ``DESC NULLS LAST``
        # is the same order, but no backward scan of the (field, id) index gives it, so
        # PostgreSQL sorted every record for ordering=-modified (408 ms at a million cases).
        nulls = {"nulls_last": True} if model_field.null else {}
        order = F(field).desc(**nulls) if descending else F(field).asc(**nulls)
        ordered = queryset.order_by(order, f"{direction}id")
        ranged = field in view.ranged_fields(request.query_params)
        self.count = bounded_count(ordered if ranged else queryset.order_by())
        if self.count <= COUNT_LIMIT and not ranged:
            ordered = queryset.order_by(sorted_matches(field, descending, nulls),
                                        f"{direction}id")
        cursor = request.query_params.get("cursor")
        if cursor:
            value, pk = decode_cursor(cursor, model_field)
            if model_field.null:
                ordered = ordered.filter(after(field, descending, value, pk))
            else:
                ordered = after_row(ordered, model_field, descending, value, pk)
        page_ids = ordered.values("pk")[skip:skip + self.size + 1]
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

    def _paginate_sync(self, queryset, render):
        """A page of the sync feed: records with ``change_xid >= sync_token`` in commit
        order (see the module's docstring for why nothing is missed)."""
        cursor = self.request.query_params.get("cursor")
        if cursor:
            (position, self.token), pk = decode_cursor(cursor, SYNC_POSITION)
        else:
            # Before the page is read: a transaction that ends between the two is then at
            # or above the token (seen next time), never below it and unread.
            self.token, horizon = commit_horizon(queryset.db)
            if self.resume > horizon:
                raise InvalidParameters({SYNC_PARAMETER: [gettext(
                    "This database never handed out this token (was it restored from a "
                    "backup?): rebuild the mirror from sync_token=0.")]})
        stamp = ChangeXid()
        queryset = queryset.filter(GreaterThanOrEqual(stamp, self.resume))
        ordering = (stamp.asc(), "id")
        ordered = queryset.order_by(*ordering)
        self.count = bounded_count(ordered)
        if cursor:
            ordered = ordered.filter(GreaterThan(
                Row(stamp, F("id"), output_field=BigIntegerField()),
                Row(Value(position), Value(pk, output_field=UUIDField()),
                    output_field=BigIntegerField())))
        page_ids = ordered.values("pk")[:self.size + 1]
        if render is None:
            records = list(page_rows(queryset, page_ids, ordering).annotate(_position=stamp))
            positions = [(r._position, r.pk) for r in records]
        else:
            records, positions = render(page_ids, ordering, stamp)
        self.has_next = len(records) > self.size
        self.next_cursor = None
        if self.has_next:
            position, pk = positions[self.size - 1]
            self.next_cursor = encode_cursor([f"{position}:{self.token}", str(pk)])
        return records[:self.size]

    def get_paginated_response(self, data):
        body = {
            "count": min(self.count, COUNT_LIMIT),
            "count_is_exact": self.count <= COUNT_LIMIT,
            "next": self._next_link(),
            "results": data,
        }
        if self.resume is not None:
            body[SYNC_PARAMETER] = None if self.next_cursor else str(self.token)
        return Response(body)

    def _next_link(self):
        if not self.next_cursor:
            return None
        url = self.request.build_absolute_uri()
        for name in ("page", "offset"):
            url = remove_query_param(url, name)
        return replace_query_param(url, "cursor", self.next_cursor)

    def get_paginated_response_schema(self, schema):
        """A plain list: records only (voided records are left out of it)."""
        return self._page_schema(schema, feed=False)

    @staticmethod
    def _page_schema(schema, feed: bool) -> dict:
        properties = {
            "count": {"type": "integer", "example": 123,
                      "description": f"Number of matching records, counted up to "
                                     f"{COUNT_LIMIT}; see count_is_exact."},
            "count_is_exact": {"type": "boolean",
                               "description": f"False when more than {COUNT_LIMIT} records "
                                              "match: count is then a lower bound."},
            "next": {"type": "string", "nullable": True, "format": "uri",
                     "description": "The next page, or null on the last page."},
        }
        if feed:
            properties[SYNC_PARAMETER] = SYNC_TOKEN_SCHEMA
            schema = {**schema, "items": {"oneOf": [schema["items"], TOMBSTONE_REF]}}
        return {
            "type": "object",
            "required": ["count", "count_is_exact", "next", "results"],
            "properties": {**properties, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        size = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE}
        return [
            {"name": "cursor", "required": False, "in": "query",
             "description": "Opaque position from a previous page's `next` link.",
             "schema": {"type": "string"}},
            {"name": "limit", "required": False, "in": "query",
             "description": f"Records per page, 1–{MAX_PAGE_SIZE} (default "
                            f"{DEFAULT_PAGE_SIZE}).",
             "schema": size},
            {"name": "page_size", "required": False, "in": "query", "deprecated": True,
             "description": "The older name of `limit`, kept until the next major version; "
                            "where given, it wins over `limit`.",
             "schema": {key: value for key, value in size.items() if key != "default"}},
            {"name": "page", "required": False, "in": "query",
             "description": f"Page number, from 1 (the default, which may come with a "
                            f"cursor), for clients that page by number; pages "
                            f"reach the first {MAX_OFFSET} records. Prefer following `next`: "
                            f"a cursor neither skips nor repeats records that change while "
                            f"you page, and is as fast at any depth.",
             "schema": {"type": "integer", "minimum": 1, "default": 1}},
            {"name": "offset", "required": False, "in": "query",
             "description": f"Records to skip, 0–{MAX_OFFSET}, instead of `page`; the same "
                            f"advice holds.",
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
        ]


class FeedPagination(KeysetPagination):
    """The change feed's pages (``/<collection>/changes/``): the same keyset pages, with
    voided records as tombstones and, with ``sync_token``, a resume point.

    A separate operation from the plain list because an OpenAPI operation has one response
    schema: typed as record-or-tombstone, every list result would be a union that generated
    clients make their users narrow, though a plain list never holds a tombstone."""

    def get_paginated_response_schema(self, schema):
        return self._page_schema(schema, feed=True)

    def get_schema_operation_parameters(self, view):
        cursor, *sizes = super().get_schema_operation_parameters(view)
        return [cursor, {"name": SYNC_PARAMETER, "required": False, "in": "query",
                         "description": SYNC_DESCRIPTION,
                         "schema": {"type": "string", "pattern": SYNC_TOKEN_PATTERN}}, *sizes]
