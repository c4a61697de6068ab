"""Incremental sync (OParl 1.1's rule): modified_since, tombstones, pages that never skip."""

import datetime

import pytest
from django.utils import timezone

from cases import models as m

pytestmark = pytest.mark.django_db

EARLY = "2000-01-01T00:00:00Z"


def walk(client, path, params):
    """Follow ``next`` to the end; return the records and the number of pages."""
    records, pages = [], 0
    body = client.get(path, params).json()
    while True:
        pages += 1
        records += body["results"]
        if not body["next"]:
            return records, pages
        body = client.get(body["next"]).json()


def test_a_walk_returns_every_record_once(client):
    records, pages = walk(client, "/api/v1/organisations/", {"page_size": 7})
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == m.Organisation.objects.count()
    assert pages == -(-len(ids) // 7)


def test_a_walk_neither_skips_nor_repeats_while_records_change(client):
    stockholm = m.Municipality.objects.get(code="0180")
    before = set(map(str, m.Organisation.objects.values_list("pk", flat=True)))
    body = client.get("/api/v1/organisations/", {"page_size": 5}).json()
    seen = [r["id"] for r in body["results"]]
    first_seen = m.Organisation.objects.get(pk=seen[0])
    not_yet = m.Organisation.objects.exclude(pk__in=seen).order_by("-created").first()
    added = []
    while body["next"]:
        # Underneath the walk: a seen record changes, an unseen one changes, one is added.
        first_seen.name += " (ändrad)"
        first_seen.save()
        not_yet.name += " (ändrad)"
        not_yet.save()
        added.append(m.Organisation.objects.create(
            name=f"Ny nämnd {len(seen)}", type="committee", municipality=stockholm).pk)
        body = client.get(body["next"]).json()
        seen += [r["id"] for r in body["results"]]
    assert len(seen) == len(set(seen)), "a record was repeated"
    assert before <= set(seen), "a record was skipped"
    assert {str(pk) for pk in added} <= set(seen), "a record added during the walk was missed"


def test_modified_since_and_until_are_inclusive(client):
    cases = list(m.Case.objects.order_by("pk"))
    base = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
    for i, case in enumerate(cases):
        m.Case.objects.filter(pk=case.pk).update(modified=base + datetime.timedelta(hours=i))
    since = (base + datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    until = (base + datetime.timedelta(hours=3)).isoformat().replace("+00:00", "Z")
    body = client.get("/api/v1/cases/", {"modified_since": since,
                                         "modified_until": until}).json()
    assert {r["id"] for r in body["results"]} == {str(c.pk) for c in cases[1:4]}


def test_created_since(client):
    case = m.Case.objects.first()
    m.Case.objects.update(created=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    m.Case.objects.filter(pk=case.pk).update(
        created=datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC))
    body = client.get("/api/v1/cases/", {"created_since": "2025-06-01T00:00:00+00:00"}).json()
    assert [r["id"] for r in body["results"]] == [str(case.pk)]


def test_voided_records_come_as_tombstones_only_when_syncing(client):
    case = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    voided_at = timezone.now()
    m.Case.objects.filter(pk=case.pk).update(voided_at=voided_at, modified=voided_at,
                                             void_reason="Felregistrerat")
    normal = client.get("/api/v1/cases/").json()["results"]
    assert str(case.pk) not in {r["id"] for r in normal}
    synced = client.get("/api/v1/cases/", {"modified_since": EARLY}).json()["results"]
    tombstone = next(r for r in synced if r["id"] == str(case.pk))
    assert tombstone["voided"] is True
    assert set(tombstone) == {"id", "url", "voided", "voided_at", "modified"}
    assert "Felregistrerat" not in str(tombstone)  # a tombstone carries no content
    live = [r for r in synced if r["id"] != str(case.pk)]
    assert all("title" in r for r in live)


def test_sync_parameters_must_be_rfc3339(client):
    response = client.get("/api/v1/cases/", {"modified_since": "yesterday",
                                             "created_since": "2025-13-45T00:00:00Z"})
    assert response.status_code == 400
    names = {p["name"] for p in response.json()["invalid_params"]}
    assert names == {"modified_since", "created_since"}


def test_a_forged_cursor_is_refused(client):
    response = client.get("/api/v1/cases/", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "cursor"
