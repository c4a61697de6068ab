"""The benchmark harness: scenarios against a generated register, each next to a baseline.

For every read scenario the same page is also produced the fastest plain way: one
hand-written SQL query through psycopg, serialised with orjson. The ratio says what the
framework costs. The case list is also produced by a stock DRF implementation (plain
ModelSerializer, django-filter FilterSet, PageNumberPagination with its COUNT): what we
would have without the work in cases.api. Over HTTP, gunicorn on the machine's cores is
driven by wrk. Next to the scenarios, cases.bench_matrix measures every door of the register.
Run it with `make bench` (results go to BENCHMARKS.md); `tests/test_bench.py` runs a small
version in `make test` so it cannot rot.
"""

import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import django_filters
import orjson
import psutil
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework import generics, pagination, renderers, serializers
from rest_framework.test import APIRequestFactory

from cases import models as m
from cases.search import RANK_CANDIDATES
from cases.services.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    name: str
    samples: list[float] = field(default_factory=list)  # seconds
    baseline: list[float] = field(default_factory=list)
    queries: int = 0
    note: str = ""

    def ms(self, values, q):
        if not values:
            return None
        ordered = sorted(values)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def median(self):
        return 1000 * statistics.median(self.samples) if self.samples else None

    @property
    def p95(self):
        return self.ms(self.samples, 0.95)

    @property
    def p99(self):
        return self.ms(self.samples, 0.99)

    @property
    def ratio(self):
        if not self.baseline:
            return None
        return statistics.median(self.samples) / statistics.median(self.baseline)


def timed(call, repeat: int) -> list[float]:
    call()  # warm caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


