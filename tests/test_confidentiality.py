"""Confidentiality (sekretess): a confidential case's protected details reach only those cleared.

A sentinel is planted in every protected field of a confidential case and of a confidential
document of it, and in the passages quoted from that document. Then every GET operation listed
in the committed openapi.yaml is walked (lists with every expand and with searches for the
secret, details, links, timeline, history, search) as an anonymous client and as a client
without clearance, and every changelist, change page, history page and search of the admin as a
staff user without the permission ``cases.view_confidential``: the sentinel never appears. A
cleared client and a superuser do see it, which proves the walk would notice a leak.

The walk is driven by openapi.yaml and the admin registry: a new GET operation or a new admin
is walked without changing this file.
"""

import datetime
import json
import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.fields import GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import DataError, IntegrityError, models, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from cases import models as m
from cases.admin.confidentiality import guard
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS
from cases.confidentiality import public_fields
from cases.context import Actor, acting_as
from cases.search import index_record
from cases.services.registration import register_case
from cases.services.tokens import issue_token

from .html_forms import form_data

pytestmark = pytest.mark.django_db

SENTINEL = "SENTINEL-7f3a"
HEX_SENTINEL = "5e7e" * 16  # for text fields that must be hexadecimal (a SHA-256)
SECRET_WORDS = ("Zyxbergsutredningen", "Qwopfastigheten")  # only in protected text
SECRETS = (SENTINEL, *SECRET_WORDS, HEX_SENTINEL)
# The text fields of the public registration entry (cases.confidentiality.PUBLIC): changing
# this set is a decision about what a reader without clearance sees, not a test detail.
PUBLIC_TEXT = {"public_title", "confidentiality_basis", "number"}
MISSPELT = "Zyxbergsutredningem"  # for the search's typo fallback
PUBLIC_WORD = "Lumpvik"  # in the public titles: a reader without clearance may search it
CASE_PUBLIC_TITLE = f"Ärende om bistånd i {PUBLIC_WORD}"
DOCUMENT_PUBLIC_TITLE = f"Tjänsteutlåtande om bistånd i {PUBLIC_WORD}"
BASIS = "OSL 26 kap. 1 §"
QUOTE = f"{SENTINEL} bor på Qwopfastigheten"
DOCUMENT_TEXT = (f"Tjänsteutlåtande {SENTINEL}.\nUtredningen visar att {QUOTE} sedan 2019.\n"
                 f"Förvaltningen föreslår {SENTINEL} bistånd.")
DOCUMENT_DATE = datetime.date(2026, 1, 15)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
API_ROOT = urlsplit(SCHEMA["servers"][0]["url"]).path  # /api/v1: the paths are under it
GET_OPERATIONS = {op["operationId"]: (API_ROOT + path, op)
                  for path, item in SCHEMA["paths"].items()
                  for method, op in item.items() if method == "get"}
# Paths that answer only a client system's own objects, never a register record (their
# messages carry no field values: tests/test_webhooks.py plants a secret and checks them).
OWN_ONLY = ("/api/v1/subscriptions/",)
WALKED_OPERATIONS = {name for name, (template, _) in GET_OPERATIONS.items()
                     if not (template.startswith(OWN_ONLY) and "{id}" in template)}
NOT_FREE_TEXT = {"expand", "cursor", "ordering", "page_size", "sync_token"}
EXPAND_DEPTH = 2
REGISTERED = [model for model in admin.site._registry if model._meta.app_label == "cases"]



# --- the planted secret ------------------------------------------------------------------


def _content_type(record):
    return ContentType.objects.get_for_model(record)


