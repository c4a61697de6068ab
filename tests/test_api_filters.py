"""Every filter of every collection, NetBox style: one small test per filter, asserting
exactly which records the API returns for it.

Expected records come from known seed facts (fixtures/*.yaml) or from the ORM decided in
Python (``where``), never by running the filter code again. Where the seed data is too uniform
(every case "unknown", few dates), a test first sets values with ``QuerySet.update``; each
test runs in a transaction that is rolled back.

Meta tests at the end keep this file complete: every filter has a test here, every filter
that can reject a value has an invalid-value test, and every relation of a collection's model
has a filter (or an explicit, commented exemption).
"""

import unicodedata
from datetime import UTC, date, datetime, timedelta

import django_filters as df
import pytest
from django.db import models

from cases import models as m
from cases.api.filters import BoundedCharFilter
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS

pytestmark = pytest.mark.django_db

FILTERSETS = {resource_for(v.model).collection: v.filterset_class for v in VIEWSETS}
MODELS = {resource_for(v.model).collection: v.model for v in VIEWSETS}
COLLECTIONS = list(FILTERSETS)


# ---------------------------------------------------------------------------------------------
# Helpers


class Api:
    """GET a collection with query parameters; everything fits on one page."""

    def __init__(self, client):
        self.client = client

    def get(self, collection, **params):
        return self.client.get(f"/api/v1/{collection}/", {"page_size": 500, **params})

    def results(self, collection, **params) -> list[dict]:
        response = self.get(collection, **params)
        assert response.status_code == 200, response.json()
        page = response.json()
        assert page["next"] is None
        # (a filter through a to-many relation counts each record once, as it lists it)
        assert (page["count"], page["count_is_exact"]) == (len(page["results"]), True)
        return page["results"]

    def ids(self, collection, **params) -> list[str]:
        """Ids found, sorted; a record found twice shows up twice."""
        return sorted(r["id"] for r in self.results(collection, **params))

    def names(self, collection, **params) -> list[str]:
        """Titles (or names) found, sorted; a record found twice shows up twice."""
        return sorted(r["title"] if "title" in r else r["name"]
                      for r in self.results(collection, **params))


@pytest.fixture
def api(client):
    return Api(client)


def pks(records) -> list[str]:
    return sorted(str(r.pk) for r in records)


def live(model):
    return model.objects.filter(voided_at__isnull=True)


def where(model, test) -> list[str]:
    """Ids of the live records for which ``test(record)`` holds, decided in Python.

    Fails unless that is some but not all records, so no filter test is vacuous."""
    found = pks(r for r in live(model) if test(r))
    assert 0 < len(found) < live(model).count(), "choose a value that splits the records"
    return found


def pk(model, **lookup) -> str:
    return str(model.objects.get(**lookup).pk)


def case(number: str) -> str:
    """Id of the case with this registration number, as written in the seed."""
    return pk(m.Case, registration_numbers__number=number)


def named(record, name: str) -> bool:
    """For ``where``: the related record is there and has this name."""
    return record is not None and record.name == name


