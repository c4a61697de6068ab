"""Incremental sync: each collection's change feed (``/<collection>/changes/``: tombstones,
?sync_token= in commit order, modified_since), pages that never skip. The plain list leaves
voided records out, except for the feed's parameters, which it still answers as the feed
(mirrors written before the feed had its own path)."""

import datetime
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from cases import models as m
from cases.api.fields import Related
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS

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
    synced = client.get("/api/v1/cases/changes/",
                        {"modified_since": EARLY}).json()["results"]
    tombstone = next(r for r in synced if r["id"] == str(case.pk))
    assert tombstone["voided"] is True
    assert set(tombstone) == {"id", "url", "voided", "voided_at", "modified"}
    assert "Felregistrerat" not in str(tombstone)  # a tombstone carries no content
    live = [r for r in synced if r["id"] != str(case.pk)]
    assert all("title" in r for r in live)


def test_the_change_feed_lists_tombstones_the_list_leaves_out(client):
    """/changes/ with no parameter: every record, voided ones as tombstones; the list, typed
    as records in the schema, holds none; asked as the feed was before it had its own path
    (sync_token, modified_since), the list still answers as the feed does."""
    case = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    voided_at = timezone.now()
    m.Case.objects.filter(pk=case.pk).update(voided_at=voided_at, modified=voided_at)
    changes = client.get("/api/v1/cases/changes/", {"page_size": 500}).json()
    assert {r["id"] for r in changes["results"]} == {
        str(pk) for pk in m.Case.objects.values_list("pk", flat=True)}
    assert next(r for r in changes["results"] if r["id"] == str(case.pk))["voided"] is True
    listed = client.get("/api/v1/cases/", {"page_size": 500}).json()["results"]
    assert all("voided" not in r for r in listed) and str(case.pk) not in {
        r["id"] for r in listed}
    for legacy in ({"sync_token": "0", "page_size": 500}, {"modified_since": EARLY,
                                                           "page_size": 500}):
        old = client.get("/api/v1/cases/", legacy).json()
        assert next(r for r in old["results"] if r["id"] == str(case.pk))["voided"] is True


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


# --- The sync feed: a resume point in commit order (?sync_token=) ---------------------------
# These tests run inside one rolled-back transaction: the first walk of each test happens
# before it writes anything, so its token lies below every change the test makes. Changes
# that commit late, and a mirror that must equal the database, are tested over real HTTP in
# tests/test_sync_mirror.py.

COLLECTIONS = ["municipalities", "organisations", "parties", "people", "cases", "documents",
               "motions", "referrals", "referral-responses", "decisions",
               "collaboration-models", "activities", "links"]


def feed(client, path, token="0", page_size=500):
    """A whole sync walk of a collection (its path) from ``token`` through its change feed:
    the records (in order) and the token handed out."""
    body = client.get(f"{path}changes/", {"sync_token": token, "page_size": page_size}).json()
    records = []
    while True:
        records += body["results"]
        if not body["next"]:
            assert body["sync_token"] is not None
            return records, body["sync_token"]
        assert body["sync_token"] is None, "a token before the last page could skip records"
        body = client.get(body["next"]).json()


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_first_sync_walk_returns_every_record_once_then_a_token(client, collection):
    model = next(v.model for v in VIEWSETS if resource_for(v.model).collection == collection)
    m_ = model.objects
    some = m_.order_by("pk").first()
    m_.filter(pk=some.pk).update(voided_at=timezone.now(), void_reason="Felregistrerat")
    records, token = feed(client, f"/api/v1/{collection}/", page_size=3)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == m_.count()
    assert next(r for r in records if r["id"] == str(some.pk))["voided"] is True
    assert token.isdigit()


def test_a_resumed_sync_returns_the_changes_since_its_token_last(client):
    _, token = feed(client, "/api/v1/cases/")
    changed = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    changed.description = "Ändrad efter förra synken"
    changed.save()
    voided = m.Case.objects.exclude(pk=changed.pk).order_by("pk").first()
    m.Case.objects.filter(pk=voided.pk).update(voided_at=timezone.now(), void_reason="Fel")
    records, later = feed(client, "/api/v1/cases/", token)
    # Records written before the token may come again (at least once); these must come,
    # after them, as they are now.
    assert {r["id"] for r in records[-2:]} == {str(changed.pk), str(voided.pk)}
    found = {r["id"]: r for r in records}
    assert found[str(changed.pk)]["description"] == "Ändrad efter förra synken"
    assert found[str(voided.pk)]["voided"] is True
    assert int(later) >= int(token)