class Bench:
    def __init__(self, *, repeat: int = 50):
        settings.SECURE_SSL_REDIRECT = False  # in-process requests come over plain HTTP
        self.repeat = repeat
        self.client = Client(HTTP_HOST="localhost")
        self.results: list[Result] = []
        self._pick()

    def _pick(self):
        """The inputs: the largest organisation, a busy case, a common word, a date range."""
        with connection.cursor() as cursor:
            cursor.execute("""SELECT responsible_organisation_id FROM cases_case
                              GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""")
            self.organisation = cursor.fetchone()[0]
        self.since = "2024-01-01T00:00:00Z"
        self.until = "2026-12-31T00:00:00Z"
        self.case = (m.Case.objects.filter(documents__isnull=False, decisions__isnull=False)
                     .order_by("created").first() or m.Case.objects.first())
        self.word = "samverkan"

    def get(self, path, params=None):
        response = self.client.get(path, params or {})
        assert response.status_code == 200, (path, response.content[:300])
        return response

    # --- scenarios ----------------------------------------------------------------------

    def case_list(self):
        params = {"organisation": str(self.organisation), "status": "open",
                  "modified_since": self.since, "modified_until": self.until,
                  "limit": 100}
        result = Result("case list (organisation + status + date range, page 100)")
        result.samples = timed(lambda: self.get("/api/v1/cases/", params), self.repeat)
        result.baseline = timed(lambda: self.raw_case_list(), self.repeat)
        result.queries = queries_of(lambda: self.get("/api/v1/cases/", params))
        self.results.append(result)

    def raw_case_list(self) -> bytes:
        """The same page, hand-written: one query (the page's ids from the index, as the API
        selects them, then their rows), orjson; in modified order, as the API lists a
        modified range."""
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT c.id, c.title, c.status, c.description, c.created, c.modified,
                       mu.id, mu.name, o.id, o.name,
                       (SELECT json_agg(json_build_object('id', r.id, 'number', r.number,
                                                          'year', r.year,
                                                          'organisation', r.organisation_id))
                        FROM cases_registrationnumber r WHERE r.case_id = c.id)
                FROM cases_case c
                JOIN cases_municipality mu ON mu.id = c.municipality_id
                LEFT JOIN cases_organisation o ON o.id = c.responsible_organisation_id
                WHERE c.id IN (
                    SELECT id FROM cases_case
                    WHERE responsible_organisation_id = %s AND status = 'open'
                      AND modified >= %s AND modified <= %s
                    ORDER BY modified, id LIMIT 101)
                ORDER BY c.modified, c.id""",
                [self.organisation, self.since, self.until])
            rows = cursor.fetchall()
        return orjson.dumps({"results": [
            {"id": r[0], "title": r[1], "status": r[2], "description": r[3], "created": r[4],
             "modified": r[5], "municipality": {"id": r[6], "display": r[7]},
             "responsible_organisation": r[8] and {"id": r[8], "display": r[9]},
             "registration_numbers": r[10]} for r in rows[:100]]})

    def stock_case_list(self):
        """The same page through stock DRF, called as a view (without the middleware our
        list goes through: the comparison favours the stock one)."""
        params = {"organisation": str(self.organisation), "status": "open",
                  "modified_since": self.since, "modified_until": self.until}
        view = StockCaseList.as_view()
        factory = APIRequestFactory()

        def call():
            response = view(factory.get("/stock/cases/", params, HTTP_HOST="localhost"))
            assert response.status_code == 200, response.data
            return response.render()

        result = Result("case list, stock DRF (ModelSerializer + django-filter + "
                        "PageNumberPagination with COUNT, page 100)")
        result.samples = timed(call, self.repeat)
        result.queries = queries_of(call)
        ours = next((r for r in self.results if r.name.startswith("case list (")), None)
        if ours and ours.samples:
            times = statistics.median(result.samples) / statistics.median(ours.samples)
            result.note = f"ours is {times:.1f}× faster"
        self.results.append(result)

    def case_detail(self):
        url = f"/api/v1/cases/{self.case.pk}/"
        params = {"expand": "documents,motions,referrals,decisions,activities"}
        result = Result("case detail with expand (documents, motions, referrals, decisions, "
                        "activities)")
        result.samples = timed(lambda: self.get(url, params), self.repeat)
        result.queries = queries_of(lambda: self.get(url, params))
        self.results.append(result)

    def search(self):
        params = {"q": self.word, "type": "documents"}
        result = Result(f"search documents for '{self.word}'")
        result.samples = timed(lambda: self.get("/api/v1/search/", params), self.repeat)
        result.baseline = timed(lambda: self.raw_search(), self.repeat)
        result.queries = queries_of(lambda: self.get("/api/v1/search/", params))
        self.results.append(result)

    def raw_search(self) -> bytes:
        """The same hits: the best 20 of (at most) RANK_CANDIDATES matches."""
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT object_id, title, rank FROM (
                    SELECT id, object_id, title, ts_rank_cd(vector, q) AS rank
                    FROM cases_searchentry, websearch_to_tsquery('swedish_unaccent', %s) q
                    WHERE vector @@ q AND kind = 'documents' LIMIT %s) candidates
                ORDER BY rank DESC, id LIMIT 20""",
                [self.word, RANK_CANDIDATES])
            return orjson.dumps(cursor.fetchall())

    def sync_walk(self):
        """A mirror's first walk of the sync feed (every case, in commit order), following
        `next` to the end, where the feed hands out the token to resume from."""
        result = Result("sync walk: every case, a mirror's first walk (sync_token=0)")
        process = psutil.Process()
        rss = [process.memory_info().rss]
        started = time.perf_counter()
        records = 0
        # (read with orjson, as a sync client would: the standard library's parser took a
        # tenth of the walk)
        first = {"sync_token": "0", "limit": 500}
        body = orjson.loads(self.get("/api/v1/cases/", first).content)
        while True:
            records += len(body["results"])
            rss.append(process.memory_info().rss)
            if not body["next"]:
                break
            body = orjson.loads(self.get(body["next"].replace("http://localhost", "")).content)
        elapsed = time.perf_counter() - started
        assert body["sync_token"], "the last page hands out the token to resume from"
        result.samples = [elapsed]
        result.note = (f"{records:,} records in {elapsed:.1f} s = {records / elapsed:,.0f} "
                       f"records/s; memory {rss[0] / 2**20:.0f} → {max(rss) / 2**20:.0f} MiB")
        result.queries = queries_of(lambda: self.get("/api/v1/cases/", first))
        self.results.append(result)

    def register(self):
        _, key = issue_token(name=f"bench-{time.time()}", can_write=True)
        board = m.Organisation.objects.filter(short_name="KS", municipality__name__startswith=
                                              "Synteskommun").first()
        client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}")
        body = {"title": "Benchmarkärende", "municipality": str(board.municipality_id),
                "registering_organisation": str(board.pk)}

        def post():
            response = client.post("/api/v1/cases/", body, content_type="application/json")
            assert response.status_code == 201, response.content[:300]

        result = Result("register a case (POST, allocates KS yyyy/n)")
        result.samples = timed(post, max(10, self.repeat // 5))
        result.queries = queries_of(post)
        self.results.append(result)

    def run(self):
        for scenario in (self.case_list, self.stock_case_list, self.case_detail, self.search,
                         self.sync_walk, self.register):
            scenario()
        return self.results


# --- the stock DRF baseline ---------------------------------------------------------------


class StockRegistrationNumberSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.RegistrationNumber
        fields = ("id", "number", "year", "organisation")


class StockCaseSerializer(serializers.ModelSerializer):
    registration_numbers = StockRegistrationNumberSerializer(many=True, read_only=True)

    class Meta:
        model = m.Case
        fields = ("id", "title", "status", "description", "created", "modified",
                  "municipality", "responsible_organisation", "registration_numbers")


class StockCaseFilterSet(django_filters.FilterSet):
    organisation = django_filters.UUIDFilter(field_name="responsible_organisation")
    status = django_filters.CharFilter()
    modified_since = django_filters.IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_until = django_filters.IsoDateTimeFilter(field_name="modified", lookup_expr="lte")

    class Meta:
        model = m.Case
        fields = []


class StockPagination(pagination.PageNumberPagination):
    page_size = 100


class StockCaseList(generics.ListAPIView):
    """The case list as the DRF tutorial would write it."""

    queryset = (m.Case.objects.filter(voided_at__isnull=True)
                .prefetch_related("registration_numbers").order_by("modified", "id"))
    serializer_class = StockCaseSerializer
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = StockCaseFilterSet
    pagination_class = StockPagination
    renderer_classes = [renderers.JSONRenderer]
    authentication_classes = []
    permission_classes = []
    throttle_classes = []


# --- HTTP under load ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_load(path: str, *, database_url: str, seconds: int = 30, connections: int = 16):
    """gunicorn (one worker per core) driven by wrk; requests/s, latency, errors, peak RSS."""
    if not shutil.which("wrk"):
        return {"error": "wrk is not installed (apt-get install wrk)"}
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "0",
           "THROTTLE_RATE": "100000000/minute", "SECURE_SSL_REDIRECT": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "caseregister.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(os.cpu_count() or 2), "--no-control-socket"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-sf", "-o", "/dev/null", url]).returncode != 0:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        peak = [0]
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                                url], stdout=subprocess.PIPE, text=True)
        while wrk.poll() is None:
            for child in psutil.Process(server.pid).children():
                peak[0] = max(peak[0], child.memory_info().rss)
            time.sleep(0.5)
        return parse_wrk(wrk.stdout.read()) | {"peak_rss_mib": peak[0] / 2**20}
    finally:
        server.terminate()
        server.wait(timeout=30)