@pytest.fixture
def planted():
    """A confidential case with a confidential document, and every kind of record around
    them: registration number, activity, motion, referral with a consulted body and a
    response, decision with a point, signatory, attachment, links, passages quoting the
    document, an audit trail of several saves, and a fresh search index."""
    ks = m.Organisation.objects.get(short_name="KS", municipality__code="0180")
    other_body = m.Organisation.objects.exclude(pk=ks.pk).filter(
        municipality=ks.municipality).first()
    person = m.Person.objects.order_by("name").first()
    public_case = m.Case.objects.filter(confidential=False).order_by("created").first()
    # Another system subscribes to every change: each save below is also a webhook delivery,
    # whose admin pages (the message) are walked too.
    subscription = m.Subscription.objects.create(
        name="E-arkiv", secret="whsec_" + "A" * 44, callback_url="https://e-arkiv.example.se/")
    with acting_as(Actor(label="registrator", via="admin")):
        case = register_case(
            registering_organisation=ks, year=DOCUMENT_DATE.year, municipality=ks.municipality,
            responsible_organisation=ks, title=f"{SENTINEL} {' om '.join(SECRET_WORDS)}",
            description=f"Utredning av {SENTINEL} på Qwopfastigheten.", confidential=True,
            confidentiality_basis=BASIS, public_title=CASE_PUBLIC_TITLE)
        # The document is registered public, then found confidential: its early history
        # holds the secret with confidential=false.
        document = m.Document.objects.create(
            case=case, title=f"Tjänsteutlåtande {SENTINEL} om Zyxbergsutredningen",
            type=m.DocumentType.OFFICIAL_REPORT, direction=m.Direction.DRAWN_UP,
            date=DOCUMENT_DATE, author_organisation=ks, case_officer=person,
            text=DOCUMENT_TEXT)
        document.confidential = True
        document.confidentiality_basis = BASIS
        document.public_title = DOCUMENT_PUBLIC_TITLE
        document.save()
        case.status = m.CaseStatus.DECIDED
        case.save()
        case.description += f" Kompletterad med {SENTINEL}."
        case.save()
        activity = m.Activity.objects.create(case=case, type=m.ActivityType.OTHER,
                                             date=DOCUMENT_DATE, organisation=ks,
                                             description="Samråd hölls.")
        motion = m.Motion.objects.create(case=case, title="Motion om bänkar", addressed_to=ks,
                                         date=DOCUMENT_DATE)
        author = m.MotionAuthor.objects.create(motion=motion, position=1, person=person)
        proposal = m.MotionProposal.objects.create(motion=motion, number=1, text="Att bygga.")
        referral = m.Referral.objects.create(
            case=case, title="Remiss om utredningen", sender=ks, motion=motion,
            received_date=DOCUMENT_DATE, due_date=DOCUMENT_DATE + datetime.timedelta(days=30))
        consulted = m.ConsultedBody.objects.create(referral=referral, organisation=other_body,
                                                   response_status=m.ResponseStatus.RESPONDED)
        response = m.ReferralResponse.objects.create(
            referral=referral, organisation=other_body, document=document,
            date=DOCUMENT_DATE, position=m.ResponsePosition.SUPPORTS)
        decision = m.Decision.objects.create(case=case, kind=m.DecisionKind.DECIDED,
                                             organisation=ks, document=document,
                                             date=DOCUMENT_DATE)
        point = m.DecisionPoint.objects.create(decision=decision, number=1,
                                               text="Ärendet avslutas.")
        signatory = m.DocumentSignatory.objects.create(document=document, position=1,
                                                       person=person, title="Handläggare")
        attachment = m.DocumentAttachment.objects.create(document=document, position=1,
                                                         title="Bilaga 1", date=DOCUMENT_DATE)
        links = [
            m.Link.objects.create(source_type=_content_type(case), source_id=case.pk,
                                  type=m.LinkType.REFERS_TO,
                                  target_type=_content_type(public_case),
                                  target_id=public_case.pk),
            m.Link.objects.create(source_type=_content_type(document), source_id=document.pk,
                                  type=m.LinkType.PART_OF, target_type=_content_type(case),
                                  target_id=case.pk),
        ]
    m.DeliveryAttempt.objects.create(
        delivery=subscription.deliveries.filter(event__case_id=case.pk).first(),
        status_code=500, error="HTTP 500")
    public_record = m.Case.objects.filter(confidential=False).exclude(
        pk=public_case.pk).order_by("created").first()
    start = DOCUMENT_TEXT.index(QUOTE)
    passages = [
        m.Provenance.objects.create(
            content_type=_content_type(record), object_id=record.pk, document=document,
            exact=QUOTE, prefix=DOCUMENT_TEXT[max(0, start - 40):start],
            suffix=DOCUMENT_TEXT[start + len(QUOTE):start + len(QUOTE) + 40],
            start=start, end=start + len(QUOTE), note="Uppgiften om boendet.")
        for record in (case, document, decision, public_record)
    ]
    number = case.registration_numbers.get()
    records = [case, document, number, activity, motion, author, proposal, referral,
               consulted, response, decision, point, signatory, attachment, *links, *passages]
    with acting_as(Actor(label="registrator", via="admin")):
        planted_fields = plant(records)
    for record in (case, document, motion, decision):
        index_record(record)
    for record in records:
        record.refresh_from_db()
    # Every record around the case is withheld with it: none may be listed for a guess.
    return SimpleNamespace(case=case, document=document, number=number, records=records,
                           secret_ids={str(record.pk) for record in records},
                           core_ids={str(case.pk), str(document.pk)},
                           planted_fields=planted_fields, public_record=public_record,
                           public_passage=passages[-1])


def text_fields(model) -> list:
    """Every field of ``model`` that holds free text (not a choice among fixed values)."""
    return [f for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField))
            and not f.choices and not f.primary_key and not f.is_relation]


def plantable(model) -> set[str]:
    """The text fields the sentinel goes into: all but the public entry's (a title reads as
    the public title, so it is planted too)."""
    return {f.name for f in text_fields(model)
            if f.name not in public_fields(model) or f.name == "title"}


def reachable_models() -> set:
    """Every model that hangs off a case or a document, found by introspection: the parts
    pointing at them (and at their parts, and so on), the passages of any record
    (a generic relation) and links (which point at any record)."""
    found, frontier = set(), [m.Case, m.Document]
    while frontier:
        model = frontier.pop()
        if model in found:
            continue
        found.add(model)
        for relation in model._meta.get_fields():
            if isinstance(relation, GenericRelation) or (
                    relation.one_to_many and relation.auto_created):
                related = relation.related_model
                if related._meta.app_label == "cases" and related not in found:
                    frontier.append(related)
    return found | {m.Link}


