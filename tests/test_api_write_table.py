"""Declarative write tests: every writable collection and every part, from one table.

Modelled on NetBox's ``utilities/testing/api.py``: a collection is covered by one line of
``TABLE`` (its URL, a create body, a change body, an item of each kind of part), and the
tests below run every write the API offers on each line: create, update under the current
ETag, update without If-Match (428) and with a stale one (412), void and void again (409),
the same writes refused to a token without the write scope (403) and to no one (401), and
for each part the record's list replaced under the record's If-Match. Each write that is
made leaves its audit entry and its event; each write refused leaves neither.

The table cannot fall behind the API: ``test_the_table_names_every_writable_collection``
compares it with ``cases.api.views.VIEWSETS`` and ``test_the_table_names_every_part`` with
``cases.api.parts.parts_of``, so a new collection or a new kind of part fails until
its line is added.

Bodies name related records by natural key, as clients do (``ks2025/638``, ``Stockholm/KS``);
a body that needs ids (a link, a referral response) is a function, called inside the test.
The run writes what it covered to ``test-artifacts/write-coverage.md``.
"""

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max
from rest_framework.test import APIClient

from cases import models as m
from cases.api.parts import parts_of
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS
from cases.services.tokens import issue_token

pytestmark = pytest.mark.django_db
ARTIFACT = Path(__file__).resolve().parent.parent / "test-artifacts" / "write-coverage.md"
REASON = "Registrerad av misstag"