def fold(text: str) -> str:
    """Lower case without diacritics, done in Python: 'Jönsson' -> 'jonsson'."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(c))


def contains(text: str):
    """A test on a text: it contains ``text``, case and accents ignored (done in Python)."""
    return lambda value: fold(text) in fold(value or "")


class FilterTests:
    """Base of the per-collection test classes below: ``test_<filter>`` tests that filter."""

    collection: str

    @pytest.fixture(autouse=True)
    def _api(self, api):
        self.api = api

    def ids(self, **params):
        return self.api.ids(self.collection, **params)

    def names(self, **params):
        return self.api.names(self.collection, **params)


# ---------------------------------------------------------------------------------------------
# Filters every collection has: id, modified_since, modified_until, created_since

COMMON = {"id", "modified_since", "modified_until", "created_since"}
T0, T1, T2 = (datetime(2030, 1, day, 12, tzinfo=UTC) for day in (1, 2, 3))


def rfc3339(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def spread(model, field: str) -> tuple[str, str]:
    """Set ``field`` to T0 on every record but two, which get T1 and T2; return those two."""
    model.objects.update(**{field: T0})
    first, second = pks(live(model).order_by("pk")[:2])
    model.objects.filter(pk=first).update(**{field: T1})
    model.objects.filter(pk=second).update(**{field: T2})
    return first, second


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_id(api, collection):
    first, second = pks(live(MODELS[collection]).order_by("pk")[:2])
    assert api.ids(collection, id=f"{first},{second}") == [first, second]
    assert api.ids(collection, id=second) == [second]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_modified_since(api, collection):
    first, second = spread(MODELS[collection], "modified")
    assert api.ids(collection, modified_since=rfc3339(T1)) == [first, second]  # inclusive
    assert api.ids(collection, modified_since=rfc3339(T2)) == [second]
    assert api.ids(collection, modified_since="2030-01-03T14:00:00+02:00") == [second]  # = T2


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_modified_until(api, collection):
    first, second = spread(MODELS[collection], "modified")
    everything = pks(live(MODELS[collection]))
    assert api.ids(collection, modified_until=rfc3339(T1)) == sorted(set(everything) - {second})
    assert api.ids(collection, modified_until=rfc3339(T0)) == sorted(
        set(everything) - {first, second})


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_created_since(api, collection):
    first, second = spread(MODELS[collection], "created")
    assert api.ids(collection, created_since=rfc3339(T1)) == [first, second]  # inclusive
    assert api.ids(collection, created_since=rfc3339(T2)) == [second]


def test_modified_since_includes_voided_records_as_tombstones(api):
    first, second = spread(m.Case, "modified")
    m.Case.objects.filter(pk=second).update(voided_at=T2)
    found = {r["id"]: r for r in api.results("cases", modified_since=rfc3339(T1))}
    assert sorted(found) == [first, second]
    assert found[second]["voided"] is True
    assert second not in api.ids("cases", modified_until=rfc3339(T2))  # no tombstones here


# ---------------------------------------------------------------------------------------------
# Date ranges: <field> on or after / on or before a day, both bounds inclusive

DATE_RANGES = [  # collection, date field, after-parameter, before-parameter
    ("documents", "date", "date_after", "date_before"),
    ("motions", "date", "date_after", "date_before"),
    ("referrals", "received_date", "received_after", "received_before"),
    ("referrals", "due_date", "due_after", "due_before"),
    ("referral-responses", "date", "date_after", "date_before"),
    ("decisions", "date", "date_after", "date_before"),
    ("decisions", "follow_up_due", "follow_up_after", "follow_up_before"),
    ("activities", "date", "date_after", "date_before"),
    ("cases", "registered", "registered_after", "registered_before"),
    ("cases", "closed", "closed_after", "closed_before"),
]
DAY1, DAY2, DAY3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)


def dated(field: str, day: date | None) -> dict:
    """The update setting ``field`` to ``day``, keeping the models' check constraints."""
    if field == "follow_up_due":  # a follow-up date needs its precision, and only then
        return {field: day, "follow_up_due_precision": "day" if day else ""}
    if field in ("received_date", "due_date"):  # due must not be before received
        return {"received_date": None, "due_date": None, field: day}
    if field == "closed" and day:  # only a closed case has a closed date
        return {"status": "closed", "closed": day}
    return {field: day}


@pytest.mark.parametrize("collection, field, after, before", DATE_RANGES)
def test_date_range(api, collection, field, after, before):
    model = MODELS[collection]
    model.objects.update(**dated(field, None))
    first, second, third = pks(live(model).order_by("pk")[:3])
    for record, day in ((first, DAY1), (second, DAY2), (third, DAY3)):
        model.objects.filter(pk=record).update(**dated(field, day))
    assert api.ids(collection, **{after: "2024-03-02"}) == [second, third]
    assert api.ids(collection, **{before: "2024-03-02"}) == [first, second]
    assert api.ids(collection, **{after: "2024-03-02", before: "2024-03-02"}) == [second]


@pytest.mark.parametrize("collection, field, after, before", DATE_RANGES)
def test_a_date_range_lists_in_its_dates_order(api, collection, field, after, before):
    """Without ``ordering``, a range's page comes in its field's order (the page walks that
    field's index, cases.api.views.RegisterViewSet.range_ordering); ``ordering`` still wins."""
    model = MODELS[collection]
    model.objects.update(**dated(field, None))
    by_created = [str(pk) for pk in live(model).order_by("created", "id")
                  .values_list("pk", flat=True)[:3]]
    for record, day in zip(by_created, (DAY3, DAY1, DAY2), strict=True):
        model.objects.filter(pk=record).update(**dated(field, day))
    ids = [r["id"] for r in api.results(collection, **{after: "2024-01-01"})]
    assert ids == [by_created[1], by_created[2], by_created[0]]
    ids = [r["id"] for r in api.results(collection, **{before: "2024-12-31"})]
    assert ids == [by_created[1], by_created[2], by_created[0]]
    ids = [r["id"] for r in api.results(collection, **{after: "2024-01-01",
                                                       "ordering": "created"})]
    assert ids == by_created


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_modified_range_lists_in_modified_order(api, collection):
    model = MODELS[collection]
    by_created = [str(pk) for pk in live(model).order_by("created", "id")
                  .values_list("pk", flat=True)]
    later = datetime(2030, 1, 1, tzinfo=UTC)
    for n, record in enumerate(reversed(by_created)):  # the newest modified first
        model.objects.filter(pk=record).update(modified=later + timedelta(seconds=n))
    ids = [r["id"] for r in api.results(collection, modified_since="2029-12-31T00:00:00Z")]
    assert ids == by_created[::-1]
    ids = [r["id"] for r in api.results(collection, modified_until="2030-12-31T00:00:00Z")]
    assert ids == by_created[::-1]
    ids = [r["id"] for r in api.results(collection, modified_since="2029-12-31T00:00:00Z",
                                        ordering="created")]
    assert ids == by_created