def plant(records) -> dict:
    """The sentinel into every plantable text field of every record (saved one by one, so
    the audit trail holds it too); returns {model: names planted}."""
    planted: dict = {}
    for record in records:
        model = type(record)
        for field in text_fields(model):
            if field.name not in plantable(model):
                continue
            current = getattr(record, field.attname)
            if isinstance(current, str) and any(secret in current for secret in SECRETS):
                planted.setdefault(model, set()).add(field.name)  # holds a secret already
                continue
            for value in (f"{SENTINEL} {field.name} {record.pk}", HEX_SENTINEL):
                value = value[:field.max_length] if field.max_length else value
                setattr(record, field.attname, value)
                try:
                    with transaction.atomic():
                        record.save()
                except (IntegrityError, DataError):
                    setattr(record, field.attname, current)
                    continue
                planted.setdefault(model, set()).add(field.name)
                break
    return planted


def related_records(model, planted, limit=10) -> list:
    """Records of ``model`` around the planted secret: planted ones, ones they refer to, ones
    that refer to them by id (audit entries, links, passages); else any record."""
    found = [r for r in planted.records if type(r) is model]
    for record in planted.records:
        for field in record._meta.concrete_fields:
            if field.many_to_one and field.related_model is model:
                value = getattr(record, field.name)
                if value is not None:
                    found.append(value)
    ids = [r.pk for r in planted.records]
    for field in model._meta.concrete_fields:
        if isinstance(field, models.UUIDField) and not field.primary_key:
            rows = model.objects.filter(**{f"{field.name}__in": ids})
            # Rows about the case and the document themselves first (their audit entries).
            found += list(rows.filter(**{f"{field.name}__in": planted.core_ids})[:limit])
            found += list(rows[:limit])
    if not found:
        found = list(model.objects.all()[:1])
    unique = {record.pk: record for record in found}
    return list(unique.values())[:limit]


