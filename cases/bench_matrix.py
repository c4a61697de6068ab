"""The benchmark matrix: every door of the register, generated from the code.

Rows are not hand-picked: every collection of ``cases.api.views.VIEWSETS`` with every filter
of its filterset alone (a value drawn from the data by ``value_for``, keyed on the filter's
class and field), each filter with ``modified_since``, organisation/case with each date range,
every ordering both ways, the sync feed's first and a follow-on page, the search endpoint per
kind, and every admin changelist of the cases app (plain, searched for a word, a name and a
registration number, one list filter, a deep page), a change page per model, the case story
and the morning overview. A new filter, collection or admin page gets its rows without anyone
adding them; a filter ``value_for`` cannot find a value for is a "no value" row, a request
that does not answer 200 an "error" row, never a silent gap.

Each row: one captured warm-up request (queries; EXPLAIN of its slowest query gives the
plan), then a few timed samples; a row whose warm-up took > 5 s is that one sample (at 1M
cases some admin searches took 100 s: 5 samples of every row would not fit in 10 minutes).
"""

import datetime
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import django_filters as df
import orjson
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse

from cases import models as m
from cases.api.limits import ClientRateThrottle
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS
from cases.search import KINDS

SLOW = 5.0  # s: a warm-up slower than this is the row's only sample
# s: no further samples once a row has spent this much; at 1M cases ~200 admin rows took 1-5
# s a request: 6 requests of each would not fit the matrix in 10 minutes.
ROW_BUDGET = 2.0
SYNC_LIMIT = 500

# Targets (issue 14), by kind of row.
API_MS, TEXT_MS, ADMIN_MS, ADMIN_SEARCH_MS, PAGE_MS = 50, 100, 200, 300, 150
SYNC_RATE = 25_000  # records/s


@dataclass
class Row:
    group: str  # "api", "api + modified_since", "ordering", "sync", "search", "admin", ...
    name: str
    path: str = ""
    target_ms: float | None = None
    target_rate: float | None = None  # records/s (sync rows)
    samples: list[float] = field(default_factory=list)  # seconds
    queries: int | None = None
    plan: str = ""
    records: int | None = None
    note: str = ""
    status: str = "ok"  # ok | no value | error

    @property
    def median(self):
        return 1000 * statistics.median(self.samples) if self.samples else None

    @property
    def p95(self):
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    @property
    def rate(self):
        if not self.samples or not self.records:
            return None
        return self.records / statistics.median(self.samples)

    @property
    def over(self) -> bool:
        if self.status != "ok" or not self.samples:
            return self.status == "error"
        if self.target_rate is not None:
            # A short last page is judged by the time a full page may take.
            if self.records and self.records >= SYNC_LIMIT:
                return self.rate < self.target_rate
            return self.median > 1000 * SYNC_LIMIT / self.target_rate
        return self.target_ms is not None and self.median > self.target_ms

    @property
    def target(self) -> str:
        if self.target_rate is not None:
            return f"≥ {self.target_rate:,.0f} rec/s"
        return f"≤ {self.target_ms:.0f} ms" if self.target_ms else "–"


# --- values drawn from the data -----------------------------------------------------------


def _field_path(f) -> str:
    return f.field_name or ""


def _some(model, path: str):
    """One real non-empty value at ``path`` (a uuid pk order: a random-ish record, found by
    index, not an aggregate over a million rows)."""
    qs = model._base_manager.filter(voided_at__isnull=True) if hasattr(
        model, "voided_at") else model._base_manager.all()
    values = qs.exclude(**{f"{path}__isnull": True}).values_list(path, flat=True)
    if path and _is_text(model, path):
        values = values.exclude(**{path: ""})
    return values.order_by("pk").first()


def _is_text(model, path) -> bool:
    from django.contrib.admin.utils import get_fields_from_path
    try:
        last = get_fields_from_path(model, path)[-1]
    except Exception:
        return False
    return last.get_internal_type() in ("CharField", "TextField")


def _edge(model, path: str, newest: bool):
    order = f"-{path}" if newest else path
    qs = model._base_manager.exclude(**{f"{path}__isnull": True})
    return qs.order_by(order).values_list(path, flat=True).first()


def _word(text: str | None) -> str | None:
    words = [w.strip(".,:;()\"'") for w in (text or "").split()]
    words = [w for w in words if len(w) >= 5 and w.isalpha()]
    return max(words, key=len) if words else None


