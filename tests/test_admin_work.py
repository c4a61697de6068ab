"""The admin as a registrar's daily tool: roles, registering, the case story, linking,
voiding, history, search, filters and the morning overview (Django's test client; the same
flows in a real browser are in test_browser.py)."""

import datetime
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.html import escape

from cases import models as m
from cases.roles import CASE_OFFICER, CLEARED, READER, REGISTRAR
from cases.services.registration import register_incoming

from .html_forms import form_data

pytestmark = pytest.mark.django_db

SECRET = "HEMLIG-SENTINEL-ELEVEN"


@pytest.fixture
def login(client):
    """Log ``client`` in as a new staff user with the given roles."""
    def as_(*roles, username="user"):
        user = User.objects.create_user(username, password="lösenord-" * 2, is_staff=True)
        user.groups.set(Group.objects.filter(name__in=roles))
        client.force_login(user)
        return user

    return as_


@pytest.fixture
def case():
    return m.Case.objects.get(registration_numbers__number="KS 2024/610")


@pytest.fixture
def secret_case(case):
    case.confidential = True
    case.confidentiality_basis = "OSL 26 kap. 1 §"
    case.public_title = "Ärende om en elev"
    case.title = f"{SECRET} Jönssons elevärende"
    case.save()
    return case


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def next_number(short_name="KS", year=None) -> str:
    year = year or timezone.localdate().year
    serials = m.RegistrationNumber.objects.filter(
        organisation__short_name=short_name, year=year).values_list("serial", flat=True)
    return f"{short_name} {year}/{max([s for s in serials if s] or [0]) + 1}"


# --- roles ---------------------------------------------------------------------------------

def test_the_role_groups_come_from_the_migration_with_what_each_may_touch():
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    reader, officer, registrar = codenames(READER), codenames(CASE_OFFICER), codenames(REGISTRAR)
    assert reader and all(code.startswith("view_") for code in reader)
    assert "view_apitoken" not in reader and "view_auditentry" in reader
    assert officer - reader == {"change_own_case", "add_document", "change_document",
                                "add_activity", "change_activity", "add_documentsignatory",
                                "change_documentsignatory", "add_documentattachment",
                                "change_documentattachment"}
    assert {"register_incoming", "void_record", "add_link", "change_case",
            "add_motionauthor"} <= registrar
    assert not {"change_provenance", "change_auditentry", "add_apitoken"} & registrar
    assert codenames(CLEARED) == {"view_confidential"}
    every_group = set().union(*(codenames(g) for g in (READER, CASE_OFFICER, REGISTRAR)))
    assert not [code for code in every_group if code.startswith("delete_")]
    assert "view_confidential" not in every_group


def test_a_reader_sees_everything_read_only_and_changes_nothing(client, login, case):
    login(READER)
    change_page = page(client.get(f"/admin/cases/case/{case.pk}/change/"))
    assert 'name="_save"' not in change_page
    assert "/void/" not in change_page and "/admin/cases/link/from/" not in change_page
    title_before = case.title
    data = form_data(change_page)
    data["title"] = "Läsarens ändring"
    assert client.post(f"/admin/cases/case/{case.pk}/change/", data).status_code == 403
    assert client.post(f"/admin/cases/case/{case.pk}/void/",
                       {"reason": "Fel"}).status_code == 403
    assert client.get("/admin/cases/case/register/").status_code == 403
    assert client.get("/admin/cases/case/add/").status_code == 403
    assert client.get("/admin/cases/apitoken/").status_code == 403
    assert "Registrera inkommande handling" not in page(client.get("/admin/"))
    case.refresh_from_db()
    assert case.title == title_before and case.voided_at is None