def assert_secret_absent(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: {where}\n{_around(text, secret)}"


def _around(text: str, secret: str, width: int = 300) -> str:
    at = text.find(secret)
    return text[max(0, at - width):at + width]


# --- the API: every GET operation of openapi.yaml ----------------------------------------


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _refs(schema: dict) -> list[str]:
    """Record components (objects, not enums) a property's schema points to (through oneOf,
    allOf and items)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [name] if "properties" in SCHEMA["components"]["schemas"][name] else []
    names = []
    for key in ("oneOf", "allOf", "anyOf"):
        for option in schema.get(key, []):
            names += _refs(option)
    if "items" in schema:
        names += _refs(schema["items"])
    return names


def _expandable(component: str) -> dict[str, str]:
    """Expandable properties of a component (related records, embedded parts) and the
    component each expands to."""
    result = {}
    for name, prop in _resolve({"$ref": f"#/components/schemas/{component}"}).get(
            "properties", {}).items():
        related = "oneOf" in prop or "oneOf" in prop.get("items", {})
        part = "$ref" in prop.get("items", {})
        if (related or part) and _refs(prop):
            result[name] = _refs(prop)[0]
    return result


def _record_component(op) -> str | None:
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    resolved = _resolve(schema)
    if "results" in resolved.get("properties", {}):
        refs = _refs(resolved["properties"]["results"])
        return refs[0] if refs else None
    refs = _refs(schema)
    return refs[0] if refs else None


def expand_paths(op) -> list[str]:
    """Every expandable field the operation's ``expand`` parameter lists, and (from the
    schema) the fields those expand to, down to EXPAND_DEPTH."""
    param = next((p for p in op.get("parameters", []) if p["name"] == "expand"), None)
    if param is None:
        return []
    listed = param["description"].split("Expandable here:")[1]
    top = [name.strip() for name in listed.strip().rstrip(".").split(",") if name.strip()]
    component = _record_component(op)
    paths, frontier = list(top), [(name, _expandable(component).get(name)) for name in top]
    for _depth in range(1, EXPAND_DEPTH):
        deeper = []
        for path, child in frontier:
            for name, grandchild in (_expandable(child) if child else {}).items():
                paths.append(f"{path}.{name}")
                deeper.append((f"{path}.{name}", grandchild))
        frontier = deeper
    return paths


def _free_text(param) -> bool:
    schema = param.get("schema", {})
    return (param["in"] == "query" and param["name"] not in NOT_FREE_TEXT
            and schema.get("type", "string") == "string" and "enum" not in schema
            and "format" not in schema)


def _collection_model(path: str):
    segment = path.removeprefix("/api/v1/").split("/")[0]
    return next((v.model for v in VIEWSETS if resource_for(v.model).collection == segment),
                None)


def api_requests(planted):
    """(operation id, path, query, varied parameter) for every GET operation in openapi.yaml:
    details with the ids of records around the planted secret; lists in full (every expand,
    newest first, and restricted to those records); every free-text parameter given each
    secret word."""
    for operation_id, (template, op) in GET_OPERATIONS.items():
        if template.startswith(OWN_ONLY) and "{id}" in template:
            continue  # a client's own webhook subscriptions: no register record has that id
        params = op.get("parameters", [])
        path_params = {p["name"] for p in params if p["in"] == "path"}
        if path_params - {"id"}:
            pytest.fail(f"{operation_id}: the walk has no value for path parameters "
                        f"{sorted(path_params - {'id'})}")
        query_params = {p["name"]: p for p in params if p["in"] == "query"}
        free_text = [n for n, p in query_params.items() if _free_text(p)]
        required = [n for n, p in query_params.items() if p.get("required")]
        if set(required) - set(free_text):
            pytest.fail(f"{operation_id}: the walk cannot fill the required parameters "
                        f"{sorted(set(required) - set(free_text))}")
        model = _collection_model(template)
        base = dict.fromkeys(required, PUBLIC_WORD)
        if "expand" in query_params:
            base["expand"] = ",".join(expand_paths(op))
        if "-created" in query_params.get("ordering", {}).get("schema", {}).get("enum", []):
            base["ordering"] = "-created"
        variants = [(base, None)]
        if "id" in query_params and model is not None:
            ids = ",".join(str(r.pk) for r in related_records(model, planted))
            variants.append(({**base, "id": ids}, None))
        variants += [({**base, name: value}, name)
                     for name in free_text for value in (*SECRETS, MISSPELT, PUBLIC_WORD)]
        if "{id}" in template:
            if model is None:
                pytest.fail(f"{operation_id}: no collection for {template}")
            records = related_records(model, planted)
            assert records, f"{operation_id}: no {model.__name__} to walk"
            for record in records:
                for query, varied in variants:
                    yield operation_id, template.replace("{id}", str(record.pk)), query, varied
        else:
            for query, varied in variants:
                yield operation_id, template, query, varied


def _without_echo(data, query: dict):
    """The response without the parts that only echo the request (search's ``q``, page
    links carrying the query string)."""
    if not isinstance(data, dict):
        return data
    sent = [v for v in query.values() if isinstance(v, str) and v]
    echoed = {key for key, value in data.items() if isinstance(value, str) and (
        value in sent or value.startswith("http") and any(
            quote(v) in value or v in unquote(value) for v in sent))}
    return {key: value for key, value in data.items() if key not in echoed}


def _result_ids(data) -> set[str]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return {str(item.get("id")) for item in data["results"] if isinstance(item, dict)}
    return set()


def token_client(name: str, *, cleared: bool) -> APIClient:
    _, key = issue_token(name=name, cleared=cleared)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


READERS = {
    "anonymous": lambda: APIClient(),
    "uncleared token": lambda: token_client("Webbdiarium", cleared=False),
}


def walk_api(client, planted, *, anonymous: bool):
    """Call every request of the walk; return (operation ids walked, failures, responses)."""
    walked, failures, responses = set(), [], []
    for operation_id, path, query, varied in api_requests(planted):
        op = GET_OPERATIONS[operation_id][1]
        response = client.get(path, query)
        walked.add(operation_id)
        shown = {k: (v if k != "expand" else f"<{len(v.split(','))} paths>")
                 for k, v in query.items()}
        where = f"{operation_id} GET {path}?{shown}"
        needs_login = anonymous and {} not in op.get("security", [{}])  # no anonymous option
        expected = (401, 403) if needs_login else (200,)
        if response.status_code == 400 and varied and {
                p["name"] for p in response.json().get("invalid_params", [])} == {varied}:
            continue  # the value was refused (e.g. not a collection name): nothing listed
        if response.status_code not in expected:
            failures.append(f"{where}: status {response.status_code} (expected {expected}): "
                            f"{response.content[:300]!r}")
            continue
        text = json.dumps(_without_echo(response.json(), query), ensure_ascii=False)
        for secret in SECRETS:
            if secret in text or secret in unquote(text):
                failures.append(f"{where}: body leaks {secret!r}: {_around(text, secret)}")
        for header, value in response.headers.items():
            if any(secret in value for secret in SECRETS):
                failures.append(f"{where}: header {header} leaks: {value}")
        responses.append((operation_id, path, query, response))
    return walked, failures, responses


@pytest.mark.parametrize("reader", READERS)
def test_the_sentinel_never_reaches_a_reader_without_clearance(planted, reader):
    walked, failures, _ = walk_api(READERS[reader](), planted, anonymous=reader == "anonymous")
    assert walked == WALKED_OPERATIONS, f"not walked: {WALKED_OPERATIONS - walked}"
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("reader", READERS)
def test_the_public_registration_entry_stays_visible(planted, reader):
    client = READERS[reader]()
    case = client.get(f"/api/v1/cases/{planted.case.pk}/").json()
    assert case["title"] == case["public_title"] == CASE_PUBLIC_TITLE
    assert case["confidential"] is True and case["confidentiality_basis"] == BASIS
    assert case["description"] is None
    assert [n["number"] for n in case["registration_numbers"]] == [planted.number.number]
    assert case["created"] and case["modified"] and case["status"] == "decided"
    document = client.get(f"/api/v1/documents/{planted.document.pk}/").json()
    assert document["title"] == document["public_title"] == DOCUMENT_PUBLIC_TITLE
    assert document["date"] == DOCUMENT_DATE.isoformat() and document["text"] is None
    assert document["case"]["display"] == CASE_PUBLIC_TITLE

    listed = client.get("/api/v1/cases/", {"registration_number": planted.number.number}).json()
    assert [r["id"] for r in listed["results"]] == [str(planted.case.pk)]
    timeline = client.get(f"/api/v1/cases/{planted.case.pk}/timeline/").json()
    assert any(DOCUMENT_PUBLIC_TITLE in event["title"] for event in timeline)
    hits = client.get("/api/v1/search/", {"q": PUBLIC_WORD}).json()["results"]
    assert {str(planted.case.pk), str(planted.document.pk)} <= {hit["id"] for hit in hits}
    passages = client.get(f"/api/v1/cases/{planted.case.pk}/", {"expand": "sources"}).json()
    assert passages["sources"] == []  # not part of the registration entry
    public = client.get(f"/api/v1/cases/{planted.public_record.pk}/",
                        {"expand": "sources"}).json()
    quoted = next(p for p in public["sources"] if p["id"] == str(planted.public_passage.pk))
    assert quoted["document"]["display"] == DOCUMENT_PUBLIC_TITLE  # the passage's own entry
    assert quoted["exact"] is quoted["note"] is quoted["prefix"] is None
    motion = client.get("/api/v1/motions/", {"case": str(planted.case.pk)}).json()["results"]
    assert motion and motion[0]["title"] is None and motion[0]["authors"] == []
    assert motion[0]["date"] == DOCUMENT_DATE.isoformat()  # the public entry stays


def test_history_needs_authentication(planted):
    for collection, record in (("cases", planted.case), ("documents", planted.document)):
        response = APIClient().get(f"/api/v1/{collection}/{record.pk}/history/")
        assert response.status_code in (401, 403)
        assert_secret_absent(response.content.decode(), f"anonymous {collection} history")
    history = [entry for entry in token_client("Webbdiarium", cleared=False).get(
        f"/api/v1/documents/{planted.document.pk}/history/").json()
        if entry["record"]["id"] == str(planted.document.pk)]  # not its parts' entries
    assert len(history) >= 2  # created public, then made confidential: both masked
    assert history[0]["after"]["confidential"] is False
    assert history[0]["after"]["text"] is None
    assert history[-1]["after"]["title"] == DOCUMENT_PUBLIC_TITLE


def test_a_cleared_client_sees_the_protected_details(planted):
    """The walk can detect the sentinel: a cleared client gets it on every door."""
    client = token_client("Ärendesystem", cleared=True)
    case_url, document_url = (f"/api/v1/cases/{planted.case.pk}/",
                              f"/api/v1/documents/{planted.document.pk}/")
    for url, query in ((case_url, {}), (document_url, {}), (case_url + "history/", {}),
                       (document_url + "history/", {}), (case_url + "timeline/", {}),
                       (case_url, {"expand": "sources,documents"}),
                       ("/api/v1/cases/", {"ordering": "-created"})):
        response = client.get(url, query)
        assert response.status_code == 200
        assert SENTINEL in response.content.decode(), f"{url} {query}"
    case = client.get(case_url).json()
    assert case["title"] == planted.case.title and case["description"] == planted.case.description
    document = client.get(document_url).json()
    assert document["text"] == DOCUMENT_TEXT


def test_the_walk_finds_the_sentinel_for_a_cleared_client(planted):
    """The walk reaches the secret: with clearance it shows up on details, lists (through
    expand), history and the timeline, so its absence above means it was masked."""
    _, found, _ = walk_api(token_client("Ärendesystem", cleared=True), planted,
                           anonymous=False)
    detected = {failure.split(" ")[0] for failure in found}
    assert {"cases_retrieve", "cases_list", "cases_history_list", "cases_timeline",
            "documents_retrieve", "documents_list", "documents_history_list",
            "decisions_list", "referral_responses_list", "activities_list"} <= detected


@pytest.mark.parametrize("collection", ["cases", "documents"])
def test_a_writer_without_clearance_cannot_declassify(planted, collection):
    _, key = issue_token(name="Ärendesystem", can_write=True, cleared=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    record = planted.case if collection == "cases" else planted.document
    url = f"/api/v1/{collection}/{record.pk}/"
    response = client.patch(url, {"confidential": False}, format="json",
                            HTTP_IF_MATCH=client.get(url)["ETag"])
    assert_secret_absent(response.content.decode(), f"PATCH {url} confidential=false")
    assert_secret_absent(client.get(url).content.decode(), f"GET {url} after the PATCH")
    assert type(record).objects.get(pk=record.pk).confidential is True


def _filter_cases():
    for operation_id, (template, op) in GET_OPERATIONS.items():
        if "{id}" in template:
            continue
        for param in op.get("parameters", []):
            if _free_text(param):
                yield pytest.param(operation_id, param["name"],
                                   id=f"{operation_id}-{param['name']}")


@pytest.mark.parametrize(("operation_id", "param"), list(_filter_cases()))
def test_no_filter_or_search_matches_withheld_text(planted, operation_id, param):
    """Listing the record when asked for a secret word would confirm the guess."""
    template, op = GET_OPERATIONS[operation_id]
    required = {p["name"]: PUBLIC_WORD for p in op.get("parameters", []) if p.get("required")}
    for reader, make in READERS.items():
        client = make()
        for secret in (*SECRETS, MISSPELT):
            response = client.get(template, {**required, param: secret})
            if response.status_code == 400 and [
                    p["name"] for p in response.json()["invalid_params"]] == [param]:
                continue  # the value was refused: nothing listed
            assert response.status_code == 200, response.content[:300]
            found = _result_ids(response.json()) & planted.secret_ids
            assert not found, f"{reader}: {param}={secret!r} lists the confidential {found}"


def test_the_sentinel_is_planted_in_every_text_field_found_by_introspection(planted):
    """A text field added to any model around a case or document is planted (and so
    walked) without anyone editing this file: the planted fields are compared with the
    models' own fields. Only the public entry's text fields are left out."""
    reachable = reachable_models()
    assert {m.Case, m.Document, m.RegistrationNumber, m.Activity, m.Motion, m.MotionAuthor,
            m.MotionProposal, m.Referral, m.ConsultedBody, m.ReferralResponse, m.Decision,
            m.DecisionPoint, m.DocumentSignatory, m.DocumentAttachment, m.Provenance,
            m.Link} <= reachable
    walked = {type(record) for record in planted.records}
    assert reachable <= walked, f"no planted record of {reachable - walked}"
    # From the models' own fields, not from the application's allow-list: every text
    # field but the public entry's few.
    expected = {model: {f.name for f in text_fields(model)} - PUBLIC_TEXT
                for model in reachable}
    expected = {model: names for model, names in expected.items() if names}
    assert planted.planted_fields == expected
    assert all(plantable(model) == names for model, names in expected.items())
    covered = sum(len(names) for names in planted.planted_fields.values())
    print(f"\nintrospected sentinel walk: {covered} text fields of {len(expected)} models")
    assert covered >= 40


def test_a_cleared_user_may_mark_a_record_of_a_confidential_case_public(planted, client):
    """A motion of a confidential case is withheld with it, until someone cleared marks it
    public: a writer without clearance may not (API), nor staff without clearance (admin)."""
    motion = next(r for r in planted.records if isinstance(r, m.Motion))
    url = f"/api/v1/motions/{motion.pk}/"
    assert APIClient().get(url).json()["title"] is None
    _, key = issue_token(name="Skrivare", can_write=True, cleared=False)
    writer = APIClient()
    writer.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = writer.patch(url, {"marked_public": True}, format="json",
                           HTTP_IF_MATCH=writer.get(url)["ETag"])
    assert refused.status_code == 403
    page = _page(login_staff(client).get(_admin_url(m.Motion, "change", motion.pk)))
    assert 'name="marked_public"' not in page and SENTINEL not in page
    _, key = issue_token(name="Sekretessbehörig", can_write=True, cleared=True)
    cleared = APIClient()
    cleared.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    done = cleared.patch(url, {"marked_public": True}, format="json",
                         HTTP_IF_MATCH=cleared.get(url)["ETag"])
    assert done.status_code == 200, done.content
    shown = APIClient().get(url).json()
    assert shown["title"] == motion.title and shown["marked_public"] is True
    assert APIClient().get(f"/api/v1/cases/{planted.case.pk}/").json()["description"] is None


def test_the_walk_covers_every_get_operation_and_expands_deep(planted):
    requests = list(api_requests(planted))
    assert {operation_id for operation_id, *_ in requests} == WALKED_OPERATIONS
    cases = next(q for o, _, q, _ in requests if o == "cases_list")["expand"]
    assert {"documents", "documents.sources", "sources.document"} <= set(cases.split(","))
    search = [q for o, _, q, _ in requests if o == "search"]
    assert {"q": SENTINEL} in search and {"q": SECRET_WORDS[0]} in search


# --- the admin ---------------------------------------------------------------------------


def _admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def login_staff(client, *, may_change=True):
    """A staff user who may view (and change) every model of the register, but not see
    confidential details."""
    user = User.objects.create_user("handlaggare", password="x-" * 8, is_staff=True)
    pattern = r"^(view|change)_" if may_change else r"^view_"
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="cases", codename__regex=pattern).exclude(
        codename="view_confidential"))
    client.force_login(user)
    return client


@pytest.fixture
def uncleared_staff(client):
    return login_staff(client)


def _page(response) -> str:
    return response.content.decode()


def _without_search_echo(html: str, term: str) -> str:
    """The page without the places that only echo the search term (the search box, links
    that keep the query)."""
    html = html.replace(f'value="{term}"', "")
    return re.sub(r"q=[^&\"'\s]*", "q=", html)


def walk_admin(client, model, planted) -> list[str]:
    """Open the model's changelist (plain and searched for each secret), and the change and
    history pages of records around the planted secret; return where a secret showed."""
    found = []

    def check(text, where):
        found.extend(f"{secret!r} on {where}: {_around(text, secret, 150)}"
                     for secret in SECRETS if secret in text)

    changelist = client.get(_admin_url(model, "changelist"))
    assert changelist.status_code == 200, f"{model.__name__} changelist"
    check(_page(changelist), f"{model.__name__} changelist")
    if admin.site._registry[model].search_fields:
        for term in SECRETS:
            response = client.get(_admin_url(model, "changelist"), {"q": term})
            assert response.status_code == 200
            for row in response.context["cl"].result_list:
                found.append(f"{model.__name__} search {term!r} matches {row.pk}")
            check(_without_search_echo(_page(response), term),
                  f"{model.__name__} search {term!r}")
    records = related_records(model, planted)
    assert records, f"no {model.__name__} to open"
    for record in records:
        for view in ("change", "history"):
            response = client.get(_admin_url(model, view, record.pk))
            assert response.status_code == 200, f"{model.__name__} {view} {record.pk}"
            check(_page(response), f"{model.__name__} {view} page of {record.pk}")
        case_id = record.pk if model is m.Case else getattr(record, "case_id", None)
        if case_id:  # the case's story: timeline, links, passages and every change
            response = client.get(_admin_url(m.Case, "story", case_id))
            assert response.status_code == 200, f"story of {case_id}"
            check(_page(response), f"story of the case of {model.__name__} {record.pk}")
    if model is m.Case:
        check(_page(client.get("/admin/oversikt/")), "the morning overview")
        for term in SECRETS:
            answer = client.get("/admin/cases/link/targets/", {"term": term})
            if answer.status_code == 200:
                check(answer.content.decode(), f"link targets for {term!r}")
    return found


@pytest.mark.parametrize("may_change", [True, False], ids=["view+change", "view only"])
@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model.__name__)
def test_the_admin_never_shows_the_sentinel_to_staff_without_clearance(
        planted, client, model, may_change):
    uncleared_staff = login_staff(client, may_change=may_change)
    issue_token(name="E-arkiv")
    found = walk_admin(uncleared_staff, model, planted)
    assert not found, "\n".join(found)
    changelist = _page(uncleared_staff.get(_admin_url(model, "changelist")))
    if model is m.Case:
        assert CASE_PUBLIC_TITLE in changelist
    if model is m.Document:
        assert DOCUMENT_PUBLIC_TITLE in changelist


def test_the_admin_walk_finds_the_sentinel_for_a_superuser(planted, client):
    """The admin walk reaches the secret: a superuser meets it on these models' pages."""
    client.force_login(User.objects.create_superuser("registrator", password="x-" * 8))
    issue_token(name="E-arkiv")
    detected = {model for model in REGISTERED if walk_admin(client, model, planted)}
    assert {m.Case, m.Document, m.Provenance, m.AuditEntry, m.RegistrationNumber, m.Activity,
            m.Decision, m.DocumentSignatory, m.DocumentAttachment, m.Link, m.Motion,
            m.Referral, m.ReferralResponse} <= detected


