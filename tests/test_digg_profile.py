"""DIGG's REST API profile: the rules a machine can check, over the committed ``openapi.yaml``
and over live responses. docs/digg-profile.md lists every rule; this file proves the ones it
marks as checked (the rule ids are in the test names)."""

import base64
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.contrib.auth.models import User
from django.utils.text import slugify
from rest_framework.test import APIClient

from cases import models as m
from cases.api.limits import ClientRateThrottle
from cases.api.pagination import DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE_SIZE
from cases.api.registry import resource_for
from cases.api.schema import english_names
from cases.api.views import VIEWSETS
from cases.services.tokens import issue_token

SCHEMA = yaml.safe_load((Path(__file__).parents[1] / "openapi.yaml").read_text())
PROBLEM = "application/problem+json"
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
METHODS = ("get", "post", "put", "patch", "delete")


def operations():
    for path, item in SCHEMA["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def list_operations():
    """GET operations answering a page: an object with ``results`` and ``next``."""
    for path, method, operation in operations():
        schema = operation["responses"].get("200", {}).get("content", {}).get(
            "application/json", {}).get("schema", {})
        if method == "get" and "$ref" in schema:
            schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if method == "get" and {"results", "next"} <= set(schema.get("properties", {})):
            yield path, operation


# --- over the OpenAPI document ------------------------------------------------------------


def test_url_paths_are_lowercase_kebab_case_segments_under_the_major_version():
    """RES.06, UFN.07, UFN.08, UFN.09 (lowercase letters, digits and hyphens; no underscore,
    not even in a path parameter's name) and VER.05 (the major version in the URL)."""
    assert [urlsplit(server["url"]).path for server in SCHEMA["servers"]] == ["/api/v1"]
    wrong = []
    for path in SCHEMA["paths"]:
        for segment in path.strip("/").split("/"):
            if not (KEBAB.match(segment) or re.fullmatch(r"\{[a-z]+\}", segment)):
                wrong.append((path, segment))
    assert wrong == []


def test_collections_are_named_by_their_plural():
    """The profile's resource naming (RES): a collection is named by its English plural."""
    wrong = {}
    for viewset in VIEWSETS:
        plural = slugify(english_names(viewset.model)[1])
        collection = resource_for(viewset.model).collection
        if collection != plural:
            wrong[collection] = plural
        assert f"/{collection}/" in SCHEMA["paths"]
    assert wrong == {}


def test_query_parameters_and_properties_are_snake_case():
    """FNS.01, FNS.03, FNS.06 (query parameters: one convention, a letter first, URL-safe)
    and AME.04, AME.05, AME.07 (field names: snake_case throughout)."""
    wrong = [(path, p["name"]) for path, _, operation in operations()
             for p in operation.get("parameters", []) if p["in"] == "query"
             and not SNAKE.match(p["name"])]
    for name, component in SCHEMA["components"]["schemas"].items():
        wrong += [(name, prop) for prop in component.get("properties", {})
                  if not SNAKE.match(prop)]
    assert wrong == []


# Answered by the HTTP server (gunicorn) before the request reaches the application, in its
# own words: documented without a body (docs/digg-profile.md, FEL.01).
BEFORE_THE_APPLICATION = {"414"}


def test_every_error_response_is_a_problem_document_with_its_five_members():
    """FEL.01: RFC 9457 problem+json with type, title, status, detail and instance."""
    problem = SCHEMA["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "instance"}
    wrong = []
    for path, method, operation in operations():
        for status, response in operation["responses"].items():
            if status[0] in "45" and status not in BEFORE_THE_APPLICATION:
                content = response.get("content", {})
                if list(content) != [PROBLEM] or content[PROBLEM]["schema"] != {
                        "$ref": "#/components/schemas/Problem"}:
                    wrong.append((method, path, status))
    assert wrong == []


# Array fields whose names are plural without a final s, or deviate (docs/digg-profile.md,
# AME.06): history's `changed` and a delivery's `attempt_log` keep their v1 names.
PLURAL_WITHOUT_S = {"children", "people"}
V1_NAMES = {("HistoryEntry", "changed"), ("Delivery", "attempt_log")}


def test_fields_holding_lists_are_named_in_the_plural():
    """AME.06."""
    wrong = [(name, prop) for name, component in SCHEMA["components"]["schemas"].items()
             for prop, schema in component.get("properties", {}).items()
             if schema.get("type") == "array" and not prop.endswith("s")
             and prop not in PLURAL_WITHOUT_S and (name, prop) not in V1_NAMES]
    assert wrong == []


def test_every_response_is_described_and_every_operation_traced():
    """DOK.20 (every response described), SPA.02 (traceparent taken by every operation) and
    SPA.04 (and answered in every response)."""
    undescribed, untraced = [], []
    for path, method, operation in operations():
        if not any(p.get("name") == "traceparent" and p["in"] == "header"
                   for p in operation.get("parameters", [])):
            untraced.append((method, path))
        for status, response in operation["responses"].items():
            if not response.get("description"):
                undescribed.append((method, path, status))
            if "traceparent" not in response.get("headers", {}):
                untraced.append((method, path, status))
    assert undescribed == [] and untraced == []


def test_every_date_and_instant_has_an_example_in_utc():
    """DOT.02 and DOT.04: every date-time property's example is RFC 3339 in UTC, every
    date's a plain date."""
    wrong, seen = [], 0

    def walk(node, where):
        nonlocal seen
        if isinstance(node, dict):
            if node.get("format") == "date-time":
                seen += 1
                if not UTC.match(str(node.get("example", ""))):
                    wrong.append(where)
            if node.get("format") == "date":
                seen += 1
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(node.get("example", ""))):
                    wrong.append(where)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(SCHEMA["components"]["schemas"], "components")
    assert seen > 50 and wrong == []


def test_every_list_takes_limit_page_and_offset():
    """FNS.07 (limit with page or offset), FNS.08 (page from 1), FNS.09 (limit 20 by
    default)."""
    lists = list(list_operations())
    assert len(lists) >= 2 * len(VIEWSETS)  # every collection's list and change feed
    for path, operation in lists:
        parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
        assert parameters["limit"] == {"type": "integer", "minimum": 1,
                                       "maximum": MAX_PAGE_SIZE, "default": 20}, path
        assert parameters["page"] == {"type": "integer", "minimum": 1, "default": 1}, path
        assert parameters["offset"] == {"type": "integer", "minimum": 0,
                                        "maximum": MAX_OFFSET}, path
        assert "cursor" in parameters, path


def test_api_info_is_described():
    """VER.06: an api-info resource at the API's root (the server's URL, which ends in the
    major version: RAP-LP looks for the path key /api-info)."""
    operation = SCHEMA["paths"]["/api-info"]["get"]
    assert "200" in operation["responses"]


# --- over live responses ------------------------------------------------------------------


def instants(value, where=""):
    """Every string in a JSON value that starts like a date-time, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from instants(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from instants(item, f"{where}[{index}]")
    elif isinstance(value, str) and INSTANT.match(value):
        yield where, value


def urls(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from urls(item)
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value


@pytest.fixture
def reader(db):
    user = User.objects.create_user("profile-reader")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def writer(db):
    _, key = issue_token(name="Profilkontroll", can_write=True, cleared=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
def test_every_instant_in_every_response_is_utc(writer, reader):
    """DOT.02: date-times in UTC, in records, parts, tombstones, histories and events. The
    register is changed first (a record written, a part added, a record voided), so that every
    kind of response holds instants: a positive control asserts that each does."""
    subscription = writer.post("/api/v1/subscriptions/", {
        "name": "Profil", "callback_url": "https://receiver.example.se/hooks",
        "contact_email": "profil@example.se"}, format="json")
    assert subscription.status_code == 201, subscription.content
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    url = f"/api/v1/cases/{case.pk}/"
    changed = writer.patch(url, {"title": case.title + " (ändrad)"}, format="json",
                           HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert changed.status_code == 200, changed.content
    person = writer.post("/api/v1/people/", {"name": "Profil Kontrollsson"}, format="json")
    assert person.status_code == 201, person.content
    voided = writer.delete(person.json()["url"] + "?reason=Skapad+av+profiltestet",
                           HTTP_IF_MATCH=person["ETag"])
    assert voided.status_code == 200, voided.content
    seen, wrong = 0, []
    paths = ["/api/v1/api-info"]
    for viewset in VIEWSETS:
        collection = f"/api/v1/{resource_for(viewset.model).collection}/"
        paths += [f"{collection}?limit={MAX_PAGE_SIZE}",
                  f"{collection}changes/?sync_token=0&limit={MAX_PAGE_SIZE}"]
        first = viewset.model.objects.filter(voided_at__isnull=True).first()
        if first is not None:
            paths += [f"{collection}{first.pk}/", f"{collection}{first.pk}/history/"]
    for path in paths:
        response = reader.get(path)
        assert response.status_code == 200, (path, response.content)
        found = list(instants(response.json(), path))
        seen += len(found)
        wrong += [(where, value) for where, value in found if not UTC.match(value)]
    own = f"/api/v1/subscriptions/{subscription.json()['id']}/"
    for path in ("/api/v1/subscriptions/", own, f"{own}deliveries/"):
        response = writer.get(path)
        assert response.status_code == 200, (path, response.content)
        found = list(instants(response.json(), path))
        seen += len(found)
        wrong += [(where, value) for where, value in found if not UTC.match(value)]
    deliveries = writer.get(f"{own}deliveries/").json()
    assert deliveries and all(UTC.match(d["created"]) for d in deliveries)
    history = reader.get(f"{url}history/").json()
    assert any(UTC.match(entry["occurred_at"]) for entry in history)
    tombstones = [r for r in reader.get("/api/v1/people/changes/?sync_token=0&limit=500")
                  .json()["results"] if r.get("voided")]
    assert tombstones and all(UTC.match(t["voided_at"]) for t in tombstones)
    events = list(m.Event.objects.order_by("-id")[:3])
    assert events and all(UTC.match(event.message["time"]) for event in events)
    assert seen > 500
    assert wrong == []


@pytest.mark.django_db
def test_urls_in_responses_are_lowercase():
    """FNS.03: lowercase URLs (paths: a cursor in the query is opaque and may mix cases)."""
    client = APIClient()
    found = []
    for viewset in VIEWSETS:
        body = client.get(f"/api/v1/{resource_for(viewset.model).collection}/",
                          {"limit": 2}).json()
        found += list(urls(body))
    found += list(urls(client.get("/api/v1/").json()))
    assert len(found) > 50
    assert [u for u in found if urlsplit(u).path != urlsplit(u).path.lower()] == []


@pytest.mark.django_db
def test_limit_page_and_offset_cut_the_same_pages_as_the_cursor():
    """FNS.07–FNS.09: limit (default 20), page from 1, offset; the next link stays a
    cursor."""
    client = APIClient()
    collection = max(VIEWSETS, key=lambda v: v.model.objects.count())
    path = f"/api/v1/{resource_for(collection.model).collection}/"
    total = collection.model.objects.filter(voided_at__isnull=True).count()
    assert total > DEFAULT_PAGE_SIZE  # the default is visible
    default = client.get(path).json()
    assert len(default["results"]) == DEFAULT_PAGE_SIZE
    walked, body = [], client.get(path, {"limit": 3}).json()
    while True:
        walked += [r["id"] for r in body["results"]]
        if not body["next"] or len(walked) >= 12:
            break
        body = client.get(body["next"]).json()
    for params in ({"limit": 3, "page": 3}, {"limit": 3, "offset": 6},
                   {"page_size": 3, "page": 3}, {"limit": 3, "page_size": 3, "page": 3},
                   {"limit": 3, "page": 1, "offset": 6}):
        page = client.get(path, params).json()
        assert [r["id"] for r in page["results"]] == walked[6:9], params
        following = parse_qs(urlsplit(page["next"]).query)
        assert "cursor" in following and "page" not in following and \
            "offset" not in following
        assert [r["id"] for r in client.get(page["next"]).json()["results"]] == walked[9:12]
    assert [r["id"] for r in client.get(path, {"limit": 3, "page": 1}).json()["results"]] == \
        walked[:3]
    # the defaults (page 1, offset 0, limit 20: generated clients send them) change nothing
    second = client.get(path, {"limit": 3}).json()["next"]
    for defaults in ("page=1", "offset=0", "page=1&offset=0"):
        follow = client.get(f"{second}&{defaults}").json()
        assert [r["id"] for r in follow["results"]] == walked[3:6], defaults
    # page_size, the older name, wins over limit where given
    both = client.get(path, {"limit": 20, "page_size": 3, "page": 3}).json()
    assert [r["id"] for r in both["results"]] == walked[6:9]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "name", "reason"), [
    ({"page": "0"}, "page", "Must be at least 1."),
    ({"offset": "-1"}, "offset", "Must be at least 0."),
    ({"limit": "501"}, "limit", "Must be between 1 and 500."),
    ({"limit": "x"}, "limit", "Must be a whole number."),
    ({"page": "2", "offset": "3"}, "offset", "not both"),
    ({"page": "502", "limit": "20"}, "page", "follow the next link"),
    ({"offset": str(MAX_OFFSET + 1)}, "offset", "follow the next link"),
    ({"page": "2", "cursor": "abc"}, "page", "leave out page"),
    ({"offset": "20", "sync_token": "0"}, "offset", "leave out page"),
])
def test_paging_beyond_its_bounds_is_a_400_that_says_why(params, name, reason):
    response = APIClient().get("/api/v1/cases/", params)
    assert response.status_code == 400
    problems = {p["name"]: p["reason"] for p in response.json()["invalid_params"]}
    assert reason in problems[name]


def test_paging_by_number_reaches_exactly_its_documented_depth(db):
    assert APIClient().get("/api/v1/cases/", {"offset": MAX_OFFSET}).status_code == 200
    assert APIClient().get("/api/v1/cases/", {"page": MAX_OFFSET // 20 + 1}).status_code == 200
    assert APIClient().get("/api/v1/cases/", {"page": MAX_OFFSET // 20 + 2}).status_code == 400


@pytest.mark.django_db
def test_api_info_and_the_root_link_everything_a_client_needs():
    """VER.06: /api-info; the root links every collection, search, api-info and the
    documentation, and each link answers."""
    client = APIClient()
    info = client.get("/api/v1/api-info")
    assert info.status_code == 200
    body = info.json()
    assert body["api_version"] == SCHEMA["info"]["version"]
    assert body["api_name"] == SCHEMA["info"]["title"]
    assert body["api_status"] == "active"
    assert set(body["contact"]) == {"name", "email", "url"}
    assert client.get(body["api_documentation"]).status_code == 200
    assert client.get(body["api_specification"]).status_code == 200
    root = client.get("/api/v1/").json()
    expected = {resource_for(v.model).collection for v in VIEWSETS} | {
        "subscriptions", "search", "api-info", "schema", "docs", "redoc"}
    assert set(root) == expected
    for name, link in root.items():
        if name not in ("search", "subscriptions"):  # a query to give; a token to show
            assert client.get(link).status_code == 200, name


def _problems(writer, case_url, etag, monkeypatch):
    """One request for each error status the API answers with, and the path asked for."""
    anonymous = APIClient()
    void = m.Organisation.objects.filter(voided_at__isnull=True).first()
    yield 400, "/api/v1/cases/", anonymous.get("/api/v1/cases/", {"bogus": "1"})
    yield 401, "/api/v1/cases/", APIClient(HTTP_AUTHORIZATION="Token nonsense").get(
        "/api/v1/cases/")
    yield 401, "/api/v1/cases/", anonymous.post("/api/v1/cases/", {}, format="json")
    _, key = issue_token(name="Läsare", can_write=False)
    yield 403, "/api/v1/people/", APIClient(HTTP_AUTHORIZATION=f"Token {key}").post(
        "/api/v1/people/", {"name": "X"}, format="json")
    yield 404, "/api/v1/nowhere/", anonymous.get("/api/v1/nowhere/")
    missing = "/api/v1/cases/00000000-0000-0000-0000-000000000000/"
    yield 404, missing, anonymous.get(missing)
    yield 405, "/api/v1/api-info", writer.post("/api/v1/api-info", {}, format="json")
    yield 406, "/api/v1/cases/", anonymous.get("/api/v1/cases/", HTTP_ACCEPT="text/csv")
    yield 412, case_url, writer.patch(case_url, {"title": "Ny"}, format="json",
                                      HTTP_IF_MATCH='"999999-0000000000000000"')
    yield 428, case_url, writer.patch(case_url, {"title": "Ny"}, format="json")
    yield 415, case_url, writer.patch(case_url, "title=Ny", content_type="text/plain",
                                      HTTP_IF_MATCH=etag)
    org_url = f"/api/v1/organisations/{void.pk}/"
    writer.delete(f"{org_url}?reason=Profiltestet", HTTP_IF_MATCH=writer.get(org_url)["ETag"])
    yield 409, org_url, writer.patch(org_url, {"name": "Ny"}, format="json",
                                     HTTP_IF_MATCH=writer.get(org_url)["ETag"])
    yield 413, "/api/v1/people/", writer.post("/api/v1/people/", "x" * (2 * 2**20),
                                              content_type="application/json")
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "1/day"})
    throttled = APIClient(REMOTE_ADDR="192.0.2.77")
    statuses = [throttled.get("/api/v1/parties/").status_code for _ in range(2)]
    assert statuses == [200, 429]
    yield 429, "/api/v1/parties/", throttled.get("/api/v1/parties/")


@pytest.mark.django_db
def test_every_error_carries_type_title_status_detail_and_instance(writer, monkeypatch):
    """FEL.01, live: each error status the API answers with, provoked, carries all five
    members, ``instance`` being the path asked for."""
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    case_url = f"/api/v1/cases/{case.pk}/"
    statuses = []
    for status, path, response in _problems(writer, case_url, writer.get(case_url)["ETag"],
                                             monkeypatch):
        assert response.status_code == status, (status, response.content)
        assert response["Content-Type"] == PROBLEM, status
        body = response.json()
        assert {k: body[k] for k in ("type", "status", "instance")} == {
            "type": "about:blank", "status": status, "instance": path}, status
        assert body["title"] and body["detail"], status
        statuses.append(status)
    assert sorted(set(statuses)) == [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 428,
                                     429]


@pytest.mark.django_db
def test_keys_are_taken_as_bearer_tokens_and_never_by_basic_authentication():
    """SAK.09 (no Basic), SAK.10 (Authorization: Bearer) and SAK.15 (no key in the query)."""
    _, key = issue_token(name="Bärare", can_write=True)
    body = {"name": "Profil Bärarsson"}
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.post("/api/v1/people/", body, format="json").status_code == 201
    basic = APIClient(HTTP_AUTHORIZATION="Basic " + base64.b64encode(
        f"token:{key}".encode()).decode())
    assert basic.post("/api/v1/people/", body, format="json").status_code == 401
    assert APIClient().post(f"/api/v1/people/?token={key}", body,
                            format="json").status_code == 401