# ---------------------------------------------------------------------------------------------
# Per collection

SKOTTLAND = "Motion om att införa Skottlandsmodellen"  # title of a case, document, motion ...
SST = "Motion om att utveckla de skolsociala teamen"



class TestMunicipalities(FilterTests):
    collection = "municipalities"

    @pytest.mark.parametrize("value", ["malmo", "MALMÖ", "alm"])
    def test_name(self, value):
        assert self.names(name=value) == ["Malmö"]

    def test_code(self):
        assert self.names(code="0180") == ["Stockholm"]


class TestOrganisations(FilterTests):
    collection = "organisations"

    def test_name(self):  # accents ignored: "namnd" finds "nämnd"
        assert self.ids(name="STADSDELSNAMND") == where(
            m.Organisation, lambda o: "stadsdelsnämnd" in o.name.lower())

    @pytest.mark.parametrize("value", ["KS", "ks"])
    def test_short_name(self, value):
        assert self.names(short_name=value) == ["Kommunstyrelsen"]

    def test_type(self):
        assert self.names(type="council") == ["Kommunfullmäktige"] * 3

    @pytest.mark.parametrize("key", ["id", "code", "name"])
    def test_municipality(self, key):
        malmo = m.Municipality.objects.get(name="Malmö")
        value = {"id": str(malmo.pk), "code": "1280", "name": "MALMÖ"}[key]
        assert self.ids(municipality=value) == where(
            m.Organisation, lambda o: o.municipality_id == malmo.pk)

    @pytest.mark.parametrize("value", ["ks", "Kommunstyrelsen", "id"])
    def test_parent(self, value):
        if value == "id":
            value = pk(m.Organisation, short_name="KS")
        assert self.names(parent=value) == ["Stadsledningskontoret"]

    def test_parent_by_a_name_several_bodies_have(self):
        assert self.ids(parent="Kommunfullmäktige") == where(
            m.Organisation, lambda o: named(o.parent, "Kommunfullmäktige"))

    def test_external(self):
        assert self.names(external="true") == [
            "Barnombudsmannen", "Friskolornas riksförbund", "Länsstyrelsen Östergötland",
            "Skolverket", "Socialstyrelsen"]
        assert self.ids(external="false") == where(m.Organisation, lambda o: o.municipality_id)


class TestParties(FilterTests):
    collection = "parties"

    @pytest.mark.parametrize("value", ["L", "l"])
    def test_abbreviation(self, value):
        assert self.ids(abbreviation=value) == [pk(m.Party, abbreviation="L")]

    def test_name(self):
        assert self.ids(name="liberal") == [pk(m.Party, abbreviation="L")]


class TestPeople(FilterTests):
    collection = "people"

    @pytest.mark.parametrize("value, person", [
        ("Jan Jönsson", "Jan Jönsson"),
        ("Jan Jonsson", "Jan Jönsson"),  # accents ignored, and also a spelling kept as variant
        ("smedborg", "Isabel Smedberg Palmqvist"),  # a variant only: the body text's spelling
        ("Isabel Smedberg", "Isabel Smedberg Palmqvist"),
        ("ELFVEN", "Anne-Lie Elfvén"),
    ])
    def test_name(self, value, person):
        assert self.names(name=value) == [person]

    @pytest.mark.parametrize("value", ["L", "l", "Liberalerna", "id"])
    def test_party(self, value):
        if value == "id":
            value = pk(m.Party, abbreviation="L")
        assert self.ids(party=value) == where(
            m.Person, lambda p: "L" in {a.party.abbreviation for a in p.affiliations.all()})

    def test_party_m(self):
        assert self.names(party="M") == ["Farishta Sulaiman", "John Eklöf"]

    def test_organisation(self):
        assert self.names(organisation="Leanlink") == ["Sonja Erlandsson"]
        department = pk(m.Organisation, name="Grundskoleavdelningen")
        assert self.names(organisation=department) == ["Anahitta Shaghoie"]


