"""Every collection, declared once as data and checked the same way (NetBox style)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import models as m
from cases.api import expand
from cases.api.pagination import COUNT_LIMIT
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS

pytestmark = pytest.mark.django_db

# collection -> (model, a field every record of it shows, expand paths to try)
COLLECTIONS = {
    "municipalities": (m.Municipality, "code", []),
    "organisations": (m.Organisation, "type", ["municipality", "parent", "children"]),
    "parties": (m.Party, "abbreviation", []),
    "people": (m.Person, "name_variants", ["sources"]),
    "cases": (m.Case, "registration_numbers",
              ["documents", "motions.authors", "referrals.responses", "decisions",
               "activities", "responsible_organisation.parent"]),
    "documents": (m.Document, "signatories", ["case", "author_organisation", "sources"]),
    "motions": (m.Motion, "proposals", ["case.documents", "addressed_to"]),
    "referrals": (m.Referral, "consulted_bodies", ["case", "sender", "motion", "responses"]),
    "referral-responses": (m.ReferralResponse, "position", ["referral", "document"]),
    "decisions": (m.Decision, "points", ["case", "organisation", "document"]),
    "collaboration-models": (m.CollaborationModel, "sectors", ["municipality", "sources"]),
    "activities": (m.Activity, "type", ["case", "person"]),
    "links": (m.Link, "target", []),
}
PROBLEM = "application/problem+json"


def test_every_model_with_a_viewset_is_declared_here():
    assert {v.model for v in VIEWSETS} == {model for model, _, _ in COLLECTIONS.values()}


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_list_and_detail(client, collection):
    model, field, _ = COLLECTIONS[collection]
    body = client.get(f"/api/v1/{collection}/", {"page_size": 500}).json()
    assert body["count"] == model.objects.filter(voided_at__isnull=True).count()
    assert body["count_is_exact"] is True
    assert {r["id"] for r in body["results"]} == {
        str(pk) for pk in model.objects.values_list("pk", flat=True)}
    record = body["results"][0]
    assert field in record
    assert {"id", "url", "created", "modified", "voided_at"} <= set(record)
    detail = client.get(record["url"])
    assert detail.status_code == 200
    assert detail.json() == record


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_expand_embeds_full_records(client, collection):
    model, _, paths = COLLECTIONS[collection]
    for path in paths:
        response = client.get(f"/api/v1/{collection}/", {"expand": path})
        assert response.status_code == 200, (path, response.json())
        top = path.split(".")[0]
        values = [r[top] for r in response.json()["results"] if r.get(top)]
        assert values, f"no record has {top} to expand"
        embedded = values[0][0] if isinstance(values[0], list) else values[0]
        assert {"created"} & set(embedded) or {"exact"} & set(embedded), \
            f"{path} was not expanded"


def test_related_records_are_brief_unless_expanded(client):
    case = client.get("/api/v1/cases/", {"registration_number": "KS 2025/638"}).json()
    municipality = case["results"][0]["municipality"]
    assert set(municipality) == {"id", "url", "display"}
    assert municipality["display"] == "Stockholm"
    assert "documents" not in case["results"][0]


def test_dotted_expand_reaches_further(client):
    body = client.get("/api/v1/cases/", {"registration_number": "KS 2025/638",
                                         "expand": "motions.authors"}).json()
    motion = body["results"][0]["motions"][0]
    names = {author["person"]["display"] for author in motion["authors"]}
    assert names == {"Jan Jönsson", "Anne-Lie Elfvén"}


def test_an_unknown_expand_path_is_refused_with_every_problem_at_once(client):
    response = client.get("/api/v1/cases/", {"expand": "nope,motions.nothing", "bogus": "1",
                                             "ordering": "colour", "page_size": "0"})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    problems = {}
    for problem in response.json()["invalid_params"]:
        problems.setdefault(problem["name"], []).append(problem["reason"])
    assert set(problems) == {"expand", "bogus", "ordering", "page_size"}
    assert problems["expand"] == ["Cannot expand nope.", "Cannot expand motions.nothing."]
    assert problems["bogus"] == ["Unknown query parameter."]


def test_a_detail_refuses_list_parameters(client):
    case = m.Case.objects.first()
    response = client.get(f"/api/v1/cases/{case.pk}/", {"page_size": "2"})
    assert response.status_code == 400
    assert response.json()["invalid_params"] == [
        {"name": "page_size", "reason": "Unknown query parameter."}]


def test_missing_records_and_paths_are_problem_documents(client):
    missing = client.get(f"/api/v1/cases/{uuid.uuid4()}/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM
    assert missing.json()["status"] == 404
    nowhere = client.get("/api/v1/no-such-collection/")
    assert nowhere.status_code == 404
    assert nowhere["Content-Type"] == PROBLEM


@pytest.mark.parametrize("path", ["/api/v1/cases/", "/api/v1/people/?name=jonsson",
                                  "/api/v1/search/?q=skola"])
def test_etag_and_if_none_match(client, path):
    first = client.get(path)
    etag = first["ETag"]
    assert etag
    again = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(path, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_the_etag_changes_when_the_record_changes(client):
    case = m.Case.objects.first()
    url = f"/api/v1/cases/{case.pk}/"
    etag = client.get(url)["ETag"]
    m.Case.objects.filter(pk=case.pk).update(title="Ändrad rubrik")
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response.json()["title"] == "Ändrad rubrik"


def test_voided_records_leave_lists_but_stay_readable(client):
    case = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    m.Case.objects.filter(pk=case.pk).update(voided_at="2026-01-01T00:00:00Z",
                                             void_reason="Registrerat två gånger")
    listed = {r["id"] for r in client.get("/api/v1/cases/").json()["results"]}
    assert str(case.pk) not in listed
    detail = client.get(f"/api/v1/cases/{case.pk}/").json()
    assert detail["voided_at"].startswith("2026-01-01")
    assert detail["void_reason"] == "Registrerat två gånger"


def test_count_is_bounded(client, monkeypatch):
    monkeypatch.setattr("cases.api.pagination.COUNT_LIMIT", 3)
    body = client.get("/api/v1/organisations/").json()
    assert body["count"] == 3
    assert body["count_is_exact"] is False
    assert COUNT_LIMIT == 1000


def test_ordering(client):
    names = [r["name"] for r in client.get("/api/v1/organisations/",
                                           {"ordering": "-name", "page_size": 500}
                                           ).json()["results"]]
    assert names == sorted(names, reverse=True)


def test_links_of_a_record_in_both_directions(client):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    links = client.get(f"/api/v1/cases/{case.pk}/links/").json()
    assert links
    directions = {link["direction"] for link in links}
    for link in links:
        side = "source" if link["direction"] == "outgoing" else "target"
        assert link[side]["id"] == str(case.pk)
    expected = m.Link.objects.filter(source_id=case.pk).count() + m.Link.objects.filter(
        target_id=case.pk).count()
    assert len(links) == expected
    assert directions <= {"outgoing", "incoming"}
    target = next(link for link in links if link["direction"] == "outgoing")["target"]
    if target["url"]:
        back = client.get(target["url"].split("testserver")[-1] + "links/").json()
        assert any(link["source"]["id"] == str(case.pk) for link in back)


def test_a_cases_timeline_is_in_date_order(client):
    case = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    events = client.get(f"/api/v1/cases/{case.pk}/timeline/").json()
    dated = [e["date"] for e in events if e["date"]]
    assert dated == sorted(dated)
    assert "2024-09-17" in dated and "2024-09-18" in dated  # MBL, Funktionshindersrådet
    undated_after = [e["date"] for e in events[len(dated):]]
    assert all(d is None for d in undated_after)
    kinds = {e["kind"] for e in events}
    assert {"activity_union_consultation", "activity_disability_council"} <= kinds
    assert any(k.startswith("document_") for k in kinds)


# --- query counts: constant in page size and in what expand embeds ----------------------


def _add_cases(count):
    stockholm = m.Municipality.objects.get(code="0180")
    ks = m.Organisation.objects.get(short_name="KS", municipality=stockholm)
    for i in range(count):
        case = m.Case.objects.create(title=f"Testärende {i}", municipality=stockholm,
                                     responsible_organisation=ks)
        m.RegistrationNumber.objects.create(case=case, organisation=ks, number=f"KS 2099/{i}")
        m.Document.objects.create(case=case, title=f"Handling {i}", type="official_report",
                                  direction="incoming")


@pytest.fixture
def throttle_in_memory(settings):
    """The throttle's shared counter (cases.api.limits: in the database by default) is not a
    page's cost: here it counts in memory, so that only the page's queries are counted."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _queries(client, path, params):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params).status_code == 200
    return len(captured)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_query_count_does_not_grow_with_the_page(client, collection, throttle_in_memory):
    """At most: the bounded count, the page, and one query per embedded to-many relation
    (forward relations are joined into the query of the record they start from)."""
    _add_cases(12)
    model, _, paths = COLLECTIONS[collection]
    path = f"/api/v1/{collection}/"
    serializer = resource_for(model).full
    for expand_value in ["", ",".join(paths)]:
        lookups, _ = expand.walk(serializer, expand.parse(expand_value))
        _, _, prefetched = expand.loading(model, lookups)
        bound = 2 + len(prefetched)
        params = {"expand": expand_value} if expand_value else {}
        _queries(client, path, {**params, "page_size": 1})  # warm caches (content types)
        for size in (1, 500):
            queries = _queries(client, path, {**params, "page_size": size})
            assert queries <= bound, (collection, expand_value, size, queries, bound)