def _registration_number(model, path: str):
    if model is m.Case:
        return _some(m.RegistrationNumber, "number")
    return _some(model, f"{path}__registration_numbers__number" if path else
                 "registration_numbers__number")


def value_for(model, name: str, f) -> str | None:
    """A representative value of filter ``f`` (named ``name``) of ``model``'s filterset, from
    the data; None when there is none to be found (the row says "no value")."""
    from cases.api import filters as api_filters  # the filter classes, read only

    path = _field_path(f)
    lookup = getattr(f, "lookup_expr", "exact")
    if getattr(f, "method", None):
        return None  # a method filter's meaning is not in its field
    if isinstance(f, api_filters.RegistrationNumberFilter):
        return _registration_number(model, "" if path == "id" else path)
    if isinstance(f, api_filters.RecordFilter | df.UUIDFilter | df.ModelChoiceFilter):
        value = _some(model, path if path != "id" else "pk")
        return None if value is None else str(value)
    if isinstance(f, api_filters.PersonNameFilter):
        value = _some(model, f"{path}__name" if path else "name")
        return value.split()[-1] if value else None
    if isinstance(f, df.IsoDateTimeFilter | df.DateTimeFilter | df.DateFilter):
        newest = lookup in ("gte", "gt")
        value = _edge(model, path, newest=newest)
        if value is None:
            return None
        value = value - datetime.timedelta(days=365) if newest else value + datetime.timedelta(
            days=365)
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.isoformat()
    if isinstance(f, df.BooleanFilter):
        return "true" if lookup != "isnull" else "false"
    if isinstance(f, df.NumberFilter | df.ChoiceFilter):
        value = _some(model, path)
        return None if value is None else str(value)
    if isinstance(f, df.CharFilter):
        value = _some(model, path)
        if value is None:
            return None
        return _word(value) or str(value) if "contains" in lookup or isinstance(
            f, api_filters.ProtectedTextFilter) else str(value)
    return None


def is_text(f) -> bool:
    """Free text (contains, a name): target 100 ms instead of 50."""
    from cases.api import filters as api_filters
    return isinstance(f, api_filters.PersonNameFilter | api_filters.ProtectedTextFilter) or (
        isinstance(f, df.CharFilter) and "contains" in (f.lookup_expr or ""))


def date_ranges(filterset) -> list[tuple[str, str]]:
    """(from, to) filter pairs over one field: date_after/date_before, modified_since/_until."""
    by_field: dict[str, dict[str, str]] = {}
    for name, f in filterset.base_filters.items():
        if isinstance(f, df.DateFilter | df.IsoDateTimeFilter) and f.lookup_expr in ("gte",
                                                                                     "lte"):
            by_field.setdefault(f.field_name, {})[f.lookup_expr] = name
    return [(pair["gte"], pair["lte"]) for pair in by_field.values() if len(pair) == 2]


def year_range(model, f_from, f_to) -> dict[str, str] | None:
    """The newest year of data over the pair's field."""
    newest = _edge(model, f_from.field_name, newest=True)
    if newest is None:
        return None
    start = newest - datetime.timedelta(days=365)
    if isinstance(newest, datetime.datetime):
        fmt = lambda v: v.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    else:
        fmt = datetime.date.isoformat
    return {"from": fmt(start), "to": fmt(newest)}


# --- the plan of a request's slowest query -----------------------------------------------


def _scans(node, found):
    kind = node.get("Node Type", "")
    if "Index Name" in node:
        found.append(f"{kind} using {node['Index Name']}")
    elif "Relation Name" in node:
        found.append(f"{kind} on {node['Relation Name']}")
    for child in node.get("Plans", []):
        _scans(child, found)
    return found