class TestCases(FilterTests):
    collection = "cases"

    @pytest.mark.parametrize("value", [
        "KS 2025/638", "ks 2025/638", "KS2025/638", "  ks  2025/638 ", "Ks 2025 / 638"])
    def test_registration_number(self, value):
        assert self.names(registration_number=value) == [SKOTTLAND]

    @pytest.mark.parametrize("value", ["grf-2023-21151", "STK-2023-758"])
    def test_registration_number_either_of_two(self, value):
        assert self.ids(registration_number=value) == [case("GRF-2023-21151")]

    def test_registration_number_unknown(self):
        assert self.ids(registration_number="KS 2025/639") == []

    def test_title(self):  # "infora" finds "införa"
        assert self.names(title="att INFORA") == [SKOTTLAND]

    def test_status(self):
        m.Case.objects.filter(pk=case("KS 2024/610")).update(status="decided")
        assert self.ids(status="decided") == [case("KS 2024/610")]
        assert self.ids(status="unknown") == where(m.Case, lambda c: c.status == "unknown")

    @pytest.mark.parametrize("value", ["0180", "stockholm", "id"])
    def test_municipality(self, value):
        if value == "id":
            value = pk(m.Municipality, code="0180")
        assert self.ids(municipality=value) == where(
            m.Case, lambda c: c.municipality.name == "Stockholm")

    @pytest.mark.parametrize("value", ["malmo", "MALMÖ", "Malmö"])
    def test_municipality_diacritics_ignored(self, value):
        assert self.ids(municipality=value) == where(
            m.Case, lambda c: c.municipality.name == "Malmö")

    @pytest.mark.parametrize("value", ["Stockholm/KS", "stockholm/kommunstyrelsen"])
    def test_organisation_within_a_municipality(self, value):
        assert self.ids(organisation=value) == sorted([case("KS 2025/638"), case("KS 2024/610")])


    @pytest.mark.parametrize("value", ["KS", "ks", "Kommunstyrelsen", "id"])
    def test_organisation(self, value):  # the responsible body
        if value == "id":
            value = pk(m.Organisation, short_name="KS")
        assert self.ids(organisation=value) == sorted([case("KS 2025/638"), case("KS 2024/610")])

    def test_registered_by(self):  # also the case KS holds with no responsible body stated
        assert self.ids(registered_by="ks") == sorted(
            [case("KS 2025/638"), case("KS 2024/610"), case("106-360/2016")])
        assert self.ids(registered_by="Grundskolenämnden") == [case("GRF-2023-21151")]

    def test_year(self):  # the Malmö case has two numbers of 2023, and is found once
        assert self.ids(year=2023) == [case("GRF-2023-21151")]
        assert self.ids(year=2016) == [case("106-360/2016")]


class TestDocuments(FilterTests):
    collection = "documents"

    @pytest.mark.parametrize("value", ["id", "ks2025/638", " KS 2025 / 638"])
    def test_case(self, value):  # by id or by a registration number, as users type it
        skottland = case("KS 2025/638")
        value = skottland if value == "id" else value
        assert self.ids(case=value) == where(m.Document, lambda d: str(d.case_id) == skottland)

    def test_case_by_an_unknown_number_finds_nothing(self):
        assert self.ids(case="KS 2025/639") == []

    def test_registration_number(self):
        assert self.ids(registration_number="ks2024/610") == where(
            m.Document, lambda d: str(d.case_id) == case("KS 2024/610"))

    def test_title(self):
        assert self.names(title="tjansteutlatande") == [
            m.Document.objects.get(title__startswith="Tjänsteutlåtande").title]

    def test_text(self):
        assert self.ids(text="SKOTTLANDSMODELLEN") == where(
            m.Document, lambda d: contains("Skottlandsmodellen")(d.text))

    def test_type(self):
        assert self.ids(type="statement") == where(m.Document, lambda d: d.type == "statement")

    def test_direction(self):
        incoming = pk(m.Document, type="statement")
        m.Document.objects.filter(pk=incoming).update(direction="incoming")
        assert self.ids(direction="incoming") == [incoming]

    def test_date_in_the_seed(self):
        assert self.names(date_after="2024-01-01") == [SST]

    def test_organisation(self):  # the author body
        assert self.ids(organisation="Grundskolenämnden") == [pk(m.Document, type="statement")]

    def test_prepared_by(self):
        assert self.names(prepared_by="Grundskoleavdelningen") == [SKOTTLAND, SST]

    def test_recipient(self):
        assert self.ids(recipient="utbildningsnämnden") == where(
            m.Document, lambda d: named(d.recipient, "Utbildningsnämnden"))

    def test_case_officer(self):
        assert self.names(case_officer="anahitta") == [SST]

    def test_signatory(self):
        assert self.names(signatory="Peter Bragner") == [SKOTTLAND, SST]
        assert self.names(signatory="tornvall") == [SKOTTLAND]