Body = dict | Callable[[], dict]


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A kind of part of a record: its relation (the list in the record's body) and two
    valid items, different in every field the part model keeps unique."""

    relation: str
    first: Body
    second: Body


@dataclass(frozen=True)
class Row:
    """A writable collection: a valid create body and a valid change (PATCH) body, whose
    every key is a field the change touches, and each kind of part of its records."""

    collection: str
    model: type
    create: Body
    change: Body
    parts: tuple[Part, ...] = field(default=())


def resolve(body: Body) -> dict:
    return dict(body()) if callable(body) else dict(body)


def skottland():
    return m.Case.objects.get(registration_numbers__number="KS 2025/638")


def referral_response():
    """The referral of KS 2025/638 answered by an organisation that has not answered yet
    (a second response of one body to one referral is a duplicate)."""
    referral = m.Referral.objects.filter(case=skottland(), voided_at__isnull=True).first()
    organisation = m.Organisation.objects.filter(
        municipality__name="Stockholm", voided_at__isnull=True).exclude(
        pk__in=referral.responses.values("organisation")).order_by("name").first()
    return {"referral": str(referral.pk), "organisation": str(organisation.pk),
            "position": "supports", "date": "2026-01-20"}


def link():
    """The motion of KS 2025/638 evaluates the Skottland model (no such link in the seed)."""
    motion = m.Motion.objects.filter(case=skottland()).first()
    model = m.CollaborationModel.objects.get(name__iexact="Skottlandsmodellen")
    return {"source_type": "motion", "source_id": str(motion.pk), "type": "evaluates",
            "target_type": "collaborationmodel", "target_id": str(model.pk)}


CASE = "ks2025/638"  # the case by a registration number, as users type it

TABLE = [
    Row("municipalities", m.Municipality,
        create={"name": "Örebro", "code": "1880"},
        change={"name": "Örebro kommun"}),
    Row("organisations", m.Organisation,
        create={"name": "Provnämnden", "short_name": "PN", "type": "committee",
                "municipality": "Stockholm"},
        change={"name": "Prov- och testnämnden"}),
    Row("parties", m.Party,
        create={"abbreviation": "MP", "name": "Miljöpartiet"},
        change={"name": "Miljöpartiet de gröna"}),
    Row("people", m.Person,
        create={"name": "Åsa Öberg"},
        change={"name": "Åsa Öberg Lind"},
        parts=(Part("name_variants", {"name": "Asa Oberg"}, {"name": "Åsa Oberg"}),
               Part("roles", {"title": "Förvaltningschef", "organisation": "Stockholm/KS"},
                    {"title": "Rektor", "as_of": "2025-08-01"}),
               Part("affiliations", {"party": "L"}, {"party": "M", "as_of": "2026-01-01"}))),
    Row("cases", m.Case,
        create={"title": "Medborgarförslag om fler parkbänkar", "municipality": "Stockholm",
                "registering_organisation": "KS", "year": 2026},
        change={"title": "Medborgarförslag om parkbänkar", "description": "Kompletterat."}),
    Row("documents", m.Document,
        create={"case": CASE, "title": "Tjänsteutlåtande", "type": "official_memo",
                "direction": "drawn_up", "date": "2026-01-10"},
        change={"title": "Reviderat tjänsteutlåtande", "date": "2026-01-12"},
        parts=(Part("signatories", {"position": 1, "person": "Jan Jönsson"},
                    {"position": 2, "person": "John Eklöf", "title": "Ledamot"}),
               Part("attachments", {"position": 1, "title": "Bilaga 1"},
                    {"position": 2, "title": "Bilaga 2", "date": "2026-01-09"}))),
    Row("motions", m.Motion,
        create={"case": CASE, "title": "Motion om fler fritidsgårdar",
                "addressed_to": "Stockholm/Kommunfullmäktige", "date": "2026-01-08"},
        change={"title": "Motion om fritidsgårdar", "summary": "Fler fritidsgårdar."},
        parts=(Part("authors", {"position": 1, "person": "Jan Jönsson", "party": "L"},
                    {"position": 2, "person": "John Eklöf", "party": "M"}),
               Part("proposals", {"number": 1, "text": "att utreda fler fritidsgårdar"},
                    {"number": 2, "text": "att återkomma till fullmäktige"}))),
    Row("referrals", m.Referral,
        create={"case": CASE, "title": "Remiss om fritidsgårdar", "sender": "Stockholm/KS",
                "received_date": "2026-01-05"},
        change={"title": "Remiss om fler fritidsgårdar", "due_date": "2026-03-01"},
        parts=(Part("consulted_bodies", {"name_as_written": "Utbildningsnämnden"},
                    {"name_as_written": "Socialnämnden", "response_status": "pending"}),)),
    Row("referral-responses", m.ReferralResponse,
        create=referral_response,
        change={"position": "rejects", "summary": "Avstyrker."}),
    Row("decisions", m.Decision,
        create={"case": CASE, "kind": "proposed", "organisation": "Stockholm/KS",
                "date": "2026-02-01"},
        change={"summary": "Motionen besvaras.", "date": "2026-02-03"},
        parts=(Part("points", {"number": 1, "text": "Motionen anses besvarad."},
                    {"number": 2, "text": "Paragrafen justeras omedelbart."}),)),
    Row("collaboration-models", m.CollaborationModel,
        create={"name": "Trygg skolväg", "municipality": "Malmö", "level": "universal"},
        change={"name": "Trygg skolväg 2.0", "status": "pilot"},
        parts=(Part("sectors", {"sector": "school"}, {"sector": "police"}),
               Part("usages", {"place": "i hela staden"}, {"municipality": "Malmö"}),
               Part("figures", {"label": "Kostnad", "value": 1250.5, "unit": "tkr"},
                    {"label": "Elever", "value": 300, "unit": "count", "year": 2025}))),
    Row("activities", m.Activity,
        create={"case": CASE, "type": "other", "date": "2026-01-15"},
        change={"description": "Samråd med skolan.", "date": "2026-01-16"}),
    Row("links", m.Link,
        create=link,
        change={"type": "based_on"}),
]

PARTS = [(row, part) for row in TABLE for part in row.parts]
ROW_IDS = [row.collection for row in TABLE]
PART_IDS = [f"{row.collection}.{part.relation}" for row, part in PARTS]


# --- what the run covered ----------------------------------------------------------------

CELLS = ("create", "update", "void", "If-Match 428/412", "401/403")
COVERED: dict[str, set[str]] = defaultdict(set)
LEGEND = """Collections: create 201 with Location and ETag; update 200 under the current ETag,
a new ETag; void with a reason, then 409 for voiding or changing it again; If-Match: 428
without, 412 stale (after another writer's change); 401 anonymous and 403 without the write
scope on create, update and void. Parts, in the record's body: create = the record created
with the part; update = the list replaced under the record's If-Match (one added) and a part
changed by its id; void = a part left out is voided. Every write made: its audit entry and
its event; every write refused: neither.
"""


def covered(name: str, *cells: str) -> None:
    """Called as a test's last line: the cells it showed (so a failed test shows none)."""
    assert set(cells) <= set(CELLS)
    COVERED[name].update(cells)


@pytest.fixture(scope="module", autouse=True)
def coverage_report():
    """After the module: the write coverage table, collection/part × write, ✓ per cell that
    a passing test showed (for the closing note of the issue)."""
    COVERED.clear()
    yield
    lines = ["| collection / part | " + " | ".join(CELLS) + " |",
             "|---|" + "---|" * len(CELLS)]
    for name in [*ROW_IDS, *PART_IDS]:
        marks = ["✓" if cell in COVERED[name] else "" for cell in CELLS]
        lines.append(f"| {name} | " + " | ".join(marks) + " |")
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("# Write coverage (tests/test_api_write_table.py)\n\n"
                        + "\n".join(lines) + "\n\n" + LEGEND)


# --- clients, the trail ------------------------------------------------------------------


def client_with(*, can_write: bool, name: str) -> APIClient:
    _, key = issue_token(name=name, can_write=can_write)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE="en")
    return client


@pytest.fixture
def writer():
    return client_with(can_write=True, name="Ärendesystem")


@pytest.fixture
def reader():
    return client_with(can_write=False, name="Webbplats")


def trail_mark() -> int:
    """The last audit entry before a step: what the step writes comes after it."""
    return m.AuditEntry.objects.aggregate(last=Max("id"))["last"] or 0


def entries_after(mark: int, model, pk, action: str) -> list:
    return list(m.AuditEntry.objects.filter(
        id__gt=mark, content_type=ContentType.objects.get_for_model(model),
        object_id=pk, action=action).order_by("id"))


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def assert_event(entry, row: Row, action: str):
    """The event of ``entry``: written with it, for its record, typed and addressed by the
    record's model and collection."""
    event = m.Event.objects.get(audit_entry=entry)
    assert event.type == f"se.caseregister.{kebab(row.model.__name__)}.{action}"
    assert event.action == action
    assert event.record_id == entry.object_id
    assert event.collections[0] == row.collection
    assert event.message["data"]["collection"] == row.collection
    assert event.message["data"]["action"] == action
    assert event.message["data"]["url"].endswith(f"/api/v1/{row.collection}/{entry.object_id}/")
    return event


def assert_nothing_written(mark: int) -> None:
    assert not m.AuditEntry.objects.filter(id__gt=mark).exists()
    assert not m.Event.objects.filter(audit_entry_id__gt=mark).exists()


def url_of(row: Row, pk=None) -> str:
    base = f"/api/v1/{row.collection}/"
    return base if pk is None else f"{base}{pk}/"


def create(client, row: Row, **extra):
    response = client.post(url_of(row), {**resolve(row.create), **extra}, format="json")
    assert response.status_code == 201, response.content
    return response


def version(row: Row, pk) -> int:
    return row.model.objects.values_list("version", flat=True).get(pk=pk)


# --- the table covers the API ------------------------------------------------------------


def writable_collections() -> dict:
    return {resource_for(viewset.model).collection: viewset.model for viewset in VIEWSETS
            if getattr(viewset, "write_serializer", None) is not None}


def test_the_table_names_every_writable_collection():
    assert {row.collection: row.model for row in TABLE} == writable_collections()
    assert len(ROW_IDS) == len(set(ROW_IDS))


def test_the_table_names_every_part():
    for row in TABLE:
        listed = [part.relation for part in row.parts]
        assert len(listed) == len(set(listed)), row.collection
        assert set(listed) == set(parts_of(row.model)), row.collection


# --- every collection ---------------------------------------------------------------------


@pytest.mark.parametrize("row", TABLE, ids=ROW_IDS)
def test_create(writer, row):
    mark = trail_mark()
    response = create(writer, row)
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["url"].endswith(url_of(row, body["id"]))
    assert response["ETag"].startswith('"1-')  # the first version
    assert writer.get(response["Location"])["ETag"] == response["ETag"]
    record = row.model.objects.get(pk=body["id"])
    assert record.voided_at is None
    [entry] = entries_after(mark, row.model, record.pk, "create")
    assert entry.via == "api" and entry.actor == "token:Ärendesystem"
    assert entry.before is None and entry.after["id"] == str(record.pk)
    assert_event(entry, row, "created")
    covered(row.collection, "create")


@pytest.mark.parametrize("row", TABLE, ids=ROW_IDS)
def test_update_with_the_current_etag(writer, row):
    created = create(writer, row)
    pk, url = created.json()["id"], created["Location"]
    mark = trail_mark()
    change = resolve(row.change)
    response = writer.patch(url, change, format="json", HTTP_IF_MATCH=created["ETag"])
    assert response.status_code == 200, response.content
    assert response["ETag"] != created["ETag"]
    assert response["ETag"].startswith(f'"{version(row, pk)}-')
    assert version(row, pk) == 2
    assert writer.get(url)["ETag"] == response["ETag"]
    [entry] = entries_after(mark, row.model, pk, "update")
    event = assert_event(entry, row, "updated")
    assert set(change) <= set(event.changed_fields), event.changed_fields
    covered(row.collection, "update")


@pytest.mark.parametrize("row", TABLE, ids=ROW_IDS)
def test_update_needs_the_current_etag(writer, row):
    created = create(writer, row)
    pk, url, first = created.json()["id"], created["Location"], created["ETag"]
    change = resolve(row.change)
    mark = trail_mark()
    missing = writer.patch(url, change, format="json")
    assert missing.status_code == 428, missing.content
    assert_nothing_written(mark)
    # Another writer changes the record: the ETag read before is stale now.
    other = client_with(can_write=True, name="Annat system")
    assert other.patch(url, change, format="json", HTTP_IF_MATCH=first).status_code == 200
    mark, current = trail_mark(), version(row, pk)
    stale = writer.patch(url, change, format="json", HTTP_IF_MATCH=first)
    assert stale.status_code == 412, stale.content
    stale_void = writer.delete(f"{url}?reason={REASON}", HTTP_IF_MATCH=first)
    assert stale_void.status_code == 412, stale_void.content
    assert_nothing_written(mark)
    assert version(row, pk) == current
    assert row.model.objects.get(pk=pk).voided_at is None
    covered(row.collection, "If-Match 428/412")


@pytest.mark.parametrize("row", TABLE, ids=ROW_IDS)
def test_void_with_a_reason_then_not_again(writer, row):
    created = create(writer, row)
    pk, url = created.json()["id"], created["Location"]
    mark = trail_mark()
    response = writer.delete(f"{url}?reason={REASON}", HTTP_IF_MATCH=created["ETag"])
    assert response.status_code == 200, response.content
    assert response.json()["voided_at"]
    record = row.model.objects.get(pk=pk)
    assert record.voided_at is not None and record.void_reason == REASON
    assert record.voided_by == "token:Ärendesystem"
    [entry] = entries_after(mark, row.model, pk, "void")
    assert_event(entry, row, "voided")
    assert writer.get(url).status_code == 200  # still readable by id
    mark = trail_mark()
    again = writer.delete(f"{url}?reason={REASON}", HTTP_IF_MATCH=response["ETag"])
    assert again.status_code == 409, again.content
    changed = writer.patch(url, resolve(row.change), format="json",
                           HTTP_IF_MATCH=response["ETag"])
    assert changed.status_code == 409, changed.content
    assert_nothing_written(mark)
    covered(row.collection, "void")


@pytest.mark.parametrize("row", TABLE, ids=ROW_IDS)
def test_writes_are_refused_without_the_write_scope(writer, reader, row):
    created = create(writer, row)
    pk, url, tag = created.json()["id"], created["Location"], created["ETag"]
    count, mark, before = row.model.objects.count(), trail_mark(), version(row, pk)
    for client, status in ((reader, 403), (APIClient(), 401)):
        attempts = {
            "create": client.post(url_of(row), resolve(row.create), format="json"),
            "update": client.patch(url, resolve(row.change), format="json",
                                   HTTP_IF_MATCH=tag),
            "void": client.delete(f"{url}?reason={REASON}", HTTP_IF_MATCH=tag),
        }
        assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(
            attempts, status)
    assert_nothing_written(mark)
    assert row.model.objects.count() == count
    record = row.model.objects.get(pk=pk)
    assert record.version == before and record.voided_at is None
    covered(row.collection, "401/403")


# --- every kind of part ------------------------------------------------------------------


@pytest.mark.parametrize(("row", "part"), PARTS, ids=PART_IDS)
def test_a_part_list_is_replaced_under_the_records_if_match(writer, reader, row, part):
    """Created with one part; refused without the write scope or If-Match; the list
    replaced under the record's If-Match: one added, one left out (so voided), one change
    of the record; a stale ETag refused; then the live part changed by its id."""
    mark = trail_mark()
    created = create(writer, row, **{part.relation: [resolve(part.first)]})
    pk, url, tag = created.json()["id"], created["Location"], created["ETag"]
    [first] = created.json()[part.relation]
    part_model = parts_of(row.model)[part.relation]
    assert part_model.objects.get(pk=first["id"]).voided_at is None
    [entry] = entries_after(mark, part_model, first["id"], "create")
    event = m.Event.objects.get(audit_entry=entry)  # the part's own, naming its record
    assert event.type == f"se.caseregister.{kebab(part_model.__name__)}.created"
    assert event.collections[1] == row.collection
    assert event.message["data"]["part_of"][0]["id"] == pk
    change = {part.relation: [resolve(part.second)]}

    mark = trail_mark()
    assert reader.patch(url, change, format="json", HTTP_IF_MATCH=tag).status_code == 403
    assert APIClient().patch(url, change, format="json", HTTP_IF_MATCH=tag).status_code == 401
    assert writer.patch(url, change, format="json").status_code == 428
    assert_nothing_written(mark)
    assert version(row, pk) == 1

    response = writer.patch(url, change, format="json", HTTP_IF_MATCH=tag)
    assert response.status_code == 200, response.content
    [second] = response.json()[part.relation]
    assert second["id"] != first["id"]
    voided = part_model.objects.get(pk=first["id"])
    assert voided.voided_at is not None
    assert voided.void_reason == f"Left out of the {part.relation} in a write of the record."
    assert part_model.objects.get(pk=second["id"]).voided_at is None
    # The record: a new version and ETag, one update naming the relation, its event.
    assert version(row, pk) == 2
    assert response["ETag"] != tag and response["ETag"].startswith('"2-')
    [entry] = entries_after(mark, row.model, pk, "update")
    assert entry.before == {part.relation: [first["id"]]}
    assert entry.after == {part.relation: [second["id"]]}
    event = assert_event(entry, row, "updated")
    assert event.changed_fields == [part.relation]
    # The ETag read before the change is stale for the parts too.
    mark = trail_mark()
    stale = writer.patch(url, {part.relation: []}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412, stale.content
    assert_nothing_written(mark)
    assert part_model.objects.get(pk=second["id"]).voided_at is None
    # An item with the id of a live part changes that part (to the first item's values).
    mark = trail_mark()
    changed = writer.patch(url, {part.relation: [{"id": second["id"], **resolve(part.first)}]},
                           format="json", HTTP_IF_MATCH=response["ETag"])
    assert changed.status_code == 200, changed.content
    assert [item["id"] for item in changed.json()[part.relation]] == [second["id"]]
    assert version(row, pk) == 3 and changed["ETag"].startswith('"3-')
    [entry] = entries_after(mark, part_model, second["id"], "update")
    assert m.Event.objects.get(audit_entry=entry).action == "updated"
    [entry] = entries_after(mark, row.model, pk, "update")
    assert entry.before == entry.after == {part.relation: [second["id"]]}
    assert_event(entry, row, "updated")
    covered(f"{row.collection}.{part.relation}", *CELLS)