def test_a_walk_with_changes_between_its_pages_loses_nothing(client):
    """Change X (read on page 1), then Y (not read yet), add Z: the walk and its resume
    deliver each as it is now. (A client resuming from the newest ``modified`` it saw loses
    X's change: see the next test.)"""
    mirror = {}
    body = client.get("/api/v1/cases/changes/", {"sync_token": "0", "page_size": 2}).json()
    mirror.update({r["id"]: r for r in body["results"]})
    seen_x = m.Case.objects.get(pk=body["results"][0]["id"])
    not_yet_y = m.Case.objects.exclude(pk__in=list(mirror)).order_by("created").last()
    seen_x.description = "X ändrad"
    seen_x.save()
    not_yet_y.description = "Y ändrad"
    not_yet_y.save()
    stockholm = m.Municipality.objects.get(code="0180")
    z = m.Case.objects.create(title="Z, nytt under synken", municipality=stockholm)
    while body["next"]:
        body = client.get(body["next"]).json()
        mirror.update({r["id"]: r for r in body["results"]})
    records, _ = feed(client, "/api/v1/cases/", body["sync_token"])
    mirror.update({r["id"]: r for r in records})
    assert mirror[str(seen_x.pk)]["description"] == "X ändrad"
    assert mirror[str(not_yet_y.pk)]["description"] == "Y ändrad"
    assert str(z.pk) in mirror
    assert set(mirror) == {str(pk) for pk in m.Case.objects.values_list("pk", flat=True)}


def test_a_timestamp_mirror_loses_a_change_in_the_same_walk(client):
    """Why the feed hands out a token: the walk above, resumed from the newest ``modified``
    seen, never delivers X's change (the issue's single-client loss). The walk is in created
    order, as a client that names it (or walked before a range had its own order) gets."""
    mirror = {}
    body = client.get("/api/v1/cases/changes/", {"modified_since": EARLY, "page_size": 2,
                                                 "ordering": "created"}).json()
    mirror.update({r["id"]: r for r in body["results"]})
    seen_x = m.Case.objects.get(pk=body["results"][0]["id"])
    not_yet_y = m.Case.objects.exclude(pk__in=list(mirror)).order_by("created").last()
    seen_x.description = "X ändrad"
    seen_x.save()
    not_yet_y.description = "Y ändrad"
    not_yet_y.save()
    while body["next"]:
        body = client.get(body["next"]).json()
        mirror.update({r["id"]: r for r in body["results"]})
    since = max(r["modified"] for r in mirror.values())
    records, _ = walk(client, "/api/v1/cases/changes/", {"modified_since": since})
    mirror.update({r["id"]: r for r in records})
    assert mirror[str(not_yet_y.pk)]["description"] == "Y ändrad"
    assert mirror[str(seen_x.pk)]["description"] != "X ändrad"  # lost for good


SYNC_MIGRATION = import_module("cases.migrations.0017_sync_change_xid")
PARTS = SYNC_MIGRATION.PARTS


@pytest.mark.parametrize("part, column, record", PARTS, ids=[p for p, _, _ in PARTS])
def test_a_changed_part_brings_its_record_again(client, part, column, record):
    """Parts have no collection: a record's feed must bring the record again when one of
    the parts it renders changes, whatever wrote it (here a plain UPDATE)."""
    model = apps.get_model("cases", part)
    row = model.objects.order_by("pk").first()
    assert row is not None, f"the seed register has no {part}"
    parent = getattr(row, column)
    parent_model = model._meta.get_field(column.removesuffix("_id")).related_model
    collection = resource_for(parent_model).collection
    before = change_xid(parent_model, parent)
    _, token = feed(client, f"/api/v1/{collection}/")
    model.objects.filter(pk=row.pk).update(created=row.created)  # a write changing nothing
    records, _ = feed(client, f"/api/v1/{collection}/", token)
    assert str(parent) in {r["id"] for r in records}
    assert change_xid(parent_model, parent) > before >= 0  # (not merely delivered again)


def change_xid(model, pk) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT change_xid FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_a_part_added_brings_its_record_again(client):
    first = m.Case.objects.order_by("pk").first()
    _, token = feed(client, "/api/v1/cases/")
    m.RegistrationNumber.objects.create(
        case=first, number="TEST 2026/1", year=2026,
        organisation=first.registration_numbers.first().organisation)
    records, _ = feed(client, "/api/v1/cases/", token)
    assert records[-1]["id"] == str(first.pk)  # written last, so last in commit order
    assert "TEST 2026/1" in {n["number"] for n in records[-1]["registration_numbers"]}


def test_a_part_moved_to_another_record_brings_both_again(client):
    number = m.RegistrationNumber.objects.get(number="KS 2025/638")
    old_case = number.case
    new_case = m.Case.objects.exclude(pk=old_case.pk).order_by("pk").first()
    _, token = feed(client, "/api/v1/cases/")
    m.RegistrationNumber.objects.filter(pk=number.pk).update(case=new_case)
    records, _ = feed(client, "/api/v1/cases/", token)
    assert {r["id"] for r in records[-2:]} == {str(old_case.pk), str(new_case.pk)}