class TestMotions(FilterTests):
    collection = "motions"

    def test_case(self):
        malmo = case("GRF-2023-21151")
        assert self.ids(case=malmo) == where(m.Motion, lambda x: str(x.case_id) == malmo)

    def test_registration_number(self):
        assert self.names(registration_number="106-360/2016") == [
            m.Motion.objects.get(title__startswith="Motion från Lotta Edholm").title]

    def test_title(self):  # "eklof" finds "Eklöf"
        assert self.names(title="eklof") == [
            m.Motion.objects.get(title__startswith="Motion av John Eklöf").title]

    @pytest.mark.parametrize("value, abbreviation", [("M", "M"), ("l", "L"), ("Liberalerna", "L")])
    def test_party(self, value, abbreviation):  # an author's party, each motion once
        assert self.ids(party=value) == where(m.Motion, lambda x: abbreviation in {
            a.party.abbreviation for a in x.authors.all() if a.party_id})

    def test_author(self):
        assert self.names(author="Jan Jonsson") == [SKOTTLAND, "Utveckla de skolsociala teamen"]
        assert self.names(author="Smedborg") == [
            m.Motion.objects.get(title__startswith="Motion från Lotta Edholm").title]

    def test_addressed_to(self):
        stockholm_council = m.Organisation.objects.get(type="council", municipality__code="0180")
        assert self.ids(addressed_to=str(stockholm_council.pk)) == where(
            m.Motion, lambda x: x.addressed_to_id == stockholm_council.pk)
        assert self.ids(addressed_to="Kommunfullmäktige") == where(
            m.Motion, lambda x: x.addressed_to_id is not None)


class TestReferrals(FilterTests):
    collection = "referrals"

    def test_case(self):
        lotta = case("106-360/2016")
        assert self.ids(case=lotta) == where(m.Referral, lambda r: str(r.case_id) == lotta)

    def test_registration_number(self):
        assert self.ids(registration_number="KS 2025/638") == where(
            m.Referral, lambda r: str(r.case_id) == case("KS 2025/638"))

    def test_title(self):
        assert self.ids(title="REMISS") == where(m.Referral, lambda r: "remiss" in r.title.lower())

    def test_sender(self):
        assert self.ids(sender="ks") == where(
            m.Referral, lambda r: r.sender_id and r.sender.short_name == "KS")

    def test_consulted(self):
        assert self.names(consulted="Barnombudsmannen") == [
            m.Referral.objects.get(title__startswith="Remiss av motion från Lotta").title]
        assert self.ids(consulted="Utbildningsnämnden") == where(m.Referral, lambda r: any(
            named(c.organisation, "Utbildningsnämnden") for c in r.consulted_bodies.all()))

    def test_motion(self):
        motion = m.Motion.objects.get(title__startswith="Motion av John Eklöf")
        assert self.ids(motion=str(motion.pk)) == where(
            m.Referral, lambda r: r.motion_id == motion.pk)


class TestReferralResponses(FilterTests):
    collection = "referral-responses"

    def test_referral(self):
        referral = m.Referral.objects.get(title__startswith="Remiss av motion från Lotta")
        assert self.ids(referral=str(referral.pk)) == where(
            m.ReferralResponse, lambda r: r.referral_id == referral.pk)

    def test_organisation(self):
        assert self.ids(organisation="Utbildningsnämnden") == where(
            m.ReferralResponse, lambda r: r.organisation.name == "Utbildningsnämnden")

    def test_document(self):
        document = m.Document.objects.get(type="statement")
        assert self.ids(document=str(document.pk)) == where(
            m.ReferralResponse, lambda r: r.document_id == document.pk)

    def test_position(self):
        assert self.ids(position="rejects") == where(
            m.ReferralResponse, lambda r: r.position == "rejects")


class TestDecisions(FilterTests):
    collection = "decisions"

    def test_case(self):
        linkoping = pk(m.Case, municipality__name="Linköping")
        assert self.ids(case=linkoping) == where(m.Decision, lambda d: str(d.case_id) == linkoping)

    def test_registration_number(self):  # the Malmö case by its second number
        assert self.ids(registration_number="stk-2023-758") == where(
            m.Decision, lambda d: str(d.case_id) == case("GRF-2023-21151"))

    def test_kind(self):
        assert self.ids(kind="decided") == where(m.Decision, lambda d: d.kind == "decided")

    def test_organisation(self):
        assert self.ids(organisation="Kommunfullmäktige") == where(
            m.Decision, lambda d: d.organisation.name == "Kommunfullmäktige")

    def test_proposed_by(self):
        assert self.ids(proposed_by="Utbildningsförvaltningen") == where(
            m.Decision, lambda d: named(d.proposed_by, "Utbildningsförvaltningen"))

    def test_document(self):
        document = m.Document.objects.get(type="statement")
        assert self.ids(document=str(document.pk)) == where(
            m.Decision, lambda d: d.document_id == document.pk)

    @pytest.mark.parametrize("value, flag", [("true", True), ("false", False), ("1", True)])
    def test_immediately_adjusted(self, value, flag):
        assert self.ids(immediately_adjusted=value) == where(
            m.Decision, lambda d: d.immediately_adjusted is flag)

    def test_follow_up_in_the_seed(self):  # Linköping's two proposals: by December 2023
        linkoping = where(m.Decision, lambda d: d.case.municipality.name == "Linköping")
        assert self.ids(follow_up_after="2023-12-01", follow_up_before="2023-12-01") == linkoping

    @pytest.mark.parametrize("value", ["uppdrag", "JUSTERAS OMEDELBART", "aterrapportering"])
    def test_text(self, value):  # a decision whose several points match is found once
        assert self.ids(text=value) == where(
            m.Decision, lambda d: any(contains(value)(p.text) for p in d.points.all()))


