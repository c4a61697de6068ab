"""A case's own dates and status flow (registered, closed, archived), and documents from
private senders: through the API, the registering service and the database's rules."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from cases import models as m
from cases.services.registration import register_incoming

from .test_api_writes import etag, new_case, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer():
    return token_client()


@pytest.fixture
def ks():
    return m.Organisation.objects.get(short_name="KS", municipality__code="0180")


def patch(client, url, body):
    return client.patch(url, body, format="json", HTTP_IF_MATCH=etag(client, url))


def test_a_case_registered_through_the_api_is_registered_today(writer, ks):
    created = new_case(writer, ks)
    assert created.status_code == 201, created.data
    assert created.data["registered"] == timezone.localdate().isoformat()
    assert created.data["closed"] is None


def test_the_seed_cases_state_no_registered_date():
    assert set(m.Case.objects.values_list("registered", flat=True)) == {None}


def test_closing_dates_the_case_and_reopening_clears_the_date(writer, ks):
    url = new_case(writer, ks).data["url"]
    closed = patch(writer, url, {"status": "closed"})
    assert closed.status_code == 200, closed.data
    today = timezone.localdate().isoformat()
    assert closed.data["closed"] == today
    timeline = writer.get(f"{url}timeline/").json()
    assert [(e["kind"], e["date"]) for e in timeline if e["kind"].startswith("case_")] == [
        ("case_registered", today), ("case_closed", today)]
    reopened = patch(writer, url, {"status": "open"})
    assert reopened.status_code == 200, reopened.data
    assert reopened.data["closed"] is None


def test_a_case_is_archived_only_once_closed_and_then_keeps_its_status(writer, ks):
    url = new_case(writer, ks, registered="2026-01-02").data["url"]
    skipped = patch(writer, url, {"status": "archived"})
    assert skipped.status_code == 409, skipped.data
    assert "closed case can be archived" in skipped.data["detail"]
    assert patch(writer, url, {"status": "closed", "closed": "2026-01-15"}).status_code == 200
    archived = patch(writer, url, {"status": "archived"})
    assert archived.status_code == 200, archived.data
    assert archived.data["closed"] == "2026-01-15"
    assert patch(writer, url, {"status": "open"}).status_code == 409


def test_a_case_is_closed_by_a_record_of_its_own_and_not_before_it_was_registered(writer, ks):
    url = new_case(writer, ks, registered="2026-02-01").data["url"]
    other = m.Decision.objects.filter(voided_at__isnull=True).first()
    foreign = patch(writer, url, {"status": "closed", "closed_by_decision": str(other.pk)})
    assert foreign.status_code == 400, foreign.data
    early = patch(writer, url, {"status": "closed", "closed": "2026-01-31"})
    assert early.status_code == 400, early.data


def test_the_database_refuses_a_closed_date_on_an_open_case():
    case = m.Case.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Case.objects.filter(pk=case.pk).update(status=m.CaseStatus.OPEN,
                                                 closed=datetime.date(2026, 1, 1))


def test_cases_are_filtered_and_ordered_by_their_registered_date(writer, ks):
    for day in ("2026-03-02", "2026-03-01", "2026-04-01"):
        assert new_case(writer, ks, registered=day).status_code == 201
    page = APIClient().get("/api/v1/cases/", {"registered_after": "2026-03-01",
                                              "registered_before": "2026-03-31"})
    assert page.status_code == 200, page.data
    assert [c["registered"] for c in page.data["results"]] == ["2026-03-01", "2026-03-02"]
    newest = APIClient().get("/api/v1/cases/", {"ordering": "-registered"})
    assert newest.data["results"][0]["registered"] == "2026-04-01"


def test_a_private_senders_personal_data_stays_out_of_the_api(ks):
    registered = register_incoming(
        document_type=m.DocumentType.LETTER, title="Brev om skolvägen",
        received_date=datetime.date(2026, 11, 20), registering_organisation=ks,
        sender_name="Anna Andersson", sender_address="Storgatan 1, 111 22 Stockholm")
    assert registered.case.registered == datetime.date(2026, 11, 20)
    url = f"/api/v1/documents/{registered.document.pk}/"
    reader = token_client(can_write=False, name="Webbplats")
    for client in (APIClient(), reader):
        body = client.get(url).content.decode()
        assert "Anna Andersson" not in body and "Storgatan" not in body
    history = reader.get(f"{url}history/")
    assert history.status_code == 200, history.content
    assert "Anna Andersson" not in history.content.decode()
    cleared = token_client(cleared=True, name="E-arkiv").get(f"{url}history/")
    assert "Anna Andersson" in cleared.content.decode()


def test_a_confidential_registration_makes_the_new_case_confidential(ks):
    registered = register_incoming(
        document_type=m.DocumentType.APPLICATION, title="Ansökan om skolskjuts för Elev X",
        received_date=datetime.date(2026, 11, 20), registering_organisation=ks,
        confidential=True, confidentiality_basis="OSL 23 kap. 2 §",
        public_title="Ansökan om skolskjuts")
    case = registered.case
    assert (case.confidential, case.public_title) == (True, "Ansökan om skolskjuts")
    listed = APIClient().get("/api/v1/cases/", {"registered_after": "2026-11-20"}).content
    assert b"Elev X" not in listed and "Ansökan om skolskjuts".encode() in listed


def test_the_timeline_speaks_the_readers_language_and_says_each_label_once(client):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    referral = case.referrals.get()
    assert referral.due_date is None and not referral.due_as_written
    english = client.get(f"/api/v1/cases/{case.pk}/timeline/").json()
    titles = [event["title"] for event in english]
    assert "Motion om att införa Skottlandsmodellen" in titles  # not "Motion: Motion om ..."
    assert not any(title.casefold().startswith(("motion: motion", "decision: decision"))
                   for title in titles)
    assert any(t.startswith("Referral from Kommunstyrelsen") for t in titles), titles
    assert any(t.startswith("Consulted: Utbildningsnämnden") for t in titles), titles
    # The referral states no due date: no "Response due" row without a date.
    assert not [e for e in english if e["kind"] == "referral_due"]
    swedish = client.get(f"/api/v1/cases/{case.pk}/timeline/",
                         HTTP_ACCEPT_LANGUAGE="sv").json()
    assert any(e["title"].startswith("Remiss från Kommunstyrelsen") for e in swedish), swedish


def test_a_stated_due_date_is_on_the_timeline(client):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    case.referrals.update(due_date=datetime.date(2025, 11, 1))
    events = client.get(f"/api/v1/cases/{case.pk}/timeline/").json()
    due = [e for e in events if e["kind"] == "referral_due"]
    assert [e["date"] for e in due] == ["2025-11-01"]
    assert due[0]["title"].startswith("Response due: ")