def test_the_admin_shows_the_registration_entry_and_masks_the_rest(planted, uncleared_staff):
    case_page = _page(uncleared_staff.get(_admin_url(m.Case, "change", planted.case.pk)))
    assert CASE_PUBLIC_TITLE in case_page and BASIS in case_page
    assert planted.number.number in case_page
    assert DOCUMENT_PUBLIC_TITLE in case_page  # the documents inline
    assert 'name="title"' not in case_page and 'name="description"' not in case_page
    assert 'name="confidential"' not in case_page  # declassifying needs clearance
    assert 'name="status"' in case_page  # the rest stays editable
    document_page = _page(uncleared_staff.get(
        _admin_url(m.Document, "change", planted.document.pk)))
    assert 'name="text"' not in document_page and DOCUMENT_PUBLIC_TITLE in document_page
    # Its parts are withheld with it (the signatory's title, the attachment's title).
    parts = [r for r in planted.records
             if isinstance(r, (m.DocumentSignatory, m.DocumentAttachment))]
    assert all(part.title not in document_page for part in parts)
    assert "Undantaget: sekretess" in document_page
    search = uncleared_staff.get(_admin_url(m.Case, "changelist"), {"q": PUBLIC_WORD})
    assert planted.case in search.context["cl"].result_list  # by its public title
    by_number = uncleared_staff.get(_admin_url(m.Case, "changelist"),
                                    {"q": planted.number.number})
    assert list(by_number.context["cl"].result_list) == [planted.case]
    public = m.Case.objects.filter(confidential=False).first()
    word = public.title.split()[0]
    found = uncleared_staff.get(_admin_url(m.Case, "changelist"), {"q": word})
    assert public in found.context["cl"].result_list  # other cases still searched by title