def plan_of(sql: str) -> str:
    """Top node and the scans of EXPLAIN (no ANALYZE), deduplicated, at most four."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            raw = cursor.fetchone()[0]
    except Exception as exc:  # a statement EXPLAIN cannot take (SAVEPOINT, SET ...)
        return f"(no plan: {type(exc).__name__})"
    tree = (orjson.loads(raw) if isinstance(raw, str | bytes) else raw)[0]["Plan"]
    scans = list(dict.fromkeys(_scans(tree, [])))
    text = "; ".join(scans[:4]) + (" …" if len(scans) > 4 else "")
    top = tree.get("Node Type", "")
    return f"{top}: {text}" if text and not text.startswith(top) else text or top


def _explainable(sql: str) -> bool:
    """A query of the page's own: not the throttle's budget in the database cache."""
    cache_table = str(settings.CACHES.get("default", {}).get("LOCATION", ""))
    return (sql or "").lstrip().upper().startswith(("SELECT", "WITH")) and not (
        cache_table and cache_table in sql)


# --- running a row -----------------------------------------------------------------------


class Matrix:
    def __init__(self, *, samples: int = 5, progress: Callable[[str], None] | None = None,
                 models: set | None = None, terms: tuple[str, ...] | None = None):
        self.samples = samples
        self.progress = progress or (lambda _: None)
        self.api = Client(HTTP_HOST="localhost")
        user, _ = get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
        self.user = user
        self.admin = Client(HTTP_HOST="localhost")
        self.admin.force_login(user)
        self.rows: list[Row] = []
        self.only = models  # restrict to these models (tests)
        self.terms = terms  # which admin searches ("a word", "a name", ...); None: all

    # -- measuring
    def measure(self, row: Row, client: Client, path: str, params: dict | None = None,
                count: Callable | None = None) -> Row:
        row.path = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items())
                           if params else "")
        self.rows.append(row)
        try:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path, params or {})
                first = time.perf_counter() - started
        except Exception as exc:  # a crash is a row too
            row.status, row.note = "error", f"{type(exc).__name__}: {str(exc)[:120]}"
            return row
        if response.status_code != 200:
            row.status = "error"
            body = getattr(response, "content", b"")[:120].decode(errors="replace")
            row.note = f"HTTP {response.status_code} {' '.join(body.split())}"
            return row
        row.queries = len(captured)
        if count:
            row.records = count(response)
        slowest = max((q for q in captured.captured_queries if _explainable(q["sql"])),
                      key=lambda q: float(q["time"]), default=None)
        if slowest:
            row.plan = plan_of(slowest["sql"])
        if first > SLOW or not self.samples:
            row.samples = [first]
            if self.samples:
                row.note = f"one sample: the first took {first:.1f} s (> {SLOW:.0f} s)"
            return row
        for _ in range(self.samples):
            started = time.perf_counter()
            client.get(path, params or {})
            row.samples.append(time.perf_counter() - started)
            if sum(row.samples) > ROW_BUDGET and len(row.samples) < self.samples:
                row.note = (f"{len(row.samples)} samples: the row's budget of "
                            f"{ROW_BUDGET:.0f} s was spent")
                break
        return row

    def no_value(self, row: Row, why: str = "no value found in the data") -> Row:
        row.status, row.note = "no value", why
        self.rows.append(row)
        return row

    # -- the API
    def viewsets(self):
        return [v for v in VIEWSETS if self.only is None or v.model in self.only]

    def api_rows(self):
        for viewset in self.viewsets():
            model, filterset = viewset.model, viewset.filterset_class
            collection = resource_for(model).collection
            path = f"/api/v1/{collection}/"
            self.progress(f"api {collection}")
            since_filter = filterset.base_filters.get("modified_since")
            since = value_for(model, "modified_since", since_filter) if since_filter else None
            for name, f in filterset.base_filters.items():
                target = TEXT_MS if is_text(f) else API_MS
                row = Row("api", f"{collection}: {name}", target_ms=target)
                value = value_for(model, name, f)
                if value is None:
                    self.no_value(row)
                    continue
                self.measure(row, self.api, path, {name: value})
                if name == "modified_since":
                    continue
                row = Row("api + modified_since", f"{collection}: {name} + modified_since",
                          target_ms=target)
                if since is None:
                    self.no_value(row, "no modified_since value")
                    continue
                self.measure(row, self.api, path, {name: value, "modified_since": since})
            for key in ("organisation", "case"):
                f = filterset.base_filters.get(key)
                if f is None:
                    continue
                value = value_for(model, key, f)
                for start, end in date_ranges(filterset):
                    row = Row("api, range", f"{collection}: {key} + {start}..{end} (a year)",
                              target_ms=API_MS)
                    span = year_range(model, filterset.base_filters[start],
                                      filterset.base_filters[end])
                    if value is None or span is None:
                        self.no_value(row)
                        continue
                    self.measure(row, self.api, path,
                                 {key: value, start: span["from"], end: span["to"]})
            for ordering in viewset.ordering_fields:
                for value in (ordering, f"-{ordering}"):
                    self.measure(Row("ordering", f"{collection}: ordering={value}",
                                     target_ms=API_MS), self.api, path, {"ordering": value})

    def sync_rows(self):
        def count(response):
            return len(orjson.loads(response.content)["results"])

        for viewset in self.viewsets():
            collection = resource_for(viewset.model).collection
            path = f"/api/v1/{collection}/changes/"
            self.progress(f"sync {collection}")
            first = Row("sync", f"{collection}: changes, first page of {SYNC_LIMIT}",
                        target_rate=SYNC_RATE)
            self.measure(first, self.api, path, {"sync_token": "0", "limit": SYNC_LIMIT},
                         count=count)
            follow = Row("sync", f"{collection}: changes, follow-on page", target_rate=SYNC_RATE)
            if first.status != "ok":
                self.no_value(follow, "the first page failed")
                continue
            body = orjson.loads(self.api.get(path, {"sync_token": "0",
                                                    "limit": SYNC_LIMIT}).content)
            if not body.get("next"):
                self.no_value(follow, "one page holds the whole feed")
                continue
            following = re.sub(r"^https?://[^/]+", "", body["next"])
            self.measure(follow, self.api, following, count=count)

    def search_rows(self):
        for model, kind in KINDS.items():
            if self.only is not None and model not in self.only:
                continue
            row = Row("search", f"search: type={kind}", target_ms=TEXT_MS)
            entries = m.SearchEntry.objects.filter(kind=kind).order_by("pk")
            word = _word(" ".join(t for pair in entries.values_list("title", "body")[:20]
                                  for t in pair if t))
            if word is None:
                self.no_value(row)
                continue
            self.measure(row, self.api, "/api/v1/search/", {"q": word, "type": kind})

    # -- the admin
    def admins(self):
        return [(model, model_admin) for model, model_admin in admin.site._registry.items()
                if model._meta.app_label == "cases"
                and (self.only is None or model in self.only)]

    def search_terms(self) -> dict[str, str | None]:
        word = _word(" ".join(m.Case.objects.order_by("pk").values_list("title", flat=True)
                              [:20]))
        # A person's surname; the generated register has no people: then a body's name.
        name = _some(m.Person, "name")
        name = name.split()[-1] if name else _word(_some(m.Organisation, "name"))
        terms = {"a word": word, "a name": name,
                 "a registration number": _some(m.RegistrationNumber, "number")}
        return {k: v for k, v in terms.items() if self.terms is None or k in self.terms}

    def admin_rows(self):
        terms = self.search_terms()
        factory = RequestFactory()
        for model, model_admin in self.admins():
            label = f"{model._meta.model_name}"
            try:
                url = reverse(f"admin:cases_{label}_changelist")
            except NoReverseMatch:
                continue
            self.progress(f"admin {label}")
            self.measure(Row("admin", f"admin {label}: list", target_ms=ADMIN_MS),
                         self.admin, url)
            request = factory.get(url)
            request.user = self.user
            try:
                changelist = model_admin.get_changelist_instance(request)
            except Exception as exc:
                self.rows.append(Row("admin", f"admin {label}: list filter", status="error",
                                     note=f"{type(exc).__name__}: {exc}"))
                continue
            if model_admin.get_search_fields(request):
                for what, term in terms.items():
                    row = Row("admin search", f"admin {label}: search {what}",
                              target_ms=ADMIN_SEARCH_MS)
                    if term is None:
                        self.no_value(row)
                    else:
                        self.measure(row, self.admin, url, {"q": term})
            choice = self.list_filter_choice(changelist)
            row = Row("admin", f"admin {label}: list filter "
                      f"{choice[0] if choice else ''}".rstrip(), target_ms=ADMIN_MS)
            if changelist.filter_specs and choice is None:
                self.no_value(row, "no choice in any list filter")
            elif choice is not None:
                self.measure(row, self.admin, url + choice[1])
            pages = changelist.paginator.num_pages
            deep = min(500, pages)
            row = Row("admin", f"admin {label}: page {deep} of {pages}", target_ms=ADMIN_MS)
            if pages < 2:
                self.no_value(row, "a single page")
            else:
                self.measure(row, self.admin, url, {"p": deep})
            record = model._base_manager.order_by("pk").first()
            row = Row("admin page", f"admin {label}: change page", target_ms=PAGE_MS)
            if record is None:
                self.no_value(row)
            else:
                self.measure(row, self.admin,
                             reverse(f"admin:cases_{label}_change", args=[record.pk]))

    @staticmethod
    def list_filter_choice(changelist) -> tuple[str, str] | None:
        """(filter title, query string) of the first real choice of the first list filter
        that offers one (not "all")."""
        for spec in changelist.filter_specs:
            for choice in spec.choices(changelist):
                if not choice.get("selected") and choice.get("query_string", "?") != "?" and \
                        choice.get("display") not in (None, "") and "__isnull" not in \
                        choice["query_string"]:
                    return (f"{spec.title}={choice['display']}", choice["query_string"])
        return None

    def page_rows(self):
        case = (m.Case.objects.filter(documents__isnull=False, decisions__isnull=False)
                .order_by("created").first() or m.Case.objects.order_by("pk").first())
        row = Row("admin page", "admin: case story", target_ms=PAGE_MS)
        if case is None:
            self.no_value(row)
        else:
            self.measure(row, self.admin, reverse("admin:cases_case_story", args=[case.pk]))
        self.measure(Row("admin page", "admin: morning overview", target_ms=PAGE_MS),
                     self.admin, reverse("case_overview"))

    def run(self) -> list[Row]:
        """Every part, with static files unhashed (the admin's pages need no collectstatic)
        and the client budget lifted, as the HTTP part does with THROTTLE_RATE: the budget
        is still spent on every request, it only never runs out."""
        started = time.perf_counter()
        rates = ClientRateThrottle.THROTTLE_RATES
        ClientRateThrottle.THROTTLE_RATES = {**rates, "client": "100000000/minute"}
        storages = {**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
        try:
            with override_settings(STORAGES=storages, SECURE_SSL_REDIRECT=False):
                for part in (self.api_rows, self.sync_rows, self.search_rows,
                             self.admin_rows, self.page_rows):
                    part()
        finally:
            ClientRateThrottle.THROTTLE_RATES = rates
        self.elapsed = time.perf_counter() - started
        return self.rows


# --- the table ---------------------------------------------------------------------------


def fmt(value, pattern="{:.1f}"):
    return "–" if value is None else pattern.format(value)


def report(rows: list[Row], *, samples: int, seconds: float) -> str:
    """The matrix under its heading, with how it was made and how long it took."""
    from cases.bench import machine
    cases = m.Case.objects.count()
    return "\n".join([
        f"### Every door (cases.bench_matrix): {cases:,} cases",
        "",
        f"{machine()}. In-process (Django test client, logged in as a superuser for the "
        f"admin); per row one captured warm-up (queries, EXPLAIN of its slowest query), then "
        f"{samples} timed samples (one only when the warm-up took > {SLOW:.0f} s). Ran in "
        f"{seconds:,.0f} s. Targets (issue 14): API ≤ {API_MS} ms, free text and search ≤ "
        f"{TEXT_MS} ms, sync ≥ {SYNC_RATE:,} records/s (a short last page: ≤ "
        f"{1000 * SYNC_LIMIT / SYNC_RATE:.0f} ms), admin lists ≤ {ADMIN_MS} ms, admin search ≤ "
        f"{ADMIN_SEARCH_MS} ms, change page, story, overview ≤ {PAGE_MS} ms.",
        "",
        table(rows),
    ])


def table(rows: list[Row]) -> str:
    over = [r for r in rows if r.over]
    lines = [f"{len(rows)} rows; **{len(over)} over target** (marked ✗); "
             f"{sum(r.status == 'no value' for r in rows)} without a value, "
             f"{sum(r.status == 'error' for r in rows)} errors.", "",
             "| group | row | median ms | p95 ms | queries | plan of the slowest query | "
             "target | | notes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = r.note
        if r.rate is not None:
            note = f"{r.records} records, {r.rate:,.0f} rec/s" + (f"; {note}" if note else "")
        mark = "✗" if r.over else ("" if r.status != "ok" else "✓")
        status = "" if r.status == "ok" else f"**{r.status}**: "
        lines.append(f"| {r.group} | {r.name.replace('|', '/')} | {fmt(r.median)} | "
                     f"{fmt(r.p95)} | {fmt(r.queries, '{}')} | "
                     f"{r.plan.replace('|', '/')} | {r.target} | {mark} | "
                     f"{status}{note.replace('|', '/')} |")
    return "\n".join(lines)
