"""Every collection and every part writable; references by natural key in bodies.

A client builds a motion with its authors and proposals in one POST, replaces the list under
the motion's If-Match (a part changed, one added, one left out and so voided, the change in
the motion's audit trail), gets every error of every part at once, cannot rewrite the parts of
a confidential record it may not see, and names related records as people do ("KS",
"malmo", "ks2025/638"). The collections that were read-only are written too.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from cases import models as m
from cases.api.parts import parts_of
from cases.services.tokens import issue_token

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def token_client(*, cleared=False):
    name = "Sekretessystem" if cleared else "Ärendesystem"
    _, key = issue_token(name=name, can_write=True, cleared=cleared)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE="en")
    return client


@pytest.fixture
def writer():
    return token_client()


@pytest.fixture
def skottland():
    return m.Case.objects.get(registration_numbers__number="KS 2025/638")


def person(name):
    return m.Person.objects.get(name=name)


def invalid(response) -> dict:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    found = {}
    for problem in response.json()["invalid_params"]:
        found.setdefault(problem["name"], []).append(problem["reason"])
    return found


def motion_body(**fields):
    return {
        "case": "ks2025/638",  # the case by a registration number, as users type it
        "title": "Motion om fler fritidsgårdar",
        "addressed_to": "Stockholm/Kommunfullmäktige",
        "authors": [
            {"position": 1, "person": "Jan Jonsson", "party": "l"},  # no diacritics
            {"position": 2, "person": str(person("Anne-Lie Elfvén").pk), "party": "L"},
        ],
        "proposals": [
            {"number": 1, "text": "att utreda fler fritidsgårdar"},
            {"number": 2, "text": "att återkomma till fullmäktige"},
        ],
        **fields,
    }


def post_motion(client, **fields):
    return client.post("/api/v1/motions/", motion_body(**fields), format="json")


# --- a motion with its authors and proposals ---------------------------------------------


def test_a_motion_is_built_with_its_authors_and_proposals_in_one_post(writer, skottland):
    response = post_motion(writer)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["case"]["id"] == str(skottland.pk)
    assert body["addressed_to"]["display"] == "Kommunfullmäktige"
    assert [(a["position"], a["person"]["display"], a["party"]["display"])
            for a in body["authors"]] == [(1, "Jan Jönsson", "L"), (2, "Anne-Lie Elfvén", "L")]
    assert [(p["number"], p["text"]) for p in body["proposals"]] == [
        (1, "att utreda fler fritidsgårdar"), (2, "att återkomma till fullmäktige")]
    motion = m.Motion.objects.get(pk=body["id"])
    assert motion.authors.count() == 2 and motion.proposals.count() == 2
    assert writer.get(response["Location"])["ETag"] == response["ETag"]


def test_the_list_is_replaced_under_the_motions_if_match(writer):
    created = post_motion(writer).json()
    url = created["url"]
    jan, anne = created["authors"]
    first, second = created["proposals"]
    stale = writer.get(url)["ETag"]
    change = {"authors": [
        {"id": jan["id"], "position": 1, "person": "Jan Jönsson", "party": None},  # changed
        {"position": 2, "person": "John Eklöf", "party": "M"},  # added; Anne-Lie left out
    ], "proposals": [{"id": first["id"]}, {"id": second["id"]}]}  # kept as they are
    assert writer.patch(url, change, format="json").status_code == 428
    response = writer.patch(url, change, format="json", HTTP_IF_MATCH=stale)
    assert response.status_code == 200, response.content
    assert [(a["id"] == jan["id"], a["person"]["display"], a["party"])
            for a in response.json()["authors"]] == [
        (True, "Jan Jönsson", None), (False, "John Eklöf", {
            "id": str(m.Party.objects.get(abbreviation="M").pk),
            "url": response.json()["authors"][1]["party"]["url"], "display": "M"})]
    assert len(response.json()["proposals"]) == 2
    voided = m.MotionAuthor.objects.get(pk=anne["id"])
    assert voided.voided_at is not None
    assert voided.void_reason == "Left out of the authors in a write of the record."
    # One change of the motion in its trail, naming its authors before and after.
    entries = m.AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(m.Motion), object_id=created["id"])
    parts_change = entries.filter(before__has_key="authors").latest("occurred_at")
    assert parts_change.before == {"authors": [jan["id"], anne["id"]]}
    assert set(parts_change.after["authors"]) == {
        jan["id"], response.json()["authors"][1]["id"]}
    # The ETag covers the parts: the one read before the change is stale now.
    again = writer.patch(url, {"authors": []}, format="json", HTTP_IF_MATCH=stale)
    assert again.status_code == 412
    assert m.Motion.objects.get(pk=created["id"]).authors.filter(
        voided_at__isnull=True).count() == 2


def test_a_list_left_out_keeps_the_parts_and_an_empty_list_voids_them(writer):
    created = post_motion(writer).json()
    url = created["url"]
    renamed = writer.patch(url, {"title": "Ny titel"}, format="json",
                           HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert len(renamed.json()["authors"]) == 2
    emptied = writer.patch(url, {"proposals": []}, format="json",
                           HTTP_IF_MATCH=renamed["ETag"])
    assert emptied.json()["proposals"] == []
    assert writer.get(url).json()["proposals"] == []  # the voided ones leave every read
    listed = writer.get("/api/v1/motions/", {"id": created["id"]}).json()["results"]
    assert listed[0]["proposals"] == [] and len(listed[0]["authors"]) == 2
    assert m.MotionProposal.objects.filter(motion_id=created["id"],
                                           voided_at__isnull=False).count() == 2


def test_parts_move_up_in_turn_and_a_removed_place_can_be_taken_again(writer):
    created = post_motion(writer).json()
    url = created["url"]
    jan, anne = created["authors"]
    shifted = writer.patch(url, {"authors": [
        {"id": jan["id"], "position": 2}, {"id": anne["id"], "position": 3},
        {"position": 1, "person": "John Eklöf"}]}, format="json",
        HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert shifted.status_code == 200, shifted.content
    assert [(a["position"], a["person"]["display"]) for a in shifted.json()["authors"]] == [
        (1, "John Eklöf"), (2, "Jan Jönsson"), (3, "Anne-Lie Elfvén")]
    # Anne-Lie left out, then listed again: a new part takes her place (the voided stays).
    writer.patch(url, {"authors": [{"id": jan["id"]}]}, format="json",
                 HTTP_IF_MATCH=shifted["ETag"])
    again = writer.patch(url, {"authors": [
        {"id": jan["id"]}, {"position": 3, "person": "Anne-Lie Elfvén"}]}, format="json",
        HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert again.status_code == 200, again.content
    assert m.MotionAuthor.objects.filter(motion_id=created["id"],
                                         person__name="Anne-Lie Elfvén").count() == 2


def test_two_parts_trading_places_is_a_conflict_and_changes_nothing(writer):
    created = post_motion(writer).json()
    jan, anne = created["authors"]
    response = writer.patch(created["url"], {"authors": [
        {"id": jan["id"], "position": 2}, {"id": anne["id"], "position": 1}]}, format="json",
        HTTP_IF_MATCH=writer.get(created["url"])["ETag"])
    assert response.status_code == 409
    assert "trade places" in response.json()["detail"]
    assert m.MotionAuthor.objects.get(pk=jan["id"]).position == 1


def test_every_error_of_every_part_comes_at_once_and_nothing_is_stored(writer):
    before = m.Motion.objects.count()
    response = post_motion(writer, title="", authors=[
        {"position": 1, "person": "Ingen Alls"},
        {"position": "1", "person": "Jan Jönsson"},
        {"position": 2, "person": "Jan Jönsson", "party": "L"},
    ], proposals=[{"number": 1, "text": ""}, {"text": "att göra något", "number": -1}])
    problems = invalid(response)
    assert {"title", "authors.0.person", "authors.1.position", "proposals.0.text",
            "proposals.1.number"} <= set(problems), problems
    assert "No live person" in problems["authors.0.person"][0]
    assert m.Motion.objects.count() == before


def test_a_part_listed_twice_is_named(writer):
    response = post_motion(writer, authors=[
        {"position": 1, "person": "Jan Jönsson"}, {"position": 2, "person": "Jan Jonsson"},
    ], proposals=[{"number": 1, "text": "att a"}, {"number": 1, "text": "att b"}])
    problems = invalid(response)
    assert set(problems) == {"authors.1.person", "proposals.1.number"}, problems
    assert "Item 0 has the same person" in problems["authors.1.person"][0]


def test_ids_must_be_live_parts_of_the_record(writer):
    created = post_motion(writer).json()
    other = post_motion(writer).json()
    url = created["url"]
    response = writer.patch(url, {"authors": [{"id": other["authors"][0]["id"]}]},
                            format="json", HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert "No live part of this record" in invalid(response)["authors.0.id"][0]
    response = writer.post("/api/v1/motions/", motion_body(
        authors=[{"id": created["authors"][0]["id"], "position": 1, "person": "Jan Jönsson"}]),
        format="json")
    assert "authors.0.id" in invalid(response)


def test_a_new_part_in_a_patch_needs_its_required_fields(writer):
    created = post_motion(writer).json()
    response = writer.patch(created["url"], {"proposals": [{"number": 5}]}, format="json",
                            HTTP_IF_MATCH=writer.get(created["url"])["ETag"])
    assert "proposals.0.text" in invalid(response)


# --- confidentiality ---------------------------------------------------------------------


@pytest.fixture
def secret_motion(writer):
    case = writer.post("/api/v1/cases/", {
        "title": "Ärende om bistånd", "municipality": "Stockholm",
        "registering_organisation": "KS", "year": 2026, "confidential": True,
        "confidentiality_basis": "OSL 26 kap. 1 §", "public_title": "Ärende om bistånd"},
        format="json")
    assert case.status_code == 201, case.content
    motion = writer.post("/api/v1/motions/", {**motion_body(), "case": case.json()["id"]},
                         format="json")
    assert motion.status_code == 201, motion.content
    return motion.json()


def test_parts_of_a_withheld_record_are_not_rewritten_without_clearance(writer, secret_motion):
    url = secret_motion["url"]
    assert APIClient().get(url).json()["authors"] == []  # withheld from readers
    response = writer.patch(url, {"authors": []}, format="json",
                            HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert response.status_code == 403
    assert m.MotionAuthor.objects.filter(motion_id=secret_motion["id"],
                                         voided_at__isnull=True).count() == 2
    cleared = token_client(cleared=True)
    response = cleared.patch(url, {"authors": []}, format="json",
                             HTTP_IF_MATCH=cleared.get(url)["ETag"])
    assert response.status_code == 200, response.content
    assert response.json()["authors"] == []


# --- natural keys in bodies --------------------------------------------------------------


def test_an_ambiguous_key_is_refused_with_its_candidates(writer):
    response = post_motion(writer, addressed_to="kommunfullmaktige")
    reason = invalid(response)["addressed_to"][0]
    assert "Linköping/Kommunfullmäktige" in reason and "Malmö/Kommunfullmäktige" in reason
    assert "Stockholm/Kommunfullmäktige" in reason


def test_the_bodys_municipality_narrows_a_key(writer):
    malmo = m.Municipality.objects.get(name="Malmö")
    m.Organisation.objects.create(name="Kommunstyrelsen", short_name="KS",
                                  type="executive_board", municipality=malmo)
    body = {"title": "Medborgarförslag", "municipality": "malmo",
            "registering_organisation": "KS", "year": 2026}
    response = writer.post("/api/v1/cases/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["registration_numbers"][0]["organisation"]["id"] == str(
        m.Organisation.objects.get(short_name="KS", municipality=malmo).pk)
    ambiguous = writer.post("/api/v1/cases/", {**body, "municipality": str(
        m.Municipality.objects.get(name="Linköping").pk)}, format="json")
    assert "Malmö/KS" in invalid(ambiguous)["registering_organisation"][0]
    by_place = writer.post("/api/v1/cases/", {**body, "registering_organisation": "Malmö/ks"},
                           format="json")
    assert by_place.status_code == 201, by_place.content


@pytest.mark.parametrize("value", ["ks2025/638", "KS 2025/638", " Ks 2025 / 638 "])
def test_a_case_by_registration_number_in_a_body(writer, skottland, value):
    response = writer.post("/api/v1/activities/", {
        "case": value, "type": "other", "date": "2026-01-15"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["case"]["id"] == str(skottland.pk)


def test_unknown_keys_say_what_they_looked_for(writer):
    response = writer.post("/api/v1/activities/", {
        "case": "KS 2025/9999", "type": "other", "organisation": "Ingen nämnd"},
        format="json")
    problems = invalid(response)
    assert "No live case with id or registration number" in problems["case"][0]
    assert "No live organisation" in problems["organisation"][0]


# --- the collections that were read-only -------------------------------------------------


def test_municipalities_organisations_and_parties_are_written(writer):
    town = writer.post("/api/v1/municipalities/", {"name": "Örebro", "code": "1880"},
                       format="json")
    assert town.status_code == 201, town.content
    board = writer.post("/api/v1/organisations/", {
        "name": "Kommunstyrelsen", "short_name": "KS", "type": "executive_board",
        "municipality": "orebro"}, format="json")
    assert board.status_code == 201, board.content
    office = writer.post("/api/v1/organisations/", {
        "name": "Kommunledningsförvaltningen", "type": "administration",
        "municipality": "1880", "parent": "KS"}, format="json")  # KS: narrowed to Örebro
    assert office.status_code == 201, office.content
    assert office.json()["parent"]["id"] == board.json()["id"]
    party = writer.post("/api/v1/parties/", {"abbreviation": "MP", "name": "Miljöpartiet"},
                        format="json")
    assert party.status_code == 201, party.content
    duplicate = writer.post("/api/v1/municipalities/", {"name": "Örebro", "code": "1880"},
                            format="json")
    assert duplicate.status_code == 409
    changed = writer.patch(town.json()["url"], {"name": "Örebro kommun"}, format="json",
                           HTTP_IF_MATCH=town["ETag"])
    assert changed.status_code == 200, changed.content
    voided = writer.delete(party.json()["url"] + "?reason=Dubblett",
                           HTTP_IF_MATCH=party["ETag"])
    assert voided.status_code == 200 and voided.json()["voided_at"]


def test_a_person_with_name_variants_roles_and_affiliations(writer):
    response = writer.post("/api/v1/people/", {
        "name": "Åsa Öberg",
        "name_variants": [{"name": "Asa Oberg"}],
        "roles": [{"title": "Förvaltningschef", "organisation": "Stadsledningskontoret",
                   "as_of": "2025-01-01"}],
        "affiliations": [{"party": "L"}]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [v["name"] for v in body["name_variants"]] == ["Asa Oberg"]
    assert body["roles"][0]["organisation"]["display"] == "Stadsledningskontoret"
    assert body["affiliations"][0]["party"]["display"] == "L"
    # found by the spelling kept from a source, diacritics ignored
    found = writer.get("/api/v1/people/", {"name": "asa oberg"}).json()["results"]
    assert [p["id"] for p in found] == [body["id"]]
    changed = writer.put(body["url"], {"name": "Åsa Öberg", "name_variants": [],
                                       "affiliations": [{"party": "M"}]},
                         format="json", HTTP_IF_MATCH=response["ETag"])
    assert changed.status_code == 200, changed.content
    assert changed.json()["name_variants"] == []
    assert len(changed.json()["roles"]) == 1  # not listed: kept
    assert changed.json()["affiliations"][0]["party"]["display"] == "M"


def test_a_collaboration_model_with_sectors_usages_and_figures(writer):
    response = writer.post("/api/v1/collaboration-models/", {
        "name": "Trygg skolväg", "municipality": "MALMO", "level": "universal",
        "sectors": [{"sector": "school"}, {"sector": "police"}],
        "usages": [{"organisation": "Grundskolenämnden"}, {"place": "i hela staden"}],
        "figures": [{"label": "Kostnad", "value": 1250.5, "unit": "tkr", "year": 2025}],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["municipality"]["display"] == "Malmö"
    assert sorted(s["sector"] for s in body["sectors"]) == ["police", "school"]
    assert body["figures"][0]["value"] == 1250.5
    problems = invalid(writer.patch(body["url"], {
        "usages": [{}], "figures": [{"label": "Kostnad", "value": "12", "unit": "tkr"}],
        "sectors": [{"sector": "school"}, {"sector": "school"}]},
        format="json", HTTP_IF_MATCH=response["ETag"]))
    assert set(problems) == {"usages.0.non_field_errors", "figures.0.value",
                             "sectors.1.sector"}, problems


def test_every_part_is_writable_but_registration_numbers():
    """Found from the models: a new part is writable without anyone listing it."""
    written = {part for model in (m.Case, m.Document, m.Motion, m.Referral, m.Decision,
                                  m.Person, m.CollaborationModel, m.Organisation)
               for part in parts_of(model).values()}
    assert written == {m.DocumentSignatory, m.DocumentAttachment, m.MotionAuthor,
                       m.MotionProposal, m.ConsultedBody, m.DecisionPoint,
                       m.PersonNameVariant, m.PersonRole, m.PartyAffiliation,
                       m.CollaborationSector, m.CollaborationUsage, m.CollaborationFigure}


# --- history -----------------------------------------------------------------------------


def test_a_cases_history_covers_its_records_and_their_parts(writer, skottland):
    created = post_motion(writer).json()
    author = created["authors"][0]
    history = writer.get(f"/api/v1/cases/{skottland.pk}/history/").json()
    records = {(e["record"]["type"], e["record"]["id"]) for e in history}
    assert ("motion", created["id"]) in records
    assert ("motionauthor", author["id"]) in records
    assert ("case", str(skottland.pk)) in records or not m.AuditEntry.objects.filter(
        object_id=skottland.pk).exists()
    assert history == sorted(history, key=lambda e: e["occurred_at"])