class TestCollaborationModels(FilterTests):
    collection = "collaboration-models"

    @pytest.mark.parametrize("value", ["skolsociala team", "OVERENSKOMMELSE"])
    def test_name(self, value):
        assert self.ids(name=value) == where(
            m.CollaborationModel, lambda c: contains(value)(c.name))

    @pytest.mark.parametrize("value, expected", [
        ("sst", ["Skolsociala team"]),
        ("SST plus", ["Skolsociala team plus", "Skolsociala team plus (socialt "
                                                "investeringsfondsprojekt)"]),
    ])
    def test_abbreviation(self, value, expected):
        assert self.names(abbreviation=value) == expected

    def test_level(self):
        assert self.ids(level="universal") == where(
            m.CollaborationModel, lambda c: c.level == "universal")

    def test_status(self):
        assert self.ids(status="pilot") == where(
            m.CollaborationModel, lambda c: c.status == "pilot")

    def test_municipality(self):
        assert self.ids(municipality="Linköping") == where(
            m.CollaborationModel, lambda c: c.municipality_id and c.municipality.code == "0580")

    def test_sector(self):
        assert self.names(sector="police") == ["Samverkan skola, socialtjänst, polis och fritid"]
        assert self.ids(sector="foster_care") == where(m.CollaborationModel, lambda c: "foster_care"
                                                       in {s.sector for s in c.sectors.all()})

    def test_used_by(self):
        assert self.names(used_by="Leanlink") == ["Samverkansmodell mellan skola och socialtjänst"]

    @pytest.mark.parametrize("value", ["0180", "Stockholm"])
    def test_used_in(self, value):  # Skolsociala team has three usages in Stockholm: found once
        assert self.ids(used_in=value) == where(m.CollaborationModel, lambda c: "Stockholm" in {
            u.municipality.name for u in c.usages.all() if u.municipality_id})


class TestActivities(FilterTests):
    collection = "activities"

    @pytest.mark.parametrize("value", ["id", "ks 2024/610"])
    def test_case(self, value):
        sst = case("KS 2024/610")
        value = sst if value == "id" else value
        assert self.ids(case=value) == where(m.Activity, lambda a: str(a.case_id) == sst)

    def test_type(self):
        assert self.ids(type="disability_council") == where(
            m.Activity, lambda a: a.type == "disability_council")

    def test_organisation(self):
        assert self.ids(organisation="Funktionshindersrådet") == where(
            m.Activity, lambda a: named(a.organisation, "Funktionshindersrådet"))

    def test_person(self):
        assert self.ids(person="lena holmdahl") == where(
            m.Activity, lambda a: named(a.person, "Lena Holmdahl"))

    def test_date_in_the_seed(self):  # both bounds inclusive: the 17th and the 18th
        assert self.ids(date_after="2024-09-17", date_before="2024-09-18") == where(
            m.Activity, lambda a: str(a.case_id) == case("KS 2024/610"))


class TestLinks(FilterTests):
    collection = "links"

    @property
    def motion(self) -> str:  # the Skottlandsmodellen motion: both source and target of links
        return pk(m.Motion, title=SKOTTLAND)

    def test_type(self):
        assert self.ids(type="evaluates") == where(m.Link, lambda x: x.type == "evaluates")

    def test_source_type(self):
        assert self.ids(source_type="motion") == where(
            m.Link, lambda x: x.source_type.model == "motion")

    def test_source_id(self):
        assert self.ids(source_id=self.motion) == where(
            m.Link, lambda x: str(x.source_id) == self.motion)

    def test_target_type(self):
        assert self.ids(target_type="organisation") == where(
            m.Link, lambda x: x.target_type.model == "organisation")

    def test_target_id(self):
        assert self.ids(target_id=self.motion) == where(
            m.Link, lambda x: str(x.target_id) == self.motion)

    def test_record(self):  # both directions
        outgoing = where(m.Link, lambda x: str(x.source_id) == self.motion)
        incoming = where(m.Link, lambda x: str(x.target_id) == self.motion)
        assert self.ids(record=self.motion) == sorted(outgoing + incoming)