def test_known_query_counts_of_the_case_list(client, throttle_in_memory):
    """Baseline: count + page + one query per embedded to-many relation."""
    _add_cases(12)
    _queries(client, "/api/v1/cases/", {})
    # count, page (joined: municipality, responsible_organisation), registration_numbers
    # (joined: their organisations)
    assert _queries(client, "/api/v1/cases/", {"page_size": 500}) == 3
    expanded = _queries(client, "/api/v1/cases/", {"page_size": 500, "expand": "documents"})
    # documents add: documents (joined: case, organisations, officer), signatories,
    # attachments
    assert expanded == 6
    assert expanded == _queries(client, "/api/v1/cases/", {"page_size": 2,
                                                          "expand": "documents"})


def test_an_anonymous_write_is_a_problem_asking_for_a_token(client):
    response = client.post("/api/v1/cases/", {}, content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"].startswith("Token")
    assert client.put("/api/v1/organisations/x/").status_code == 404  # not writable at all


def test_an_unacceptable_media_type_is_a_problem_too(client):
    response = client.get("/api/v1/cases/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response["Content-Type"] == PROBLEM


def test_a_server_error_is_a_problem_without_a_stack_trace(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("cases.api.views.case_timeline", broken)
    client.raise_request_exception = False
    case = m.Case.objects.first()
    response = client.get(f"/api/v1/cases/{case.pk}/timeline/")
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
