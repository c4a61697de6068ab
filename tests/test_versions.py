"""One version per record, one write path: the version the database counts (migration 0020),
the ETag derived from it, If-Match and the admin's stale form comparing it, and the rules of
``cases.policies`` holding the same through the API and the admin.

Each test runs in one transaction; a record created in the transaction counts no new version
for its parts (the rule that spares registering and bulk loads), so every part change below is
made under a record that existed before the test.
"""

import datetime
import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from cases import models as m
from cases.roles import CASE_OFFICER, REGISTRAR, sync_roles
from cases.services.records import create_record, update_record
from cases.services.tokens import issue_token
from cases.services.voiding import part_of, void_record

from .html_forms import form_data

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def writer():
    _, key = issue_token(name="Ärendesystem", can_write=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def case():
    return m.Case.objects.get(registration_numbers__number="KS 2025/638")


@pytest.fixture
def other_case():
    return m.Case.objects.get(registration_numbers__number="KS 2024/610")


def version(record) -> int:
    return type(record).objects.values_list("version", flat=True).get(pk=record.pk)


# --- the version ----------------------------------------------------------------------------


def test_every_change_of_a_row_is_a_new_version_queryset_updates_too(case):
    before = version(case)
    m.Case.objects.filter(pk=case.pk).update(title="Ändrad med update()")
    assert version(case) == before + 1
    m.Case.objects.filter(pk=case.pk).update(description="Och igen")
    assert version(case) == before + 2
    # A save that changes nothing but the timestamp is no new version.
    m.Case.objects.filter(pk=case.pk).update(modified=timezone.now())
    assert version(case) == before + 2


def test_a_saved_instance_knows_its_new_version(case):
    before = case.version
    changed = update_record(record=case, changes={"description": "Ny beskrivning"})
    assert changed.version == case.version == before + 1 == version(case)
    case.description = "Sparad direkt"
    case.save()
    assert case.version == before + 2 == version(case)
    created = create_record(model=m.Activity, values={
        "case": case, "type": "other", "date": datetime.date(2026, 1, 5),
        "description": "Möte"})
    assert created.version == 1


def test_a_change_of_a_part_is_a_new_version_of_its_record(case, other_case):
    # adding a part (an activity of a case)
    before = version(case)
    activity = create_record(model=m.Activity, values={
        "case": case, "type": "other", "date": datetime.date(2026, 1, 5),
        "description": "Möte med skolan"})
    assert version(case) == before + 1
    added = version(case)
    # voiding a part (a registration number)
    before = version(other_case)
    number = other_case.registration_numbers.get()
    void_record(record=number, reason="Fel nummer")
    assert version(other_case) == before + 1
    # changing a part, even with SQL (a document's attachment)
    document = m.Document.objects.filter(attachments__isnull=False).first()
    before = version(document)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_documentattachment SET title = title || ' (rättad)' "
                       "WHERE document_id = %s", [document.pk])
    assert version(document) == before + 1
    # Every change of a part counts, also a second one in the same transaction.
    update_record(record=activity, changes={"description": "Flyttat möte"})
    assert version(case) == added + 1
    assert activity.version == 2


def test_the_parts_migration_0020_counts_are_the_parts_the_models_have():
    migration = importlib.import_module("cases.migrations.0020_version")
    found = {(model._meta.model_name, part_of(model).column,
              part_of(model).related_model._meta.model_name)
             for model in apps.get_app_config("cases").get_models()
             if issubclass(model, m.RegisterModel) and part_of(model) is not None}
    assert set(migration.PARTS) == found
    assert set(migration.TABLES) == {model._meta.model_name for model in
                                     apps.get_app_config("cases").get_models()
                                     if issubclass(model, m.RegisterModel)}


# --- the ETag and If-Match --------------------------------------------------------------------


def test_renaming_an_organisation_does_not_make_if_match_on_its_cases_fail(writer, case):
    board = m.Organisation.objects.get(short_name="KS", municipality__code="0180")
    m.Case.objects.filter(pk=case.pk).update(responsible_organisation=board)
    url = f"/api/v1/cases/{case.pk}/"
    read = writer.get(url)
    tag = read["ETag"]
    assert tag.startswith(f'"{version(case)}-')

    update_record(record=board, changes={"name": "Kommunstyrelsen (nytt namn)"})
    again = writer.get(url)
    assert "Kommunstyrelsen (nytt namn)" in again.content.decode()
    assert again["ETag"] != tag  # the body changed: caches and If-None-Match see it
    assert writer.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 200
    assert writer.get(url, HTTP_IF_NONE_MATCH=again["ETag"]).status_code == 304

    changed = writer.patch(url, {"description": "Efter namnbytet"}, format="json",
                           HTTP_IF_MATCH=tag)
    assert changed.status_code == 200, changed.content
    assert changed["ETag"].startswith(f'"{version(case)}-')
    # A change of the case itself does make the tag read before it stale.
    stale = writer.patch(url, {"description": "Från en gammal läsning"}, format="json",
                         HTTP_IF_MATCH=tag)
    assert stale.status_code == 412 and stale["Content-Type"] == PROBLEM
    assert m.Case.objects.get(pk=case.pk).description == "Efter namnbytet"


