"""Nothing is deleted through the admin (DESIGN §6 "Delete"): an inline's remove box voids the
part with a reason (who, when, why), the removal is a change of the record in the audit trail,
registration numbers come only from the registration service, and no admin or inline of the
register may delete, whoever the user. Posted with Django's test client to the real change
forms, as a browser would post them."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.contenttypes.admin import GenericInlineModelAdmin
from django.contrib.contenttypes.models import ContentType
from django.forms.models import _get_foreign_key
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases import models as m
from cases.services.registration import register_case

from .html_forms import form_data

pytestmark = pytest.mark.django_db

REASON = "Felregistrerad, se KS 2025/638"

# Every model admin of the register, and every inline they show (the provenance inline is
# added to each record's page by ``get_inlines``): a future admin or inline is covered too.
OURS = {model: model_admin for model, model_admin in admin.site._registry.items()
        if type(model_admin).__module__.startswith("cases.admin")}


def _inline_classes():
    """(admin's model, inline class), each inline class once, in a stable order: inlines of
    register records (a webhook delivery's read-only attempt log is no register record)."""
    seen, pairs = set(), []
    for model, model_admin in sorted(OURS.items(), key=lambda item: item[0].__name__):
        if not issubclass(model, m.RegisterModel):
            continue
        for inline in model_admin.get_inlines(None, None):
            if inline not in seen:
                seen.add(inline)
                pairs.append((model, inline))
    return pairs


INLINES = _inline_classes()


@pytest.fixture
def superuser(client):
    user = User.objects.create_superuser("överadmin", password="x-" * 8)
    client.force_login(user)
    return user


def change_url(record) -> str:
    return reverse(f"admin:cases_{record._meta.model_name}_change", args=[record.pk])


def row_prefix(data: dict, part) -> str:
    """The formset prefix of ``part``'s row in a rendered change form (``points-2``)."""
    prefixes = [name[:-len("-id")] for name, value in data.items()
                if name.endswith("-id") and value == str(part.pk)]
    assert len(prefixes) == 1, f"{part!r} is not a row of the form"
    return prefixes[0]


def tick_remove(client, parent, part, reason=REASON):
    """Post ``parent``'s change form as shown, with ``part``'s remove box ticked."""
    url = change_url(parent)
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(page.content.decode())
    prefix = row_prefix(data, part)
    data[f"{prefix}-DELETE"] = "on"
    data[f"{prefix}-removal_reason"] = reason
    return client.post(url, data)


# (parent model, the part's foreign key to it, relation name on the parent): each kind of
# part the issue found deleted, and the other parts of the same records.
PARTS = [
    (m.RegistrationNumber, "case", "registration_numbers"),
    (m.Activity, "case", "activities"),
    (m.DocumentAttachment, "document", "attachments"),
    (m.DocumentSignatory, "document", "signatories"),
    (m.MotionAuthor, "motion", "authors"),
    (m.MotionProposal, "motion", "proposals"),
    (m.ConsultedBody, "referral", "consulted_bodies"),
    (m.DecisionPoint, "decision", "points"),
    (m.CollaborationSector, "model", "sectors"),
    (m.CollaborationUsage, "model", "usages"),
    (m.CollaborationFigure, "model", "figures"),
    (m.PersonNameVariant, "person", "name_variants"),
    (m.PersonRole, "person", "roles"),
    (m.PartyAffiliation, "person", "affiliations"),
]


@pytest.mark.parametrize(("part_model", "fk", "relation"), PARTS,
                         ids=[p[0].__name__ for p in PARTS])
def test_ticking_remove_voids_the_part_and_records_a_change_of_its_record(
        client, superuser, part_model, fk, relation):
    part = part_model.objects.filter(voided_at__isnull=True).order_by("created", "pk").first()
    parent = getattr(part, fk)
    assert getattr(parent, relation).get(pk=part.pk) == part  # (the relation is the inline's)
    before = sorted(str(pk) for pk in getattr(parent, relation).filter(
        voided_at__isnull=True).values_list("pk", flat=True))
    started = timezone.now()

    response = tick_remove(client, parent, part)

    assert response.status_code == 302, response.content.decode()[:3000]
    part = part_model.objects.get(pk=part.pk)  # still there
    assert part.voided_at and started <= part.voided_at <= timezone.now()
    assert part.voided_by == superuser.username and part.void_reason == REASON
    own = m.AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(part),
                                      object_id=part.pk)
    assert own.filter(action="void", via="admin", actor=superuser.username).count() == 1
    assert own.filter(action="create").exists()  # its history is kept, not cut off
    change = m.AuditEntry.objects.get(
        content_type=ContentType.objects.get_for_model(parent), object_id=parent.pk,
        action="update", occurred_at__gte=started, before__has_key=relation)
    assert (change.via, change.actor) == ("admin", superuser.username)
    assert sorted(change.before[relation]) == before
    assert sorted(change.after[relation]) == [pk for pk in before if pk != str(part.pk)]
    # The form no longer offers the voided part; its own page still shows it, read-only.
    assert f'value="{part.pk}"' not in client.get(change_url(parent)).content.decode()
    own_page = client.get(change_url(part))
    assert own_page.status_code == 200 and REASON in own_page.content.decode()
    assert 'name="_save"' not in own_page.content.decode()


def test_the_records_history_names_the_removed_part(client, superuser):
    point = m.DecisionPoint.objects.filter(voided_at__isnull=True).order_by("created").first()
    decision = point.decision
    kept = decision.points.exclude(pk=point.pk).filter(voided_at__isnull=True).first()
    assert tick_remove(client, decision, point).status_code == 302
    history = client.get(reverse("admin:cases_decision_history", args=[decision.pk]))
    text = history.content.decode()
    row = text.split('class="audit-entry"')[1]  # newest first: the removal
    assert "beslutspunkter" in row.lower()
    before = row.split('class="before">')[1].split("</td>")[0]
    after = row.split('class="after">')[1].split("</td>")[0]
    assert escape(str(point)) in before and escape(str(point)) not in after
    assert after == "–"
    assert kept is None or escape(str(kept)) not in before  # only what changed is named


def test_removing_a_part_needs_a_reason_in_swedish(client, superuser):
    author = m.MotionAuthor.objects.filter(voided_at__isnull=True).first()
    response = tick_remove(client, author.motion, author, reason="")
    assert response.status_code == 200
    assert "Ange varför raden makuleras" in response.content.decode()
    author.refresh_from_db()
    assert author.voided_at is None


def test_a_registrar_may_remove_parts_a_case_officer_sees_no_remove_box(client):
    from django.apps import apps
    from django.contrib.auth.models import Group

    from cases.roles import CASE_OFFICER, REGISTRAR, sync_roles

    sync_roles(apps)
    motion = m.Motion.objects.filter(authors__isnull=False).first()
    for role, offered in ((REGISTRAR, True), (CASE_OFFICER, False)):
        user = User.objects.create_user(f"u-{role}", password="x-" * 8, is_staff=True)
        user.groups.set(Group.objects.filter(name=role))
        client.force_login(user)
        text = client.get(change_url(motion)).content.decode()
        assert ("authors-0-DELETE" in text) is offered, role
        assert ("Radera?" not in text) and ("Delete?" not in text)


def test_a_registration_number_cannot_be_typed_in_the_admin(client, superuser):
    case = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    ks = m.Organisation.objects.get(short_name="KS", municipality=case.municipality)
    year = timezone.localdate().year
    register_case(registering_organisation=ks, title="Först", municipality=case.municipality)
    serials = m.RegistrationNumber.objects.filter(organisation=ks, year=year).values_list(
        "serial", flat=True)
    typed = f"KS {year}/{max(s for s in serials if s) + 1}"  # the next number of the series
    url = change_url(case)
    page = client.get(url).content.decode()
    assert 'name="registration_numbers-0-number"' not in page  # shown, not editable
    data = form_data(page)
    existing = case.registration_numbers.get()
    # A row typed by hand, as a browser could post it, and an edit of the existing number.
    total = int(data["registration_numbers-TOTAL_FORMS"])
    data.update({"registration_numbers-TOTAL_FORMS": str(total + 1),
                 f"registration_numbers-{total}-number": typed,
                 f"registration_numbers-{total}-organisation": str(ks.pk),
                 f"registration_numbers-{total}-year": str(year),
                 "registration_numbers-0-number": "KS 2024/9999"})
    client.post(url, data)
    assert not m.RegistrationNumber.objects.filter(number=typed).exists()
    existing.refresh_from_db()
    assert existing.number == "KS 2024/610"
    # Nor on the registration numbers' own pages.
    assert client.get(reverse("admin:cases_registrationnumber_add")).status_code == 403
    own = client.get(change_url(existing)).content.decode()
    assert 'name="number"' not in own and 'name="serial"' not in own
    data = form_data(own)
    data.update({"number": "KS 2024/9999", "serial": "9999", "year": "2024"})
    client.post(change_url(existing), data)
    existing.refresh_from_db()
    assert (existing.number, existing.serial) == ("KS 2024/610", None)
    # The series goes on from the service's own numbers, with no collision.
    following = register_case(registering_organisation=ks, title="Sedan",
                              municipality=case.municipality)
    assert following.registration_numbers.get().number == typed


def test_no_admin_or_inline_of_the_register_may_delete_for_anyone(superuser):
    assert len(OURS) > 25 and len(INLINES) > 15
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in OURS.items():
        record = model._default_manager.first()
        for obj in (None, record):
            assert not model_admin.has_delete_permission(request, obj), model
        assert "delete_selected" not in model_admin.get_actions(request), model
        for inline in model_admin.get_inline_instances(request, record):
            assert not inline.has_delete_permission(request, record), (model, inline)


def _row_of(parent_model, inline):
    """A live row shown by ``inline`` on a live record's page, and that record."""
    if issubclass(inline, GenericInlineModelAdmin):
        content_type = ContentType.objects.get_for_model(parent_model)
        for row in inline.model.objects.filter(content_type=content_type).order_by("pk"):
            parent = parent_model._default_manager.filter(pk=row.object_id,
                                                          voided_at__isnull=True).first()
            if parent is not None:
                return row, parent
        return None, None
    fk = _get_foreign_key(parent_model, inline.model, fk_name=inline.fk_name)
    rows = inline.model.objects.filter(**{f"{fk.name}__isnull": False,
                                          f"{fk.name}__voided_at__isnull": True})
    row = rows.filter(voided_at__isnull=True).order_by("pk").first()
    return (row, getattr(row, fk.name)) if row else (None, None)


@pytest.mark.parametrize(("parent_model", "inline"), INLINES,
                         ids=[f"{p.__name__}-{i.__name__}" for p, i in INLINES])
def test_a_posted_delete_never_removes_a_row_of_any_inline(client, superuser, parent_model,
                                                            inline):
    row, parent = _row_of(parent_model, inline)
    assert row is not None, f"the seed register has no row for {inline.__name__}"
    url = change_url(parent)
    data = form_data(client.get(url).content.decode())
    prefixes = [name[:-len("-id")] for name, value in data.items()
                if name.endswith("-id") and value == str(row.pk)]
    assert prefixes, f"{inline.__name__} shows no row {row.pk}"
    for prefix in prefixes:
        data[f"{prefix}-DELETE"] = "on"
        data[f"{prefix}-removal_reason"] = REASON
    response = client.post(url, data)
    assert response.status_code in (200, 302)
    assert inline.model.objects.filter(pk=row.pk).exists(), "the row was deleted"


def test_voiding_a_part_on_its_own_page_is_a_change_of_its_record_too(client, superuser):
    number = m.RegistrationNumber.objects.get(number="KS 2024/610")
    case = number.case
    modified = case.modified
    response = client.post(reverse("admin:cases_registrationnumber_void", args=[number.pk]),
                           {"reason": REASON})
    assert response.status_code == 302
    number.refresh_from_db()
    assert number.voided_at and number.void_reason == REASON
    change = m.AuditEntry.objects.get(content_type=ContentType.objects.get_for_model(case),
                                      object_id=case.pk, before__has_key="registration_numbers")
    assert change.before == {"registration_numbers": [str(number.pk)]}
    assert change.after == {"registration_numbers": []}
    case.refresh_from_db()
    assert case.modified > modified  # readers syncing the case see it changed


def test_voiding_an_activity_through_the_api_is_a_change_of_its_case(superuser):
    from rest_framework.test import APIClient

    from cases.services.tokens import issue_token

    _, key = issue_token(name="Ärendesystem", can_write=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    activity = m.Activity.objects.filter(voided_at__isnull=True).order_by("created").first()
    url = f"/api/v1/activities/{activity.pk}/"
    response = api.delete(f"{url}?reason=Dubblett", HTTP_IF_MATCH=api.get(url)["ETag"])
    assert response.status_code == 200
    history = api.get(f"/api/v1/cases/{activity.case_id}/history/").json()
    removal = [entry for entry in history if entry["changed"] == ["activities"]]
    assert len(removal) == 1
    assert removal[0]["actor"] == "token:Ärendesystem" and removal[0]["action"] == "update"
    assert str(activity.pk) in removal[0]["before"]["activities"]
    assert str(activity.pk) not in removal[0]["after"]["activities"]


def test_a_voided_part_no_longer_finds_its_record_in_search(client, superuser):
    number = m.RegistrationNumber.objects.get(number="KS 2024/610")
    found = client.get("/api/v1/search/", {"q": "KS 2024/610", "type": "cases"}).json()
    assert str(number.case_id) in [hit["id"] for hit in found["results"]]
    assert tick_remove(client, number.case, number).status_code == 302
    found = client.get("/api/v1/search/", {"q": "KS 2024/610", "type": "cases"}).json()
    assert str(number.case_id) not in [hit["id"] for hit in found["results"]]