def test_every_part_a_record_renders_stamps_its_record():
    """A part list added to a serializer needs its trigger (migration 0017's PARTS); every
    collection table needs the stamp and its index."""
    rendered = set()
    for viewset in VIEWSETS:
        serializer = resource_for(viewset.model).full(context={"expand": {}})
        for field in serializer.fields.values():
            if isinstance(field, serializers.ListSerializer):
                relation = viewset.model._meta.get_field(field.source)
                rendered.add((relation.related_model._meta.db_table, relation.field.column,
                              viewset.model._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        triggers = {name for (name,) in cursor.fetchall()}
        cursor.execute("SELECT indexname FROM pg_indexes")
        indexes = {name for (name,) in cursor.fetchall()}
    assert rendered == {(f"cases_{p}", c, f"cases_{r}") for p, c, r in PARTS}
    assert {f"{table}_touch_record" for table, _, _ in rendered} <= triggers
    for viewset in VIEWSETS:
        table = viewset.model._meta.db_table
        assert f"{table}_change_xid" in triggers and f"{table}_xkey" in indexes


def test_a_case_made_confidential_brings_the_records_showing_its_title_again(client):
    """A document shows its case in brief, by the case's title, or its public title once the
    case is confidential: the mirror must get the masked form, though no document row
    changed."""
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    document = case.documents.order_by("pk").first()
    before = change_xid(m.Document, document.pk)
    _, token = feed(client, "/api/v1/documents/")
    case.confidential, case.public_title = True, "Ärende om en enskild"
    case.confidentiality_basis = "OSL 26 kap. 1 §"
    case.save()
    records, _ = feed(client, "/api/v1/documents/", token)
    shown = next(r for r in records if r["id"] == str(document.pk))
    assert shown["case"]["display"] == "Ärende om en enskild"
    assert change_xid(m.Document, document.pk) > before


def test_a_case_made_confidential_brings_its_whole_subtree_again(client):
    """Making a case confidential withholds its motions, referrals, their responses and the
    links touching them (cases.confidentiality.PARENTS), though none of their rows changed:
    each comes again in its feed, masked (migration 0018)."""
    case = m.Case.objects.filter(referrals__responses__isnull=False).distinct().first()
    response = m.ReferralResponse.objects.filter(referral__case=case).first()
    motion_ids = set(m.Motion.objects.filter(case=case).values_list("pk", flat=True))
    ids = {case.pk, response.pk, *motion_ids,
           *m.Referral.objects.filter(case=case).values_list("pk", flat=True)}
    link = m.Link.objects.filter(Q(source_id__in=ids) | Q(target_id__in=ids)).first()
    assert link is not None
    tokens = {path: feed(client, path)[1] for path in
              ("/api/v1/referral-responses/", "/api/v1/links/")}
    case.confidential, case.public_title = True, "Ärende om en enskild"
    case.confidentiality_basis = "OSL 26 kap. 1 §"
    case.save()
    path = "/api/v1/referral-responses/"
    responses, _ = feed(client, path, tokens[path])
    assert str(response.pk) in {r["id"] for r in responses}
    links, _ = feed(client, "/api/v1/links/", tokens["/api/v1/links/"])
    assert str(link.pk) in {r["id"] for r in links}


def test_every_masked_brief_is_restamped():
    """A record showing another's title masked by its confidentiality is listed in
    MASKED_BRIEFS (migration 0017's, with 0032's closing document), whose trigger restamps
    it."""
    shown = set()
    for viewset in VIEWSETS:
        serializer = resource_for(viewset.model).full(context={"expand": {}})
        for field in serializer.fields.values():
            if isinstance(field, Related) and not field.many:
                target = viewset.model._meta.get_field(field.source)
                names = {f.name for f in target.related_model._meta.concrete_fields}
                if {"confidential", "public_title"} <= names:
                    shown.add((viewset.model._meta.model_name, target.column,
                               target.related_model._meta.model_name))
    assert shown == set(import_module(
        "cases.migrations.0032_restamp_case_closing_document").MASKED_BRIEFS)


def test_sync_parameters_are_checked(client):
    bad = client.get("/api/v1/cases/changes/", {"sync_token": "12a", "ordering": "-modified"})
    assert bad.status_code == 400
    assert {p["name"] for p in bad.json()["invalid_params"]} == {"sync_token", "ordering"}
    ahead = client.get("/api/v1/cases/changes/", {"sync_token": str(2**62)})
    assert ahead.status_code == 400
    assert "rebuild the mirror" in ahead.json()["invalid_params"][0]["reason"]
    listed = client.get("/api/v1/cases/", {"page_size": 1}).json()
    cursor = listed["next"].split("cursor=")[1].split("&")[0]
    foreign = client.get("/api/v1/cases/changes/", {"sync_token": "0", "cursor": cursor})
    assert foreign.status_code == 400  # a list's cursor is no position in the feed
    assert "sync_token" not in listed  # plain lists carry no token
