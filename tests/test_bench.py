"""A small run of the benchmark harness, so that `make bench` cannot rot."""

import pytest
from django.db.models import Count

from cases import bench
from cases import models as m
from cases.services.synthetic import Generator

from .conftest import generated_register

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker):
    # Once for the module (generating it took ~25 s a test).
    with generated_register(django_db_blocker, seed=7, cases=2000, municipalities=4) as counts:
        yield counts


def test_the_generator_makes_a_skewed_repeatable_register(generated):
    assert generated.cases == generated.documents == 2000
    synthetic = m.Case.objects.filter(municipality__name__startswith="Synteskommun")
    assert synthetic.count() == 2000
    per_body = sorted((synthetic.values("responsible_organisation")
                       .annotate(n=Count("id")).values_list("n", flat=True)),
                      reverse=True)
    assert per_body[0] > 5 * per_body[len(per_body) // 2]  # a few large bodies
    recent = synthetic.filter(created__year__gte=2024).count()
    older = synthetic.filter(created__year__lte=2018).count()
    assert recent > older  # recent years busier
    numbers = m.RegistrationNumber.objects.filter(case__in=synthetic)
    assert numbers.count() == 2000
    assert numbers.values("organisation", "year", "serial").distinct().count() == 2000
    assert m.SearchEntry.objects.filter(kind="documents").count() >= 2000


def test_the_same_seed_gives_the_same_register():
    def stream(seed):
        generator = Generator(seed=seed)
        return [(generator.uuid(), generator.sentence(3, 8), generator.moment(2020))
                for _ in range(50)]

    assert stream(7) == stream(7)
    assert stream(7) != stream(8)


def test_every_scenario_runs_and_reports(generated, settings):
    # The throttle's counter in memory: the case list's queries are the page's only.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    results = bench.Bench(repeat=3).run()
    names = [r.name for r in results]
    assert len(names) == 6
    assert all(r.samples for r in results)
    by_name = {r.name.split(" (")[0].split(":")[0]: r for r in results}
    assert by_name["case list"].queries == 3  # count, page, registration numbers
    assert by_name["case list"].ratio is not None
    assert "records/s" in by_name["sync walk"].note
    stock = next(r for r in results if "stock DRF" in r.name)
    assert stock.samples and stock.queries >= 3  # count, page, registration numbers
    assert "× faster" in stock.note
    table = bench.report(results, None, generated_in=1234)
    assert table.count("\n| ") >= 6
    assert "2,0" in table  # the data size is written down
    assert "Generated in 1,234 s" in table
    rows = [line for line in table.splitlines() if line.startswith("| case list")]
    median, p95, p99 = (float(cell) for cell in rows[0].split("|")[2:5])
    assert median <= p95 <= p99  # the p95 column sits between median and p99


# --- the matrix of every door -------------------------------------------------------------

WRK_OUTPUT = """Running 30s test @ http://127.0.0.1:8000/api/v1/cases/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   125.31ms   20.12ms 300.00ms   72.50%
    Req/Sec    63.10     12.00   100.00     68.99%
  Latency Distribution
     50%  124.00ms
     75%  135.00ms
     90%  150.00ms
     99%  183.40ms
  3790 requests in 30.03s, 50.00MB read
Requests/sec:    126.21
Transfer/sec:      1.67MB
"""


def test_wrk_percentiles_come_from_the_latency_distribution():
    # "72.50%" in the thread stats ends in "50%": it is not the median.
    figures = bench.parse_wrk(WRK_OUTPUT)
    assert figures == {"requests_per_s": 126.21, "p50_ms": 124.0, "p99_ms": 183.4,
                       "errors": 0}
    slow = WRK_OUTPUT.replace("124.00ms", "1.20s").replace("183.40ms", "2.50s")
    assert bench.parse_wrk(slow)["p50_ms"] == 1200.0


def test_the_matrix_covers_every_door_from_the_code(generated, settings):
    from django.contrib import admin

    from cases.api.registry import resource_for
    from cases.api.views import VIEWSETS
    from cases.bench_matrix import Matrix, report
    from cases.search import KINDS

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # (one admin search of three: with all three the matrix took 117 s here at 2,000 cases,
    # on the shared 2-core machine, most of it in the admin searches)
    matrix = Matrix(samples=0, terms=("a registration number",))
    rows = matrix.run()
    names = {r.name for r in rows}
    unaccounted = [r.name for r in rows if not r.samples and r.status == "ok"]
    assert not unaccounted  # a figure, or "no value" / "error" said out loud
    assert all(r.note for r in rows if r.status != "ok")
    errors = [(r.name, r.note) for r in rows if r.status == "error"]
    assert not errors
    for viewset in VIEWSETS:
        collection = resource_for(viewset.model).collection
        for name in viewset.filterset_class.base_filters:
            assert f"{collection}: {name}" in names
        for field in viewset.ordering_fields:
            assert {f"{collection}: ordering={field}", f"{collection}: ordering=-{field}"} <= names
        assert f"{collection}: changes, first page of 500" in names
    for kind in KINDS.values():
        assert f"search: type={kind}" in names
    for model in admin.site._registry:
        if model._meta.app_label == "cases":
            assert f"admin {model._meta.model_name}: list" in names
            assert f"admin {model._meta.model_name}: change page" in names
    assert {"admin: case story", "admin: morning overview"} <= names
    by_name = {r.name: r for r in rows}
    assert by_name["cases: organisation"].plan  # the plan of the page's query
    assert by_name["cases: organisation"].queries
    assert by_name["cases: changes, first page of 500"].records == 500
    assert by_name["admin case: list"].samples
    text = report(rows, samples=0, seconds=12)
    assert text.count("\n| ") == len(rows) + 1  # header and one line a row
    assert f"{m.Case.objects.count():,} cases" in text


def test_a_new_filter_gets_its_row_and_one_without_a_value_says_so(generated, settings,
                                                                   monkeypatch):
    import django_filters

    from cases.api.filters import CaseFilterSet
    from cases.bench_matrix import Matrix, Row

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    added = {"description": django_filters.CharFilter(field_name="description",
                                                      lookup_expr="icontains"),
             "odd": django_filters.CharFilter(field_name="odd", method="filter_odd")}
    monkeypatch.setattr(CaseFilterSet, "base_filters", {**CaseFilterSet.base_filters, **added})
    monkeypatch.setattr(CaseFilterSet, "filter_odd", lambda self, qs, name, value: qs,
                        raising=False)
    matrix = Matrix(samples=1, models={m.Case})
    matrix.api_rows()
    by_name = {r.name: r for r in matrix.rows}
    assert len(by_name["cases: description"].samples) == 1
    assert by_name["cases: odd"].status == "no value"
    # A request that fails is an error row, not a timing.
    failed = matrix.measure(Row("api", "broken"), matrix.api, "/api/v1/cases/",
                            {"ordering": "nonsense"})
    assert failed.status == "error" and not failed.samples and "HTTP 400" in failed.note
    assert failed.over
