"""Reading from the database faster changes nothing that is read.

``caseregister.timestamps`` parses timestamps with psycopg's C loader; ``from_db`` on the
register models builds instances without ``Model.__init__``. Both must give what Django
gives.
"""

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from caseregister.timestamps import UTCTimestamptzLoader
from cases import models as m

pytestmark = pytest.mark.django_db

MOMENTS = [
    "2026-03-29 00:59:59.999999+00",  # the last microsecond before summer time in Sweden
    "2026-03-29 01:00:00+00",
    "2026-10-25 00:30:00.5+00",
    "1999-12-31 23:59:59+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2026-11-27 12:20:36.573797+01",
]


def read(cursor) -> list:
    cursor.execute("SELECT unnest(%s::timestamptz[])", [MOMENTS])
    return [row[0] for row in cursor.fetchall()]


def test_the_c_loader_is_in_use_and_reads_what_djangos_loader_reads():
    connection.ensure_connection()
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(1184, 0)  # timestamptz, text format
        assert loader is UTCTimestamptzLoader
        fast = read(cursor)
    with connection.cursor() as cursor:
        register_tzloader(datetime.UTC, cursor.cursor)  # Django's own, on this cursor only
        plain = read(cursor)
    assert fast == plain
    assert [value.tzinfo for value in fast] == [datetime.UTC] * len(MOMENTS)
    assert [value.isoformat() for value in fast] == [value.isoformat() for value in plain]
    assert fast[0].microsecond == 999999 and fast[2].microsecond == 500000


def _organisation() -> m.Organisation:
    return m.Organisation.objects.select_related("municipality").order_by("created").first()


def test_loaded_records_hold_each_column_under_its_own_name():
    loaded = _organisation()
    names = [f.attname for f in m.Organisation._meta.concrete_fields]
    # values() reads the columns without building instances, so it does not use from_db
    stored = m.Organisation.objects.filter(pk=loaded.pk).values(*names).get()
    assert {name: getattr(loaded, name) for name in names} == stored
    assert loaded.get_deferred_fields() == set()
    assert loaded._state.adding is False and loaded._state.db == "default"
    with CaptureQueriesContext(connection) as captured:
        name = loaded.municipality.name
    assert name and not captured.captured_queries  # the joined relation came with the row


def test_deferred_columns_load_on_access_and_saving_writes_only_what_was_loaded():
    original = _organisation()
    partial = m.Organisation.objects.only("id", "name").get(pk=original.pk)
    assert partial.get_deferred_fields() >= {"short_name", "municipality_id"}
    assert partial.short_name == original.short_name  # loaded now, by one query
    partial.name = "Omdöpt nämnd"
    partial.save()
    reread = m.Organisation.objects.get(pk=original.pk)
    assert (reread.name, reread.municipality_id) == ("Omdöpt nämnd", original.municipality_id)
    reread.refresh_from_db()
    assert reread.name == "Omdöpt nämnd"


def test_with_an_init_signal_receiver_django_builds_the_instance():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=m.Organisation)
    try:
        loaded = _organisation()
    finally:
        post_init.disconnect(receiver, sender=m.Organisation)
    assert seen and seen[0] == loaded.pk


def _executions() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def test_row_queries_are_prepared_statements_reused_across_requests(client):
    case = m.Case.objects.filter(documents__isnull=False).order_by("created").first()
    before = _executions()
    for _ in range(3):
        response = client.get(f"/api/v1/cases/{case.pk}/", {"expand": "documents"})
        assert response.status_code == 200
    assert response.json()["documents"]
    after = _executions()
    documents = [s for s in after if 'FROM "cases_document"' in s and "ANY($1" in s]
    assert len(documents) == 1  # one statement, whatever the case
    assert after[documents[0]] - before.get(documents[0], 0) == 3