def _text_paths(model):
    """Lookup paths to every text field of ``model`` and of the records and parts it
    relates to (a document's attachments' titles, a motion's authors' ...), by
    introspection."""
    reachable = reachable_models()
    paths = [f.name for f in text_fields(model)]
    for relation in model._meta.get_fields():
        related = relation.related_model
        if (relation.is_relation and related in reachable and related is not model
                and not isinstance(relation, GenericRelation)
                and (relation.many_to_one or relation.one_to_many)):
            paths += [f"{relation.name}__{f.name}" for f in text_fields(related)]
    return paths


def test_the_admin_refuses_filtering_by_withheld_fields(planted, uncleared_staff, client):
    """No changelist lookup over a withheld field, the record's own or a part's
    (``?attachments__title__icontains=``), lists a record for a guessed word."""
    checked = 0
    for model in REGISTERED:
        for field in guard(model)[0]:
            url = _admin_url(model, "changelist")
            response = uncleared_staff.get(url, {f"{field}__icontains": SENTINEL})
            assert response.status_code == 400, f"{model.__name__}.{field}"
            checked += 1
        for path in _text_paths(model):
            response = uncleared_staff.get(_admin_url(model, "changelist"),
                                           {f"{path}__icontains": SENTINEL})
            assert response.status_code == 400 or not list(
                response.context["cl"].result_list), f"{model.__name__} ?{path}__icontains"
            checked += 1
    assert checked >= 100
    client.force_login(User.objects.create_superuser("registrator", password="x-" * 8))
    response = client.get(_admin_url(m.Case, "changelist"), {"title__icontains": SENTINEL})
    assert list(response.context["cl"].result_list) == [planted.case]


