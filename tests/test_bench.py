"""A small run of the benchmark harness, so that `make bench` cannot rot."""

import pytest
from django.db.models import Count

from cases import bench
from cases import models as m
from cases.services.synthetic import Generator

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated():
    counts = Generator(seed=7).generate(cases=2000, municipalities=4)
    return counts


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
    assert len(names) == 5
    assert all(r.samples for r in results)
    by_name = {r.name.split(" (")[0].split(":")[0]: r for r in results}
    assert by_name["case list"].queries == 3  # count, page, registration numbers
    assert by_name["case list"].ratio is not None
    assert "records/s" in by_name["sync walk"].note
    table = bench.report(results, None, generated_in=1234)
    assert table.count("\n| ") >= 6
    assert "2,0" in table  # the data size is written down
    assert "Generated in 1,234 s" in table
    rows = [line for line in table.splitlines() if line.startswith("| case list")]
    median, p95, p99 = (float(cell) for cell in rows[0].split("|")[2:5])
    assert median <= p95 <= p99  # the p95 column sits between median and p99