def test_a_reader_sees_no_confidential_detail_on_any_new_page(client, login, secret_case):
    login(READER)
    for url in (f"/admin/cases/case/{secret_case.pk}/story/",
                f"/admin/cases/case/{secret_case.pk}/history/",
                f"/admin/cases/case/{secret_case.pk}/change/", "/admin/oversikt/",
                "/admin/cases/case/?q=Jönssons", "/admin/cases/case/?q=jonssons"):
        text = page(client.get(url))
        assert SECRET not in text, url
        assert "Jönssons elevärende" not in text, url
    assert "Ärende om en elev" in page(client.get(f"/admin/cases/case/{secret_case.pk}/story/"))


def test_the_cleared_role_sees_the_confidential_details(client, login, secret_case):
    login(READER, CLEARED)
    assert SECRET in page(client.get(f"/admin/cases/case/{secret_case.pk}/story/"))
    assert SECRET in page(client.get(f"/admin/cases/case/{secret_case.pk}/history/"))


def test_a_case_officer_edits_own_cases_only_and_adds_documents_to_them(client, login, case):
    officer = login(CASE_OFFICER)
    other = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    m.Case.objects.filter(pk=case.pk).update(owner=officer)
    own_page = page(client.get(f"/admin/cases/case/{case.pk}/change/"))
    assert 'name="_save"' in own_page
    data = form_data(own_page)
    data["description"] = "Handläggarens anteckning"
    response = client.post(f"/admin/cases/case/{case.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert m.Case.objects.get(pk=case.pk).description == "Handläggarens anteckning"

    other_page = page(client.get(f"/admin/cases/case/{other.pk}/change/"))
    assert 'name="_save"' not in other_page
    data = form_data(other_page)
    assert client.post(f"/admin/cases/case/{other.pk}/change/", data).status_code == 403

    add = {"case": str(other.pk), "title": "Kompletterande uppgifter", "type": "attachment",
           "direction": "incoming", "signatories-TOTAL_FORMS": "0",
           "signatories-INITIAL_FORMS": "0", "attachments-TOTAL_FORMS": "0",
           "attachments-INITIAL_FORMS": "0"}
    add.update({f"cases-provenance-content_type-object_id-{k}": "0"
                for k in ("TOTAL_FORMS", "INITIAL_FORMS")})
    assert client.post("/admin/cases/document/add/", add).status_code == 200  # refused
    assert not m.Document.objects.filter(title="Kompletterande uppgifter").exists()
    add["case"] = str(case.pk)
    response = client.post("/admin/cases/document/add/", add)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert m.Document.objects.get(title="Kompletterande uppgifter").case == case
    assert client.get("/admin/cases/case/register/").status_code == 403


# --- registering ---------------------------------------------------------------------------

def test_registering_an_incoming_motion_creates_case_number_document_and_motion(client, login):
    registrar = login(REGISTRAR)
    council = m.Organisation.objects.get(name="Kommunfullmäktige",
                                         municipality__code="0180")
    board = m.Organisation.objects.get(short_name="KS")
    expected = next_number()
    response = client.post("/admin/cases/case/register/", {
        "document_type": "motion", "title": "Motion om läxhjälp på fritidsgården",
        "received_date": timezone.localdate().isoformat(),
        "registering_organisation": str(board.pk), "addressed_to": str(council.pk),
        "owner": str(registrar.pk)})
    assert response.status_code == 302
    motion = m.Motion.objects.get(title="Motion om läxhjälp på fritidsgården")
    assert response["Location"] == f"/admin/cases/motion/{motion.pk}/change/"
    case = motion.case
    assert [n.number for n in case.registration_numbers.all()] == [expected]
    assert case.municipality == board.municipality and case.responsible_organisation == board
    assert case.owner == registrar
    document = case.documents.get()
    assert (document.type, document.direction, document.date) == (
        "motion", "incoming", timezone.localdate())
    assert motion.addressed_to == council
    message = page(client.get(response["Location"]))
    assert f"Registrerad i ärende {expected}" in message
    entries = m.AuditEntry.objects.filter(object_id__in=[case.pk, motion.pk, document.pk])
    assert {(e.action, e.via) for e in entries} == {("create", "admin")}
    assert entries.count() == 3


def test_registering_a_referral_records_consulted_bodies_and_due_date(client, login, case):
    login(REGISTRAR)
    sender = m.Organisation.objects.get(short_name="KS")
    consulted = list(m.Organisation.objects.filter(municipality__code="0180",
                                                   type="committee")[:2])
    received = timezone.localdate() - datetime.timedelta(days=3)
    due = timezone.localdate() + datetime.timedelta(days=30)
    numbers_before = m.RegistrationNumber.objects.count()
    response = client.post("/admin/cases/case/register/", {
        "document_type": "referral", "title": "Remiss om elevhälsans uppdrag",
        "received_date": received.isoformat(), "sender": str(sender.pk),
        "case": str(case.pk), "consulted": [str(o.pk) for o in consulted],
        "due_date": due.isoformat()})
    assert response.status_code == 302
    referral = m.Referral.objects.get(title="Remiss om elevhälsans uppdrag")
    assert (referral.case, referral.sender, referral.received_date, referral.due_date) == (
        case, sender, received, due)
    bodies = referral.consulted_bodies.order_by("organisation__name")
    assert [b.organisation for b in bodies] == sorted(consulted, key=lambda o: o.name)
    assert {(b.response_status, b.due_date) for b in bodies} == {("pending", due)}
    assert m.RegistrationNumber.objects.count() == numbers_before  # an existing case
    timeline = page(client.get(f"/admin/cases/case/{case.pk}/story/")).split(
        'id="timeline"')[1].split("</section>")[0]
    for body in consulted:
        assert escape(f"Remissinstans: {body} (inväntar svar)") in timeline


def test_the_registering_form_explains_every_mistake_at_once_in_swedish(client, login):
    login(REGISTRAR)
    today = timezone.localdate()
    response = client.post("/admin/cases/case/register/", {
        "document_type": "referral", "title": "Remiss utan ärende",
        "received_date": today.isoformat(),
        "due_date": (today - datetime.timedelta(days=1)).isoformat()})
    text = page(response)
    assert escape("Välj ett befintligt ärende, eller organisationen") in text
    assert "Svarstiden kan inte vara före ankomstdatum." in text
    assert not m.Referral.objects.filter(title="Remiss utan ärende").exists()
    ancient = page(client.post("/admin/cases/case/register/", {
        "document_type": "motion", "title": "Gammal motion", "received_date": "1899-12-31",
        "registering_organisation": str(m.Organisation.objects.get(short_name="KS").pk)}))
    assert "Ankomstdatumet kan inte vara före 1900." in ancient
    assert not m.Motion.objects.filter(title="Gammal motion").exists()


def test_registering_uses_the_series_service_so_numbers_follow_on(login):
    board = m.Organisation.objects.get(short_name="KS")
    today = timezone.localdate()
    first = register_incoming(document_type="motion", title="Första", received_date=today,
                              registering_organisation=board)
    second = register_incoming(document_type="motion", title="Andra", received_date=today,
                               registering_organisation=board)
    year = today.year
    first_serial = int(first.number.rsplit("/", 1)[1])
    assert first.number.startswith(f"KS {year}/")
    assert second.number == f"KS {year}/{first_serial + 1}"


# --- the case story ------------------------------------------------------------------------

def test_the_case_story_tells_timeline_links_sources_and_changes(client, login, case):
    login(REGISTRAR)
    text = page(client.get(f"/admin/cases/case/{case.pk}/story/"))
    timeline = text.split('id="timeline"')[1].split("</section>")[0]
    dates = re.findall(r"<td>(\d{1,2} \w+ \d{4})</td>", timeline)
    assert dates == ["17 september 2024", "17 september 2024", "18 september 2024",
                     "26 september 2024"]  # dated events in date order, in Swedish
    assert "justeras omedelbart" in timeline
    links = text.split('id="links"')[1].split("</section>")[0]
    assert "nämner" in links and "Skolsociala team (SST)" in links
    # both ways: a link to the case's motion from an attachment is shown too
    motion = case.motions.get()
    assert f"/admin/cases/motion/{motion.pk}/change/" in links
    sources = text.split('id="sources"')[1].split("</section>")[0]
    passage = m.Provenance.objects.filter(
        content_type=ContentType.objects.get_for_model(m.Case), object_id=case.pk).first()
    assert f"<mark>{escape(passage.exact)}</mark>" in sources
    assert f"{passage.start}–{passage.end}" in sources
    history = text.split('id="history"')[1]
    assert "inläsning av källhandlingarna" in history and "skapad" in history


def test_history_shows_each_field_before_and_after_from_api_and_admin(client, login, case):
    login(REGISTRAR)
    case.description = "Ny beskrivning"
    case.status = "decided"
    case.save()
    text = page(client.get(f"/admin/cases/case/{case.pk}/history/"))
    newest = text.split('class="audit-entry"')[1]
    assert "beskrivning" in newest and "Ny beskrivning" in newest
    assert re.search(r'class="before">okänd</td>\s*<td class="after">beslutat</td>', newest)


# --- linking and voiding -------------------------------------------------------------------

def test_linking_from_a_record_page_finds_the_other_by_search(client, login, case):
    login(REGISTRAR)
    motion = case.motions.get()
    answer = client.get("/admin/cases/link/targets/", {"term": "skottlandsmodell"}).json()
    model = m.CollaborationModel.objects.get(name="Skottlandsmodellen")
    value = f"cases.collaborationmodel:{model.pk}"
    assert value in [r["id"] for r in answer["results"]]
    response = client.post(f"/admin/cases/link/from/cases/motion/{motion.pk}/",
                           {"type": "evaluates", "direction": "to_here", "target": value})
    assert response.status_code == 302
    link = m.Link.objects.get(type="evaluates", target_id=motion.pk)
    assert link.source == model
    again = client.post(f"/admin/cases/link/from/cases/motion/{motion.pk}/",
                        {"type": "evaluates", "direction": "to_here", "target": value})
    assert "finns redan" in page(again) or "already exists" in page(again)
    forged = client.post(f"/admin/cases/link/from/cases/motion/{motion.pk}/",
                         {"type": "mentions", "direction": "from_here",
                          "target": "cases.apitoken:1"})
    assert escape("finns inte eller är makulerad") in page(forged)


def test_link_targets_name_confidential_records_by_their_public_title(client, login,
                                                                      secret_case):
    login(REGISTRAR)
    answer = client.get("/admin/cases/link/targets/", {"term": "ärende om en elev"})
    assert SECRET not in answer.content.decode()
    assert "ärende: Ärende om en elev" in [r["text"] for r in answer.json()["results"]]


def test_voiding_in_the_admin_keeps_the_record_with_who_when_and_why(client, login, case):
    user = login(REGISTRAR)
    activity = case.activities.first()
    text = page(client.get(f"/admin/cases/activity/{activity.pk}/change/"))
    assert f"/admin/cases/activity/{activity.pk}/void/" in text
    assert "/delete/" not in text
    short = client.post(f"/admin/cases/activity/{activity.pk}/void/", {"reason": "x"})
    assert "errorlist" in page(short)
    response = client.post(f"/admin/cases/activity/{activity.pk}/void/",
                           {"reason": "Registrerad två gånger"})
    assert response.status_code == 302
    activity.refresh_from_db()
    assert activity.voided_at and activity.void_reason == "Registrerad två gånger"
    assert activity.voided_by == user.username
    assert m.AuditEntry.objects.filter(object_id=activity.pk, action="void",
                                       via="admin").exists()
    listing = page(client.get("/admin/cases/activity/"))
    assert f"/admin/cases/activity/{activity.pk}/change/" not in listing
    assert f"/admin/cases/activity/{activity.pk}/change/" in page(
        client.get("/admin/cases/activity/", {"voided": "yes"}))
    voided_page = page(client.get(f"/admin/cases/activity/{activity.pk}/change/"))
    assert 'name="_save"' not in voided_page and "/void/" not in voided_page


# --- finding things ------------------------------------------------------------------------

def test_admin_search_ignores_diacritics_and_uses_swedish_stemming(client, login):
    login(READER)
    people = page(client.get("/admin/cases/person/", {"q": "jonsson"}))
    assert "Jan Jönsson" in people
    documents = page(client.get("/admin/cases/document/", {"q": "jonsson"}))
    assert "Motion om att utveckla de skolsociala teamen" in documents  # only says Jönsson
    # full text: a form of the word that appears nowhere literally
    stems = page(client.get("/admin/cases/collaborationmodel/", {"q": "skottlandsmodellens"}))
    assert "Skottlandsmodellen" in stems


def test_every_relation_in_every_admin_form_is_an_autocomplete(login):
    exceptions = {("case", "owner"),  # staff users: a short list, and users are not public
                  # the case's own decisions and documents (CaseAdmin.get_form): a short list
                  ("case", "closed_by_decision"), ("case", "closed_by_document")}
    missing = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "cases":
            continue
        for owner, fields in [(model_admin, model._meta.fields)] + [
                (inline, inline.model._meta.fields) for inline in
                [i(model, admin.site) for i in model_admin.inlines]]:
            for field in fields:
                if not field.many_to_one or not field.editable:
                    continue
                if field.name in ("source_type", "target_type", "content_type"):
                    continue  # generic relations: linked with the link form instead
                if getattr(owner, "fk_name", None) == field.name or (
                        hasattr(owner, "parent_model") and field.related_model
                        is owner.parent_model):
                    continue  # an inline's own parent
                listed = set(owner.autocomplete_fields) | set(owner.readonly_fields) | set(
                    getattr(owner, "raw_id_fields", ()))
                visible = owner.fields is None or field.name in owner.fields
                if visible and field.name not in listed and \
                        (model._meta.model_name, field.name) not in exceptions:
                    missing.append(f"{owner}: {field.name}")
    assert missing == []


def test_changelist_filters_for_organisation_status_year_due_date_and_confidentiality(
        client, login, case):
    login(REGISTRAR)
    today = timezone.localdate()
    board = m.Organisation.objects.get(short_name="KS")
    for title, due in (("Passerad remiss", today - datetime.timedelta(days=2)),
                       ("Snar remiss", today + datetime.timedelta(days=5)),
                       ("Senare remiss", today + datetime.timedelta(days=60))):
        register_incoming(document_type="referral", title=title, case=case,
                          received_date=today - datetime.timedelta(days=10), due_date=due,
                          sender=board)

    def titles(url, **params):
        return set(re.findall(r'class="field-[a-z_]+"><a href="[^"]+">([^<]+)</a>',
                              page(client.get(url, params))))

    assert "Passerad remiss" in titles("/admin/cases/referral/", due="passed")
    assert titles("/admin/cases/referral/", due="passed").isdisjoint(
        {"Snar remiss", "Senare remiss"})
    assert {"Snar remiss"} == titles("/admin/cases/referral/", due="soon")
    assert {"Senare remiss"} == titles("/admin/cases/referral/", due="later")
    case_filters = {"responsible_organisation__id__exact": str(board.pk),
                    "status__exact": "unknown", "year": "2024",
                    "confidential__exact": "0"}
    assert titles("/admin/cases/case/", **case_filters) == {case.title}
    assert titles("/admin/cases/case/", **{**case_filters, "confidential__exact": "1"}) == set()


# --- overview, translations ----------------------------------------------------------------

def test_the_morning_overview_lists_due_referrals_open_cases_and_recent_changes(
        client, login, case):
    login(REGISTRAR)
    today = timezone.localdate()
    register_incoming(document_type="referral", title="Remiss som snart ska besvaras",
                      case=case, received_date=today, due_date=today + datetime.timedelta(3),
                      consulted=m.Organisation.objects.filter(short_name="KS"))
    register_incoming(document_type="referral", title="Remiss långt fram", case=case,
                      received_date=today, due_date=today + datetime.timedelta(90))
    m.Case.objects.filter(pk=case.pk).update(status="open")
    index = page(client.get("/admin/"))
    assert 'href="/admin/oversikt/"' in index and "Morgonöversikt" in index
    text = page(client.get("/admin/oversikt/"))
    due = text.split('id="due-referrals"')[1].split("</section>")[0]
    assert "Remiss som snart ska besvaras" in due and "Remiss långt fram" not in due
    assert re.search(r"Remiss som snart ska besvaras.*?<td>1</td>", due, re.S)
    open_cases = text.split('id="open-cases"')[1].split("</section>")[0]
    assert re.search(r"Kommunstyrelsen \(Stockholm\)</a></td><td>1</td>", open_cases)
    recent = text.split('id="recent-changes"')[1]
    # "Remiss långt fram", not "remiss: Remiss långt fram": the type is not said twice
    assert re.search(r'skapad</td><td class="record">Remiss långt fram</td>', recent)


def test_every_swedish_message_is_translated():
    from babel.messages.pofile import read_po

    with open("locale/sv/LC_MESSAGES/django.po", "rb") as catalogue:
        messages = [msg for msg in read_po(catalogue) if msg.id]
    untranslated = [msg.id for msg in messages if not msg.string or msg.fuzzy]
    assert len(messages) > 400 and untranslated == []



def test_the_story_page_costs_the_same_queries_however_long_the_story(client, login, case):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(REGISTRAR)
    url = f"/admin/cases/case/{case.pk}/story/"
    page(client.get(url))  # warm the content-type cache

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page(client.get(url))
        return len(captured)

    before = queries()
    bodies = list(m.Organisation.objects.order_by("name")[:10])
    models = list(m.CollaborationModel.objects.order_by("name")[:5])
    for i, body in enumerate(bodies):
        activity = m.Activity.objects.create(case=case, type="other", organisation=body,
                                             date=datetime.date(2024, 10, 1 + i))
        activity.description = f"Ändrad {i}"
        activity.save()
    for model in models:
        m.Link(source=case, type="evaluates", target=model).save()
    assert queries() == before


def test_the_roles_hold_in_the_api_too(client, login, case):
    officer = login(CASE_OFFICER)
    other = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    m.Case.objects.filter(pk=case.pk).update(owner=officer)
    own_doc, other_doc = case.documents.first(), other.documents.first()

    def patch(url, body):
        etag = client.get(url)["ETag"]
        return client.patch(url, body, content_type="application/json", HTTP_IF_MATCH=etag)

    assert patch(f"/api/v1/cases/{case.pk}/", {"description": "Min"}).status_code == 200
    assert patch(f"/api/v1/cases/{other.pk}/", {"description": "Inte min"}).status_code == 403
    assert patch(f"/api/v1/documents/{own_doc.pk}/", {"title": "Ny"}).status_code == 200
    assert patch(f"/api/v1/documents/{other_doc.pk}/", {"title": "Ny"}).status_code == 403
    new = {"title": "Komplettering", "type": "attachment", "direction": "incoming"}
    assert client.post("/api/v1/documents/", {**new, "case": str(other.pk)},
                       content_type="application/json").status_code == 403
    assert client.post("/api/v1/documents/", {**new, "case": str(case.pk)},
                       content_type="application/json").status_code == 201
    url = f"/api/v1/documents/{own_doc.pk}/?reason=Dubblett"
    etag = client.get(f"/api/v1/documents/{own_doc.pk}/")["ETag"]
    assert client.delete(url, HTTP_IF_MATCH=etag).status_code == 403  # voiding: registrars
    login(REGISTRAR, username="registrar")
    assert client.delete(url, HTTP_IF_MATCH=etag).status_code == 200
    assert m.Document.objects.get(pk=own_doc.pk).voided_at is not None
    assert m.Case.objects.get(pk=other.pk).description != "Inte min"