def test_admin_autocomplete_names_confidential_records_by_public_title(
        planted, uncleared_staff):
    checked = set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "cases":
            continue
        admins = [model_admin, *(inline(model, admin.site) for inline in model_admin.inlines)]
        for source in admins:
            for field_name in source.autocomplete_fields:
                remote = source.model._meta.get_field(field_name).related_model
                if remote not in (m.Case, m.Document):
                    continue
                query = {"app_label": "cases", "model_name": source.model._meta.model_name,
                         "field_name": field_name}
                for term in ("", *SECRETS, PUBLIC_WORD):
                    response = uncleared_staff.get(reverse("admin:autocomplete"),
                                                   {**query, "term": term})
                    assert response.status_code == 200, (source, field_name, term)
                    assert_secret_absent(_page(response), f"autocomplete {query} {term!r}")
                    results = {r["id"]: r["text"] for r in response.json()["results"]}
                    if term in SECRETS:
                        assert not set(results) & planted.secret_ids, (query, term)
                    if term == PUBLIC_WORD:
                        secret = planted.case if remote is m.Case else planted.document
                        assert results[str(secret.pk)] == secret.public_title
                checked.add(remote)
    assert checked == {m.Case, m.Document}


def test_staff_without_clearance_can_edit_the_rest_without_seeing_or_losing_the_secret(
        planted, uncleared_staff):
    for record, changes in ((planted.case, {"status": "closed"}),
                            (planted.document, {"direction": "dispatched"})):
        model = type(record)
        url = _admin_url(model, "change", record.pk)
        data = form_data(_page(uncleared_staff.get(url)))
        data.update(changes)
        data.update(title="Utbytt", text="Utbytt", description="Utbytt")  # ignored: read-only
        data.pop("confidential", None)  # unticked: also ignored
        response = uncleared_staff.post(url, data, follow=True)
        assert response.status_code == 200
        assert response.redirect_chain, _page(response)[:3000]
        assert_secret_absent(_page(response), f"after saving {model.__name__}")
        saved = model.objects.get(pk=record.pk)
        for field, value in changes.items():
            assert getattr(saved, field) == value
        for field in plantable(model):
            assert getattr(saved, field) == getattr(record, field)
        assert saved.confidential is True
    assert_secret_absent(_page(uncleared_staff.get(reverse("admin:index"))), "recent actions")
    assert_secret_absent(_page(uncleared_staff.get(reverse("admin:app_list", args=["cases"]))),
                         "app index")
    for entry in LogEntry.objects.all():
        assert_secret_absent(entry.object_repr, "admin log")


