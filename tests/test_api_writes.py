"""Writes: authentication, validation, registration numbers, If-Match, voiding, audit."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction
from rest_framework.test import APIClient

from cases import models as m
from cases.services.tokens import issue_token

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def token_client(*, can_write=True, cleared=False, name="Ärendesystem"):
    _, key = issue_token(name=name, can_write=can_write, cleared=cleared)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def writer():
    return token_client()


@pytest.fixture
def ks():
    return m.Organisation.objects.get(short_name="KS", municipality__code="0180")


@pytest.fixture
def case():
    return m.Case.objects.get(registration_numbers__number="KS 2025/638")


def new_case(client, ks, **fields):
    body = {"title": "Medborgarförslag om fler parkbänkar",
            "municipality": str(ks.municipality_id), "registering_organisation": str(ks.pk),
            "year": 2026, **fields}
    return client.post("/api/v1/cases/", body, format="json")


def etag(client, url):
    return client.get(url)["ETag"]


# --- authentication and permission -------------------------------------------------------


def test_writes_need_a_token_with_the_write_scope(ks):
    anonymous = new_case(APIClient(), ks)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == PROBLEM
    reader = new_case(token_client(can_write=False, name="Webbplats"), ks)
    assert reader.status_code == 403
    assert new_case(token_client(), ks).status_code == 201


def test_a_revoked_or_unknown_token_is_refused(ks):
    token, key = issue_token(name="Gammalt system", can_write=True)
    token.revoked_at = datetime.datetime.now(datetime.UTC)
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert new_case(client, ks).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    assert client.get("/api/v1/cases/").status_code == 401


def test_tokens_are_stored_hashed():
    token, key = issue_token(name="E-arkiv")
    assert key not in str(m.ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.key_prefix == key[:8]


def test_a_signed_in_user_needs_the_model_permission(ks):
    user = User.objects.create_user("handlaggare", password="x" * 12)
    client = APIClient()
    client.force_login(user)
    assert new_case(client, ks).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_case"))
    client.force_login(User.objects.get(pk=user.pk))
    assert new_case(client, ks).status_code == 201


def test_reads_can_require_a_token(settings, client):
    settings.REQUIRE_TOKEN_FOR_READS = True
    assert client.get("/api/v1/cases/").status_code == 401
    assert token_client(can_write=False).get("/api/v1/cases/").status_code == 200


# --- registering and validating ----------------------------------------------------------


def test_registering_allocates_the_next_number_of_the_series(writer, ks):
    first = new_case(writer, ks).json()
    second = new_case(writer, ks).json()
    numbers = [first["registration_numbers"][0]["number"],
               second["registration_numbers"][0]["number"]]
    assert numbers == ["KS 2026/1", "KS 2026/2"]
    other_year = new_case(writer, ks, year=2025).json()
    assert other_year["registration_numbers"][0]["number"] == "KS 2025/1"


def test_a_created_record_is_returned_with_location_and_etag(writer, ks):
    response = new_case(writer, ks)
    assert response.status_code == 201
    assert response["Location"] == response.json()["url"]
    detail = writer.get(response["Location"])
    assert detail["ETag"] == response["ETag"]


def test_every_validation_error_comes_at_once(writer, case):
    writer.credentials(HTTP_AUTHORIZATION=writer._credentials["HTTP_AUTHORIZATION"],
                       HTTP_ACCEPT_LANGUAGE="en")
    response = writer.post("/api/v1/referrals/", {
        "case": str(case.pk), "title": "", "received_date": "2025-09-10",
        "due_date": "2025-09-01", "sender": "00000000-0000-0000-0000-000000000000",
    }, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    problems = {p["name"]: p["reason"] for p in response.json()["invalid_params"]}
    assert set(problems) == {"title", "sender", "non_field_errors"}
    assert "due date cannot be before the received date" in problems["non_field_errors"]


def test_a_due_date_before_the_received_date_is_refused(writer, case):
    response = writer.post("/api/v1/referrals/", {
        "case": str(case.pk), "title": "Remiss", "received_date": "2025-09-10",
        "due_date": "2025-09-01"}, format="json")
    assert response.status_code == 400
    assert not m.Referral.objects.filter(title="Remiss", case=case).exists()


def test_references_to_voided_records_are_refused(writer, case):
    m.Case.objects.filter(pk=case.pk).update(voided_at=datetime.datetime.now(datetime.UTC))
    response = writer.post("/api/v1/activities/", {
        "case": str(case.pk), "type": "other", "description": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "case"


def test_links_must_join_live_records(writer, case):
    motion = case.motions.first()
    link = {"source_type": "motion", "source_id": str(motion.pk), "type": "evaluates",
            "target_type": "case", "target_id": str(case.pk)}
    assert writer.post("/api/v1/links/", link, format="json").status_code == 201
    duplicate = writer.post("/api/v1/links/", link, format="json")
    assert duplicate.status_code == 409  # conflicts with the register, see DuplicateRecord
    missing = writer.post("/api/v1/links/", {
        "source_type": "motion", "source_id": str(motion.pk), "type": "mentions",
        "target_type": "case", "target_id": "00000000-0000-0000-0000-000000000000"},
        format="json")
    assert missing.status_code == 400
    assert missing.json()["invalid_params"][0]["name"] == "target_id"


def test_a_bad_registration_number_format_is_refused():
    number = m.RegistrationNumber(number="KS 2026/1<script>")
    with pytest.raises(Exception, match="registration number|diarienummer"):
        number.full_clean(exclude=["case", "organisation"])


def test_wrong_content_type_and_oversized_bodies(writer, ks, settings):
    wrong = writer.post("/api/v1/cases/", "title=x", content_type="text/plain")
    assert wrong.status_code == 415
    assert wrong["Content-Type"] == PROBLEM
    settings.MAX_REQUEST_BYTES = 100
    big = new_case(writer, ks, description="x" * 500)
    assert big.status_code == 413
    assert big["Content-Type"] == PROBLEM


# --- optimistic locking ------------------------------------------------------------------


def test_an_update_needs_the_current_etag(writer, case):
    url = f"/api/v1/cases/{case.pk}/"
    without = writer.patch(url, {"status": "open"}, format="json")
    assert without.status_code == 428
    stale = writer.patch(url, {"status": "open"}, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    assert m.Case.objects.get(pk=case.pk).status == case.status
    current = etag(writer, url)
    done = writer.patch(url, {"status": "open"}, format="json", HTTP_IF_MATCH=current)
    assert done.status_code == 200
    assert done.json()["status"] == "open"
    assert done["ETag"] != current
    again = writer.patch(url, {"status": "closed"}, format="json", HTTP_IF_MATCH=current)
    assert again.status_code == 412


def test_put_replaces_the_writable_fields(writer, case):
    url = f"/api/v1/cases/{case.pk}/"
    body = {"title": "Ny rubrik", "status": "decided", "description": "",
            "municipality": str(case.municipality_id), "responsible_organisation": None,
            "confidential": False, "confidentiality_basis": "", "public_title": ""}
    response = writer.put(url, body, format="json", HTTP_IF_MATCH=etag(writer, url))
    assert response.status_code == 200, response.json()
    stored = m.Case.objects.get(pk=case.pk)
    assert (stored.title, stored.status, stored.responsible_organisation_id) == (
        "Ny rubrik", "decided", None)


# --- voiding -----------------------------------------------------------------------------


def test_delete_voids_with_a_reason_and_nothing_is_deleted(writer, case):
    url = f"/api/v1/cases/{case.pk}/"
    no_reason = writer.delete(url, HTTP_IF_MATCH=etag(writer, url))
    assert no_reason.status_code == 400
    response = writer.delete(url + "?reason=Registrerad+två+gånger",
                             HTTP_IF_MATCH=etag(writer, url))
    assert response.status_code == 200
    stored = m.Case.objects.get(pk=case.pk)
    assert stored.voided_at is not None
    assert stored.void_reason == "Registrerad två gånger"
    assert stored.voided_by == "token:Ärendesystem"
    assert writer.get(url).json()["void_reason"] == "Registrerad två gånger"
    assert str(case.pk) not in str(writer.get("/api/v1/cases/").json())
    edit = writer.patch(url, {"status": "open"}, format="json", HTTP_IF_MATCH=etag(writer, url))
    assert edit.status_code == 409


# --- audit trail -------------------------------------------------------------------------


WRITABLE = {
    "cases": None,  # created through registration, see new_case
    "documents": lambda c: {"case": str(c.pk), "title": "Skrivelse", "type": "attachment",
                            "direction": "incoming"},
    "motions": lambda c: {"case": str(c.pk), "title": "Motion om bänkar"},
    "referrals": lambda c: {"case": str(c.pk), "title": "Remiss om bänkar"},
    "referral-responses": lambda c: {"referral": str(c.referrals.first().pk),
                                     "organisation": str(c.responsible_organisation_id),
                                     "position": "supports"},
    "decisions": lambda c: {"case": str(c.pk), "kind": "decided",
                            "organisation": str(c.responsible_organisation_id)},
    "activities": lambda c: {"case": str(c.pk), "type": "other", "description": "Möte"},
    "links": lambda c: {"source_type": "case", "source_id": str(c.pk), "type": "mentions",
                        "target_type": "organisation",
                        "target_id": str(m.Organisation.objects.get(name="Skolverket").pk)},
}


@pytest.mark.parametrize("collection", WRITABLE)
def test_every_api_write_leaves_an_audit_row(writer, ks, case, collection):
    if collection == "cases":
        response = writer.post("/api/v1/cases/", {
            "title": "Bänkar", "municipality": str(ks.municipality_id),
            "registering_organisation": str(ks.pk)}, format="json",
            HTTP_X_REQUEST_ID="req-123")
    else:
        response = writer.post(f"/api/v1/{collection}/", WRITABLE[collection](case),
                               format="json", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 201, response.json()
    url = response["Location"]
    record_id = response.json()["id"]
    writer.patch(url, {}, format="json", HTTP_IF_MATCH=response["ETag"])
    voided = writer.delete(url + "?reason=Fel", HTTP_IF_MATCH=etag(writer, url))
    assert voided.status_code == 200
    entries = m.AuditEntry.objects.filter(object_id=record_id).order_by("id")
    assert [e.action for e in entries] == ["create", "void"]  # an empty PATCH changes nothing
    assert all(e.actor == "token:Ärendesystem" and e.via == "api" for e in entries)
    assert entries[0].request_id == "req-123"
    assert entries[0].before is None and entries[0].after["id"] == record_id
    assert entries[1].before["voided_at"] is None and entries[1].after["void_reason"] == "Fel"


def test_history_shows_who_changed_what(writer, case):
    url = f"/api/v1/cases/{case.pk}/"
    writer.patch(url, {"status": "decided"}, format="json", HTTP_IF_MATCH=etag(writer, url),
                 HTTP_X_REQUEST_ID="andring-1")
    assert APIClient().get(url + "history/").status_code == 401
    history = writer.get(url + "history/").json()
    last = history[-1]
    assert last["action"] == "update"
    assert last["actor"] == "token:Ärendesystem"
    assert last["request_id"] == "andring-1"
    assert last["changed"] == ["status"]
    assert (last["before"]["status"], last["after"]["status"]) == ("unknown", "decided")
    assert history[0]["action"] == "create" and history[0]["via"] == "loader"


def test_admin_edits_are_audited_too(client, case):
    from .html_forms import form_data

    admin_user = User.objects.create_superuser("registrator", password="x" * 12)
    client.force_login(admin_user)
    url = f"/admin/cases/case/{case.pk}/change/"
    data = form_data(client.get(url).content.decode())
    data["status"] = "closed"
    assert client.post(url, data).status_code == 302
    entry = m.AuditEntry.objects.filter(object_id=case.pk).latest("id")
    assert (entry.actor, entry.via, entry.action) == ("registrator", "admin", "update")
    assert entry.before["status"] == "unknown" and entry.after["status"] == "closed"
    assert entry.request_id


def test_the_admin_refuses_a_form_edited_from_a_stale_version(client, case):
    from .html_forms import form_data

    client.force_login(User.objects.create_superuser("registrator", password="x" * 12))
    url = f"/admin/cases/case/{case.pk}/change/"
    data = form_data(client.get(url).content.decode())
    colleague = m.Case.objects.get(pk=case.pk)
    colleague.title = "Kollegans ändring"
    colleague.save()
    data["title"] = "Min ändring"
    response = client.post(url, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Någon annan ändrade posten efter att du öppnade den" in page
    # what the colleague changed (from the audit trail), and a way to see the differences
    assert "<li>" in page.split("Ändrat sedan du öppnade den:")[1].split("</ul>")[0]
    assert "titel" in page.split("Ändrat sedan du öppnade den:")[1].split("</ul>")[0]
    assert f'href="/admin/cases/case/{case.pk}/history/"' in page
    assert m.Case.objects.get(pk=case.pk).title == "Kollegans ändring"


def test_no_admin_page_offers_hard_delete(client, case):
    client.force_login(User.objects.create_superuser("registrator", password="x" * 12))
    response = client.get(f"/admin/cases/case/{case.pk}/delete/")
    assert response.status_code in (403, 302)
    assert m.Case.objects.filter(pk=case.pk).exists()
    page = client.get(f"/admin/cases/case/{case.pk}/change/").content.decode()
    assert 'class="deletelink"' not in page


def test_audit_rows_cannot_be_changed_or_deleted_even_with_sql(writer, ks):
    new_case(writer, ks)
    entry = m.AuditEntry.objects.latest("id")
    for statement in ("UPDATE cases_auditentry SET actor = 'someone else' WHERE id = %s",
                      "DELETE FROM cases_auditentry WHERE id = %s"):
        with pytest.raises((InternalError, IntegrityError, ProgrammingError),
                           match="cannot be changed or deleted|permission denied"), \
                transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [entry.pk])
    assert m.AuditEntry.objects.get(pk=entry.pk).actor == "token:Ärendesystem"


# --- regressions found by schemathesis ---------------------------------------------------


def test_a_body_that_is_not_an_object_is_a_400(writer):
    response = writer.post("/api/v1/motions/", [None, None], format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_an_empty_link_is_a_400_naming_the_missing_fields(writer):
    response = writer.post("/api/v1/links/", {}, format="json")
    assert response.status_code == 400
    names = {p["name"] for p in response.json()["invalid_params"]}
    assert {"source_type", "source_id", "target_type", "target_id", "type"} <= names


def test_registration_years_and_series_are_checked(writer, ks):
    far = new_case(writer, ks, year=2063)
    assert far.status_code == 400
    assert far.json()["invalid_params"][0]["name"] == "year"
    unnumbered = m.Organisation.objects.filter(short_name="").first()
    response = writer.post("/api/v1/cases/", {
        "title": "x", "municipality": str(ks.municipality_id),
        "registering_organisation": str(unnumbered.pk)}, format="json")
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "registering_organisation"


@pytest.mark.parametrize("offset", ["+18:43", "-23:59", "+00:00"])
def test_any_rfc3339_offset_is_accepted(client, offset):
    response = client.get("/api/v1/cases/", {"created_since": f"2020-01-14T08:22:08{offset}"})
    assert response.status_code == 200


@pytest.mark.parametrize("cursor", [
    ["x", "y"], [1, 2], [None, "y"], ["2026-01-01T00:00:00Z", "not-a-uuid"]])
def test_a_hand_made_cursor_is_a_400(client, cursor):
    from cases.api.pagination import encode_cursor

    response = client.get("/api/v1/cases/", {"cursor": encode_cursor(cursor)})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "cursor"


def test_search_refuses_nul_and_overlong_queries(client):
    assert client.get("/api/v1/search/", {"q": "a\x00b"}).status_code == 400
    assert client.get("/api/v1/search/", {"q": "a" * 201}).status_code == 400
    assert client.get("/api/v1/cases/", {"title": "a" * 201}).status_code == 400


def test_an_unchanged_link_can_be_saved_again(writer):
    """The unique constraint of a link must not find the link itself on an update."""
    link = m.Link.objects.filter(voided_at__isnull=True).first()
    url = f"/api/v1/links/{link.pk}/"
    body = {"source_type": link.source_type.model, "source_id": str(link.source_id),
            "type": link.type, "target_type": link.target_type.model,
            "target_id": str(link.target_id)}
    response = writer.put(url, body, format="json", HTTP_IF_MATCH=etag(writer, url))
    assert response.status_code == 200, response.json()


def test_a_link_with_a_type_and_no_id_is_a_400(writer):
    response = writer.post("/api/v1/links/", {"source_type": "case", "type": "mentions",
                                              "target_type": "activity"}, format="json")
    assert response.status_code == 400  # not a 500 from the model refusing a type name


@pytest.mark.parametrize("field, value", [
    ("title", 12), ("description", 1.5), ("confidential", "true"), ("confidential", 1),
    ("year", "2026"), ("year", 2026.0)])
def test_values_are_taken_in_the_json_type_the_schema_states(writer, ks, field, value):
    response = new_case(writer, ks, **{field: value})
    assert response.status_code == 400
    assert [p["name"] for p in response.json()["invalid_params"]] == [field]


def test_unsupported_methods_are_405_whatever_the_parameters(writer):
    response = writer.generic("TRACE", "/api/v1/people/?nonsense=1")
    assert response.status_code == 405