# ---------------------------------------------------------------------------------------------
# Invalid values: 400, problem+json, naming the parameter

INVALID_VALUES = {  # filter class -> a value it must reject; free text (CharFilter) takes any
    df.UUIDFilter: "not-a-uuid",  # also id=, a comma-separated list of UUIDs
    df.IsoDateTimeFilter: "yesterday",
    df.DateFilter: "2025-02-30",
    df.ChoiceFilter: "no-such-choice",
    df.NumberFilter: "2023.5",
    df.BooleanFilter: "maybe",
}


def invalid_value(filter_) -> str | None:
    return next((v for cls, v in INVALID_VALUES.items() if isinstance(filter_, cls)), None)


INVALID = [pytest.param(collection, name, invalid_value(f), id=f"{collection}-{name}")
           for collection, filterset in FILTERSETS.items()
           for name, f in filterset.base_filters.items() if invalid_value(f) is not None]


@pytest.mark.parametrize("collection, name, value", INVALID)
def test_invalid_value(api, collection, name, value):
    response = api.get(collection, **{name: value})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [p["name"] for p in response.json()["invalid_params"]] == [name]


TYPED = [pytest.param(collection, name, id=f"{collection}-{name}")
         for collection, filterset in FILTERSETS.items()
         for name, f in filterset.base_filters.items() if not isinstance(f, df.CharFilter)]


@pytest.mark.parametrize("collection, name", TYPED)
def test_an_empty_typed_value_is_refused(api, collection, name):
    """``?date_after=`` is not a date (the schema types it): 400, not the filter ignored."""
    response = api.get(collection, **{name: ""})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [p["name"] for p in response.json()["invalid_params"]] == [name]


@pytest.mark.parametrize("name, value", [
    ("modified_since", "2026-01-01"),  # a date, not an instant
    ("modified_since", "2026-01-01T00:00:00"),  # no offset
    ("id", "7a7aa61e2f3b5c55a2321cc99ac33d11"),  # not the canonical 8-4-4-4-12 form
    ("id", "7a7aa61e-2f3b-5c55-a232-1cc99ac33d11,,7a7aa61e-2f3b-5c55-a232-1cc99ac33d11"),
])
def test_values_outside_the_schemas_formats_are_refused(api, name, value):
    response = api.get("cases", **{name: value})
    assert response.status_code == 400
    assert [p["name"] for p in response.json()["invalid_params"]] == [name]


@pytest.mark.parametrize("value", ["10/25/2006", "2024-1-5"])
def test_a_date_is_iso_only(api, value):
    response = api.get("documents", date_after=value)
    assert response.status_code == 400


def test_an_instant_beyond_what_python_holds_selects_as_the_edge(api):
    """0001-01-01T00:00:00+05:00 is valid RFC 3339 but before Python's first UTC instant:
    every record is after it."""
    everything = api.ids("cases")
    assert api.ids("cases", modified_since="0001-01-01T00:00:00+05:00") == everything
    assert api.ids("cases", modified_until="9999-12-31T23:00:00-05:00") == everything


def test_invalid_ids_in_a_list(api):
    response = api.get("cases", id=f"{case('KS 2025/638')},nope")
    assert response.status_code == 400
    assert [p["name"] for p in response.json()["invalid_params"]] == ["id"]


# ---------------------------------------------------------------------------------------------
# Completeness: this file tests every filter, and every relation has a filter

def test_every_filter_is_tested():
    classes = {cls.collection: cls for cls in FilterTests.__subclasses__()}
    ranges = {(c, p) for c, _, after, before in DATE_RANGES for p in (after, before)}
    untested = [f"{collection}: {name}" for collection, filterset in FILTERSETS.items()
                for name in filterset.base_filters
                if name not in COMMON and (collection, name) not in ranges
                and not hasattr(classes.get(collection), f"test_{name}")]
    assert untested == [], "add a test_<filter> method to the collection's test class"


def test_every_free_text_filter_is_bounded():
    """The schema gives free-text filters maxLength TEXT_MAX (cases/api/schema.py): true only
    if every one of them is a BoundedCharFilter."""
    unbounded = [f"{collection}: {name}" for collection, filterset in FILTERSETS.items()
                 for name, f in filterset.base_filters.items()
                 if isinstance(f, df.CharFilter) and not isinstance(f, BoundedCharFilter)]
    assert unbounded == []


def test_every_filter_rejecting_values_has_an_invalid_value():
    unknown = [f"{collection}: {name} ({type(f).__name__})"
               for collection, filterset in FILTERSETS.items()
               for name, f in filterset.base_filters.items()
               if not isinstance(f, df.CharFilter) and invalid_value(f) is None]
    assert unknown == [], "add the filter class to INVALID_VALUES"


