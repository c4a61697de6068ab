"""The admin: every model browsable in Swedish (English selectable), with its sources."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from cases.models import (
    Case,
    Document,
    Motion,
    Party,
    Person,
    Provenance,
    SearchEntry,
    SearchWord,
)
from cases.services.tokens import issue_token

from .html_forms import form_data

pytestmark = pytest.mark.django_db

REGISTERED = [m for m in admin.site._registry if m._meta.app_label == "cases"]


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("registrator", password="x-" * 8)
    client.force_login(user)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_the_register_has_an_admin():
    from django.apps import apps

    derived = {SearchEntry, SearchWord}  # the search index is rebuilt, never edited
    assert set(REGISTERED) == set(apps.get_app_config("cases").get_models()) - derived


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m.__name__)
def test_every_changelist_and_change_page_opens_with_search(staff_client, model):
    issue_token(name="E-arkiv")
    response = staff_client.get(_url(model, "changelist"), {"q": "a"})
    assert response.status_code == 200
    obj = model.objects.first() or _made_by_other_systems(model)
    response = staff_client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200


def _made_by_other_systems(model):
    """Webhook subscriptions (with a delivery and its attempt) are not seeded: make one."""
    from cases.models import Delivery, DeliveryAttempt, Event, Subscription

    subscription = Subscription.objects.create(name="E-arkiv", secret="whsec_eA==",
                                               callback_url="https://e-arkiv.example.se/")
    delivery = Delivery.objects.create(subscription=subscription, event=Event.objects.first())
    attempt = DeliveryAttempt.objects.create(delivery=delivery, status_code=500, error="HTTP 500")
    return {Subscription: subscription, Delivery: delivery, DeliveryAttempt: attempt}[model]


def test_the_admin_speaks_swedish_by_default_and_english_on_request(staff_client):
    swedish = staff_client.get(_url(Case, "changelist")).content.decode()
    assert "Ärenden" in swedish
    assert "Diarienummer" in staff_client.get(_url(Case, "change",
                                                   Case.objects.first().pk)).content.decode()
    english = staff_client.get(_url(Case, "changelist"), HTTP_ACCEPT_LANGUAGE="en").content
    assert "Cases" in english.decode()
    assert "Ärenden" not in english.decode()


def test_the_case_page_shows_its_source_passage_read_only(staff_client):
    case = Case.objects.get(registration_numbers__number="KS 2024/610")
    page = staff_client.get(_url(Case, "change", case.pk)).content.decode()
    passage = Provenance.objects.filter(object_id=case.pk).first()
    assert f"<mark>{escape(passage.exact)}</mark>" in page
    assert "provenance-content_type-object_id-0-exact" not in page  # shown, not editable


def test_search_finds_a_case_by_registration_number(staff_client):
    page = staff_client.get(_url(Case, "changelist"), {"q": "KS 2025/638"}).content.decode()
    case = Case.objects.get(registration_numbers__number="KS 2025/638")
    assert case.title in page
    other = Case.objects.get(registration_numbers__number="KS 2024/610")
    assert other.title not in page


def test_search_finds_people_by_a_name_variant(staff_client):
    page = staff_client.get(_url(Person, "changelist"), {"q": "Jan Jonsson"}).content.decode()
    assert "Jan Jönsson" in page


def test_inlines_show_the_parts_of_a_record(staff_client):
    motion = Motion.objects.filter(proposals__isnull=False).first()
    page = staff_client.get(_url(Motion, "change", motion.pk)).content.decode()
    for proposal in motion.proposals.all():
        assert proposal.text[:40] in page
    for author in motion.authors.all():
        assert f'value="{author.person_id}"' in page


def test_an_admin_edit_is_saved_and_shows_in_the_history(staff_client):
    party = Party.objects.get(abbreviation="M")
    url = _url(Party, "change", party.pk)
    data = form_data(staff_client.get(url).content.decode())
    data["name"] = "Moderaterna (test)"
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Party.objects.get(pk=party.pk).name == "Moderaterna (test)"
    history = staff_client.get(_url(Party, "history", party.pk)).content.decode()
    assert "registrator" in history
    assert LogEntry.objects.filter(object_id=str(party.pk), action_flag=CHANGE).exists()


def test_ensure_admin_creates_one_administrator_with_a_generated_password(capsys):
    User.objects.filter(is_superuser=True).delete()
    call_command("ensure_admin")
    first = capsys.readouterr().out
    password = first.split("password: ")[1].split()[0]
    admin_user = User.objects.get(username="admin")
    assert admin_user.check_password(password)
    assert len(password) >= 16
    call_command("ensure_admin")
    assert "already exists" in capsys.readouterr().out
    assert User.objects.filter(is_superuser=True).count() == 1
    User.objects.filter(is_superuser=True).delete()
    call_command("ensure_admin")
    assert capsys.readouterr().out.split("password: ")[1].split()[0] != password


def test_a_user_can_switch_the_admin_to_english(staff_client):
    page = staff_client.get(_url(Case, "changelist")).content.decode()
    assert 'id="language-form"' in page
    staff_client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    assert "Cases" in staff_client.get(_url(Case, "changelist")).content.decode()
    staff_client.post(reverse("set_language"), {"language": "sv", "next": "/admin/"})
    assert "Ärenden" in staff_client.get(_url(Case, "changelist")).content.decode()


def test_a_changelist_runs_as_many_queries_whatever_the_size_of_the_register(staff_client):
    """Every list (plain and searched) costs the same number of queries with five cases as
    with a hundred and five and their bodies, people and documents: no query per row or per
    choice of a list filter (at 100,000 cases the case list ran 481 a page: an
    organisation's municipality for each organisation in its filter)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.services.synthetic import Generator

    def queries(model, params):
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(_url(model, "changelist"), params).status_code == 200
        return len(captured)

    def all_lists():
        return {model.__name__: [queries(model, {}), queries(model, {"q": "a"})]
                for model in REGISTERED}

    before = all_lists()
    Generator(seed=3).generate(cases=100, municipalities=3)
    after = all_lists()
    # Links name the records at both ends: a query per kind of record on the page.
    slack = {"Link": 2 * len(REGISTERED)}
    grew = {name: (before[name], counts) for name, counts in after.items()
            if any(abs(a - b) > slack.get(name, 0)
                   for a, b in zip(counts, before[name], strict=True))}
    assert not grew, grew


def test_a_long_list_is_counted_to_a_bound_and_says_so(staff_client, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.admin.paging import BoundedPaginator

    monkeypatch.setattr(BoundedPaginator, "limit", 3)
    with CaptureQueriesContext(connection) as captured:
        page = staff_client.get(_url(Case, "changelist")).content.decode()
    assert "fler än 3 ärenden" in page
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"]]
    assert counts and all("LIMIT 4" in sql for sql in counts)
    monkeypatch.setattr(BoundedPaginator, "limit", 10_000)
    exact = staff_client.get(_url(Case, "changelist")).content.decode()
    assert f"{Case.objects.count()} ärenden" in exact and "fler än" not in exact


def test_search_finds_part_of_a_number_and_a_word_of_the_description(staff_client):
    case = Case.objects.get(registration_numbers__number="KS 2025/638")
    by_number = staff_client.get(_url(Case, "changelist"), {"q": "2025/63"}).content.decode()
    assert escape(case.title) in by_number
    word = next(w for w in (w.strip(".,:;()") for w in case.description.split())
                if len(w) > 6 and w.lower() not in case.title.lower())
    by_word = staff_client.get(_url(Case, "changelist"), {"q": word}).content.decode()
    assert escape(case.title) in by_word
    documents = staff_client.get(_url(Document, "changelist"),
                                 {"q": "KS 2025/638"}).content.decode()
    titles = [d.title for d in case.documents.all()]
    assert titles and all(escape(title) in documents for title in titles), (
        titles, re.findall(r'class="field-title[^>]*>(?:<a[^>]*>)?([^<]+)', documents))


def test_the_date_drill_down_offers_every_date_between_the_first_and_last(staff_client):
    """The years, months and days offered come from the first and last date in the table
    (two index lookups), a year without records included; Django's own asks the list
    for a DISTINCT over every row. Each choice filters as Django's does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.models import Activity

    first, last, *rest = Activity.objects.order_by("pk")
    Activity.objects.filter(pk=first.pk).update(date="2021-03-05")
    Activity.objects.filter(pk=last.pk).update(date="2023-11-20")
    Activity.objects.filter(pk__in=[a.pk for a in rest]).update(date="2021-03-05")
    url = _url(Activity, "changelist")

    def page(**params):
        with CaptureQueriesContext(connection) as captured:
            response = staff_client.get(url, {f"date__{k}": v for k, v in params.items()})
        assert response.status_code == 200
        assert not [q["sql"] for q in captured if "DATE_TRUNC" in q["sql"].upper()]
        return response.content.decode()

    def links(html, part):
        return sorted({int(v) for v in re.findall(rf"date__{part}=(\d+)", html)})

    def listed(html):
        return {a.pk for a in Activity.objects.all() if f"/activity/{a.pk}/change/" in html}

    assert links(page(), "year") == [2021, 2022, 2023]
    assert links(page(year=2023), "month") == list(range(1, 12))
    assert links(page(year=2021), "month") == list(range(3, 13))
    november = page(year=2023, month=11)
    assert links(november, "day") == list(range(1, 21))
    assert listed(november) == {last.pk}
    assert listed(page(year=2023, month=11, day=20)) == {last.pk}
    assert listed(page(year=2022)) == set()
    assert listed(page(year=2021, month=3, day=5)) == {first.pk, *(a.pk for a in rest)}


def _listed(page: str, model) -> list[str]:
    """The ids of the records a changelist page lists, in its order."""
    path = re.escape(f"/admin/{model._meta.app_label}/{model._meta.model_name}/")
    return list(dict.fromkeys(re.findall(path + r"([0-9a-f-]{36})/change/", page)))


@pytest.mark.parametrize("model, term", [(Case, "samverkan"), (Document, "skottland")])
def test_a_search_with_more_hits_than_few_lists_the_same_and_says_more(staff_client,
                                                                        monkeypatch, model,
                                                                        term):
    """A term with more than FEW hits is tested record by record along the list
    (cases.admin.search.any_of) instead of gathered: the same records, in the same order,
    and the count says "more than"."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.admin import search

    gathered = staff_client.get(_url(model, "changelist"), {"q": term}).content.decode()
    expected = _listed(gathered, model)
    assert 2 <= len(expected) < model.objects.count() and "fler än" not in gathered
    monkeypatch.setattr(search, "FEW", 1)
    with CaptureQueriesContext(connection) as captured:
        tested = staff_client.get(_url(model, "changelist"), {"q": term}).content.decode()
    assert _listed(tested, model) == expected
    assert f"fler än 1 {model._meta.verbose_name}" in tested
    # (known from reading the hits: not counted again)
    assert not [q for q in captured if "COUNT(" in q["sql"]]


def test_the_pages_of_a_list_are_its_records_in_order(staff_client, monkeypatch):
    """Pages after the first find their ids first, then the rows (cases.admin.paging):
    page by page, the same records in the same order as one long page."""
    from cases.admin.cases import DocumentAdmin

    whole = _listed(staff_client.get(_url(Document, "changelist")).content.decode(), Document)
    monkeypatch.setattr(DocumentAdmin, "list_per_page", 2)
    paged = []
    for number in range(1, (len(whole) + 1) // 2 + 1):
        page = staff_client.get(_url(Document, "changelist"), {"p": number}).content.decode()
        paged += _listed(page, Document)
    assert len(whole) >= 4 and paged == whole


def test_a_registration_number_finds_the_parts_of_its_case(staff_client):
    from cases.models import ConsultedBody, DocumentSignatory

    for model, path in ((ConsultedBody, "referral__case"), (DocumentSignatory, "document__case")):
        page = staff_client.get(_url(model, "changelist"), {"q": "ks2025/638"}).content.decode()
        expected = model.objects.filter(
            **{f"{path}__registration_numbers__number": "KS 2025/638"})
        assert expected and sorted(_listed(page, model)) == sorted(str(r.pk) for r in expected)


def test_no_dead_ends_the_start_the_icon_and_no_view_site(client, staff_client):
    """``/`` leads to the admin, ``/favicon.ico`` to the register's icon, and the admin has
    no "Visa sida" link to a page that does not exist (issue 15)."""
    from django.contrib.staticfiles import finders

    start = client.get("/")
    assert start.status_code == 302 and start["Location"] == reverse("admin:index")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and "cases/favicon" in icon["Location"]
    assert finders.find("cases/favicon.svg")
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert 'rel="icon"' in page
    assert "Visa sida" not in page and 'href="/"' not in page


def test_the_printed_password_hint_works_as_written(capsys):
    """``ensure_admin`` prints how to change the password; run as printed (with --help, so
    that nothing changes) it starts: ``./manage.py`` found the system's Python, without
    Django."""
    import subprocess
    from pathlib import Path

    User.objects.filter(is_superuser=True).delete()
    call_command("ensure_admin")
    hint = re.search(r"'([^']*changepassword admin)'", capsys.readouterr().out).group(1)
    done = subprocess.run(f"{hint} --help", shell=True, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert done.returncode == 0 and "Change a user's password" in done.stdout, done.stderr


def test_the_start_page_groups_the_registers_and_lists_no_parts(staff_client):
    """Daily work first, then the registers, organisations and people, and the system; a
    record's parts are reached from their record (issue 15)."""
    from cases.admin.start import GROUPS, PARTS

    page = staff_client.get(reverse("admin:index")).content.decode()
    captions = re.findall(r'<span class="section">([^<]+)</span>', page)
    assert captions == ["Register", "Organisationer och personer", "System"]
    assert page.index('id="daily-work"') < page.index("Register</span>")
    groups = re.split(r'<span class="section">', page)[1:]
    assert 'href="/admin/cases/case/"' in groups[0]
    assert 'href="/admin/cases/person/"' in groups[1]
    assert 'href="/admin/cases/auditentry/"' in groups[2]
    for part in PARTS:
        assert f'href="/admin/cases/{part}/"' not in page, part
    # Every model is in a group or reached from its record: none is lost from the page.
    grouped = PARTS | {name for _slug, _title, names in GROUPS for name in names}
    assert {model._meta.model_name for model in admin.site._registry} <= grouped
    # Its own list still answers.
    assert staff_client.get("/admin/cases/documentsignatory/").status_code == 200


def test_the_change_log_names_records_by_their_titles(client):
    """The audit trail (Ändringslogg) lists each record by its title and type, linked to it,
    not by its id; a confidential case by its public title to those not cleared."""
    from django.contrib.auth.models import Group, Permission

    from cases.roles import READER

    case = Case.objects.get(registration_numbers__number="KS 2024/610")
    reader = User.objects.create_user("lasare", password="x-" * 8, is_staff=True)
    reader.groups.set(Group.objects.filter(name=READER))
    reader.user_permissions.add(*Permission.objects.filter(codename="view_auditentry"))
    client.force_login(reader)
    page = client.get("/admin/cases/auditentry/", {"q": str(case.pk)}).content.decode()
    assert f'<a href="/admin/cases/case/{case.pk}/change/">{escape(case.title)}</a>' in page
    assert "Diarium | " not in page
    assert "inläsning av källhandlingarna" in page  # who: the loader, in Swedish
    case.confidential, case.confidentiality_basis = True, "OSL 26 kap. 1 §"
    case.public_title, case.title = "Ärende om en elev", "HEMLIG-TITEL om en elev"
    case.save()
    page = client.get("/admin/cases/auditentry/", {"q": str(case.pk)}).content.decode()
    assert "Ärende om en elev" in page and "HEMLIG-TITEL" not in page