@pytest.mark.parametrize("who", ["superuser", "staff with view_confidential"])
def test_cleared_admin_users_see_the_protected_details(planted, client, who):
    """The admin walk can detect the sentinel: those cleared see it."""
    if who == "superuser":
        user = User.objects.create_superuser("registrator", password="x-" * 8)
    else:
        user = User.objects.create_user("sekretessgranskare", password="x-" * 8,
                                        is_staff=True)
        user.user_permissions.set(Permission.objects.filter(
            content_type__app_label="cases", codename__regex=r"^(view|change)_"))
    client.force_login(user)
    page = _page(client.get(_admin_url(m.Case, "change", planted.case.pk)))
    assert SENTINEL in page and 'name="title"' in page
    assert SENTINEL in _page(client.get(_admin_url(m.Document, "change",
                                                   planted.document.pk)))
    search = client.get(_admin_url(m.Case, "changelist"), {"q": SENTINEL})
    assert list(search.context["cl"].result_list) == [planted.case]
    entry = m.AuditEntry.objects.filter(object_id=planted.case.pk).first()
    assert SENTINEL in _page(client.get(_admin_url(m.AuditEntry, "change", entry.pk)))
    passage = planted.records[-1]
    assert SENTINEL in _page(client.get(_admin_url(m.Provenance, "change", passage.pk)))