# Relations whose filter has another name than the relation (path from the collection's
# model; "part.field" is a field of a part of the record, see `relations`). None marks a
# relation deliberately left without a filter, with the reason.
FILTER_FOR_RELATION = {
    "people": {
        "roles.organisation": "organisation",  # holds a role in this organisation
        "affiliations.party": "party",
    },
    "cases": {
        "responsible_organisation": "organisation",
        "registration_numbers.organisation": "registered_by",
        "owner": None,  # the admin user handling the case: not part of the public API
        # the case's own record that closed it: found from the case, filtered by date
        # (closed_after/closed_before) and status
        "closed_by_decision": None,
        "closed_by_document": None,
    },
    "documents": {
        "author_organisation": "organisation",
        "signatories.person": "signatory",
        "signatories.organisation": None,  # the body printed under a signature: no use yet
    },
    "motions": {
        "authors.person": "author",
        "authors.party": "party",
    },
    "referrals": {
        "consulted_bodies.organisation": "consulted",
    },
    "collaboration-models": {
        "usages.municipality": "used_in",
        "usages.organisation": "used_by",
    },
}

# Natural keys held by related rows rather than foreign keys: path -> filter.
NATURAL_KEYS = {
    "people": {"name_variants.name": "name"},  # "Smedborg" finds Smedberg
    "cases": {"registration_numbers.number": "registration_number",
              "registration_numbers.year": "year"},
    "documents": {"case.registration_numbers.number": "registration_number"},
    "motions": {"case.registration_numbers.number": "registration_number"},
    "referrals": {"case.registration_numbers.number": "registration_number"},
    "decisions": {"case.registration_numbers.number": "registration_number",
                  "points.text": "text"},
    "collaboration-models": {"sectors.sector": "sector"},
}


def foreign_keys(model, skip=None) -> list[str]:
    return [f.name for f in model._meta.get_fields()
            if f.many_to_one and f.concrete and f is not skip]


def relations(model) -> list[str]:
    """The model's forward foreign keys, and those of its parts: rows deleted with it that
    have no collection of their own (registration numbers, authors, usages ...)."""
    paths = foreign_keys(model)
    for rel in model._meta.get_fields():
        if (rel.one_to_many and rel.auto_created and rel.on_delete is models.CASCADE
                and rel.related_model not in MODELS.values()):
            paths += [f"{rel.name}.{name}"
                      for name in foreign_keys(rel.related_model, skip=rel.remote_field)]
    return paths


def resolves(model, path: str) -> bool:
    for name in path.split("."):
        try:
            field = model._meta.get_field(name)
        except models.FieldDoesNotExist:
            return False
        model = field.related_model
    return True


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_every_relation_has_a_filter(collection):
    model, filters = MODELS[collection], set(FILTERSETS[collection].base_filters)
    mapping = FILTER_FOR_RELATION.get(collection, {})
    paths = relations(model)
    unmapped = [path for path in paths if path not in filters and path not in mapping]
    assert unmapped == [], "add a filter, or map the relation in FILTER_FOR_RELATION"
    assert [path for path in mapping if path not in paths] == [], "stale FILTER_FOR_RELATION"
    assert {f for f in mapping.values() if f is not None} <= filters


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_natural_keys_have_filters(collection):
    for path, name in NATURAL_KEYS.get(collection, {}).items():
        assert resolves(MODELS[collection], path), f"{collection}: no {path}"
        assert name in FILTERSETS[collection].base_filters


# ---------------------------------------------------------------------------------------------
# expand, as the schema enumerates it (an array, comma-separated or repeated)

def test_expand_repeated_as_generated_clients_send_it(api):
    record = api.results("cases", expand=["documents", "motions"])[0]
    assert isinstance(record["documents"], list) and isinstance(record["motions"], list)


@pytest.mark.parametrize("value", ["", "documents,,motions", "nothing"])
def test_expand_refuses_empty_and_unknown_paths(api, value):
    response = api.get("cases", expand=value)
    assert response.status_code == 400
    assert [p["name"] for p in response.json()["invalid_params"]] == ["expand"]


@pytest.mark.parametrize("ordering", ["created", "-created", "modified", "-modified"])
def test_a_few_matches_are_walked_by_cursor_each_once_in_order(client, ordering):
    """A filter matching at most COUNT_LIMIT records is paged from its matches, sorted
    (cases.api.pagination.sorted_matches): followed page by page, every match once, in the
    order asked."""
    m.Document.objects.update(direction="incoming")
    expected = [str(pk) for pk in live(m.Document).order_by(
        ordering, f"{'-' if ordering[0] == '-' else ''}id").values_list("pk", flat=True)]
    seen, url = [], f"/api/v1/documents/?direction=incoming&ordering={ordering}&limit=2"
    while url:
        body = client.get(url).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert len(expected) >= 3 and seen == expected