def parse_wrk(output: str) -> dict:
    """wrk's summary. Percentiles are read from the "Latency Distribution" section only: the
    thread stats above it end in "+/- Stdev" figures such as 72.50%, which a search for the
    first "50%" took for the median (and crashed on the next field)."""
    def ms(text):
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]

    figures = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])}
    section = output.split("Latency Distribution", 1)[1]
    percentiles = dict(re.findall(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+(?:us|ms|s|m))\s*$",
                                  section, re.MULTILINE))
    for label in ("50", "99"):
        figures[f"p{label}_ms"] = ms(percentiles[label])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    figures["errors"] = (int(errors[1]) if errors else 0) + (
        sum(int(x) for x in socket_errors.groups()) if socket_errors else 0)
    return figures


# --- the report --------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), "
                       "current_setting('shared_buffers')")
        version, buffers = cursor.fetchone()
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"PostgreSQL {version} (shared_buffers {buffers})")


def fmt(value, pattern="{:.1f}"):
    return "–" if value is None else pattern.format(value)


def report(results: list[Result], http: dict | None, http_seconds: int = 30, *,
           generated_in: int | None = None) -> str:
    counts = {name: model.objects.count() for name, model in (
        ("cases", m.Case), ("documents", m.Document), ("motions", m.Motion),
        ("referrals", m.Referral), ("decisions", m.Decision), ("links", m.Link))}
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}.",
        "",
        "Data: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()) + "."
        + (f" Generated in {generated_in:,} s (`generate_register`, COPY, search index, "
           "VACUUM ANALYZE)." if generated_in is not None else ""),
        "",
        "| scenario | median ms | p95 ms | p99 ms | × raw SQL + orjson | queries | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.name} | {fmt(r.median)} | {fmt(r.p95)} | {fmt(r.p99)} | "
                     f"{fmt(r.ratio, '{:.2f}')} | {r.queries} | {r.note} |")
    if http:
        lines += ["", f"Over HTTP (gunicorn, one worker per core; wrk, 16 connections, "
                      f"{http_seconds} s, case list as above):", ""]
        if "error" in http:
            lines.append(f"not run: {http['error']}")
        else:
            lines += ["| requests/s | p50 ms | p99 ms | errors | peak worker RSS MiB |",
                      "|---|---|---|---|---|",
                      f"| {http['requests_per_s']:.0f} | {http['p50_ms']:.1f} | "
                      f"{http['p99_ms']:.1f} | {http['errors']} | "
                      f"{http['peak_rss_mib']:.0f} |"]
    return "\n".join(lines)


def case_list_path(bench: Bench) -> str:
    return (f"/api/v1/cases/?organisation={bench.organisation}&status=open"
            f"&modified_since={bench.since}&modified_until={bench.until}&limit=100")


def write_report(text: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    current = path.read_text(encoding="utf-8") if path.exists() else f"{start}\n{end}\n"
    before, rest = current.split(start, 1)
    after = rest.split(end, 1)[1]
    path.write_text(f"{before}{start}\n{text}\n{end}{after}", encoding="utf-8")


def as_json(results: list[Result]) -> str:
    return json.dumps([{"name": r.name, "median_ms": r.median, "p95_ms": r.p95,
                        "p99_ms": r.p99,
                        "ratio": r.ratio, "queries": r.queries, "note": r.note}
                       for r in results], indent=2)