def test_a_change_of_a_part_makes_if_match_on_the_record_stale(writer, case):
    url = f"/api/v1/cases/{case.pk}/"
    tag = writer.get(url)["ETag"]
    create_record(model=m.Activity, values={
        "case": case, "type": "other", "date": datetime.date(2026, 1, 5),
        "description": "Ett samtal"})
    response = writer.patch(url, {"description": "Utan att ha sett samtalet"}, format="json",
                            HTTP_IF_MATCH=tag)
    assert response.status_code == 412


@pytest.mark.parametrize("if_match", ['"stale"', '"0-abc"', '"x-1"', '"99999-"'])
def test_a_strong_tag_naming_no_current_version_is_412(writer, case, if_match):
    url = f"/api/v1/cases/{case.pk}/"
    response = writer.patch(url, {"description": "x"}, format="json", HTTP_IF_MATCH=if_match)
    assert response.status_code == 412


# --- the admin's stale form -------------------------------------------------------------------


def test_the_admin_form_is_stale_when_a_part_of_its_record_changed(client, case):
    client.force_login(User.objects.create_superuser("registrator", password="x" * 12))
    url = f"/admin/cases/case/{case.pk}/change/"
    data = form_data(client.get(url).content.decode())
    assert data["edited_version"] == str(version(case))
    modified = m.Case.objects.values_list("modified", flat=True).get(pk=case.pk)
    create_record(model=m.Activity, values={  # changes the case's version, not its row
        "case": case, "type": "other", "date": datetime.date(2026, 1, 5),
        "description": "Kollegans samtal"})
    assert m.Case.objects.values_list("modified", flat=True).get(pk=case.pk) == modified
    data["title"] = "Min ändring"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Någon annan ändrade posten efter att du öppnade den" in response.content.decode()
    assert m.Case.objects.get(pk=case.pk).title != "Min ändring"


# --- the rules, the same through both channels ------------------------------------------------


def _user(username, *roles, superuser=False):
    sync_roles(apps)
    if superuser:
        return User.objects.create_superuser(username, password="x" * 12)
    user = User.objects.create_user(username, password="lösenord-" * 2, is_staff=True)
    user.groups.set(Group.objects.filter(name__in=roles))
    return user


def voided(case, other_case):
    """A registrar changes a voided document."""
    document = m.Document.objects.filter(case=case).first()
    void_record(record=document, reason="Fel ärende")
    return _user("registrar", superuser=True), document, "title", "Ny titel", 409


def own_cases(case, other_case):
    """A case officer changes a document of a case they do not own (moves between cases:
    tests/test_api_trust.py)."""
    officer = _user("officer", CASE_OFFICER)
    m.Case.objects.filter(pk=case.pk).update(owner=None)
    document = m.Document.objects.filter(case=case).first()
    return officer, document, "title", "Ny titel", 403


def clearance(case, other_case):
    """A registrar without clearance lifts a case's confidentiality."""
    m.Case.objects.filter(pk=case.pk).update(
        confidential=True, confidentiality_basis="OSL 26 kap. 1 §", public_title="Ett ärende")
    return _user("registrar", REGISTRAR), m.Case.objects.get(pk=case.pk), "confidential", \
        False, 403


COLLECTIONS = {m.Document: "documents", m.Case: "cases"}


@pytest.mark.parametrize("channel", ["api", "admin"])
@pytest.mark.parametrize("rule", [voided, own_cases, clearance])
def test_the_rules_hold_the_same_through_the_api_and_the_admin(client, case, other_case,
                                                               rule, channel):
    user, record, field, value, status = rule(case, other_case)
    model = type(record)
    stored = getattr(model.objects.get(pk=record.pk), model._meta.get_field(field).attname)
    if channel == "api":
        api = APIClient()
        api.force_login(user)
        url = f"/api/v1/{COLLECTIONS[model]}/{record.pk}/"
        response = api.patch(url, {field: value}, format="json",
                             HTTP_IF_MATCH=api.get(url)["ETag"])
        assert response.status_code == status, response.content
        assert response["Content-Type"] == PROBLEM
    else:
        client.force_login(user)
        url = f"/admin/cases/{model._meta.model_name}/{record.pk}/change/"
        data = form_data(client.get(url).content.decode())
        if isinstance(value, bool):
            data.pop(field, None) if not value else data.__setitem__(field, "on")
        else:
            data[field] = value
        response = client.post(url, data)
        # refused (403), or the field is not the user's to change (read-only: ignored)
        assert response.status_code in (200, 302, 403)
    assert getattr(model.objects.get(pk=record.pk), model._meta.get_field(field).attname) == stored
