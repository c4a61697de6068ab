"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The register's records are data, not schema: a create body must name live records (a
document's case, the organisation whose series numbers a case ...), which the schema can type
(uuid) but not list. Schemathesis generates well-formed random ids, which the service rightly
refuses (400: no live record with this id). So before each request, an id in a reference
field that names no live record of the field's collection is replaced by one that does: the
seed records (given by the test in SCHEMATHESIS_REGISTER) and the records the run itself
created (201 answers), less those it voided. Only well-formed ids are replaced: a negative
test case's malformed id stays as generated and must still be refused.

Rules between fields that the schema cannot state (JSON Schema cannot compare two fields, and
a partial update is checked together with the stored record) are made to hold the same way,
on positive data only: a referral's due date is not before its received date, a decision's
follow-up date comes with its precision, a new case's year is at most next year (the
register refuses to open next decade's series; a static schema cannot name the current
year), and a case is not closed before it was registered by a record not its own (the
closed date and closing record are left to the register here: the run cannot tell a stored
case's registered date or decisions).
"""

import datetime
import json
import os
import re
import uuid

import schemathesis

REGISTER = json.loads(open(os.environ["SCHEMATHESIS_REGISTER"], encoding="utf-8").read())
LIVE: dict[str, set[str]] = {name: set(ids) for name, ids in REGISTER["live"].items()}
FIELDS: dict[str, str] = REGISTER["fields"]  # body field -> collection it refers to
SERIES: list[str] = REGISTER["series"]  # organisations with a series of their own
MODEL_COLLECTION: dict[str, str] = REGISTER["models"]  # model name -> collection
MAX_OFFSET: int = REGISTER["max_offset"]  # how deep pages by number reach
UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
COLLECTION_PATH = re.compile(r"^/([a-z-]+)/(?:\{id\}/)?$")  # relative to the server, /api/v1


def _positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode.is_positive


def _live_id(collection: str, value, pick: list[str], positive: bool = False):
    if isinstance(value, str) and not UUID.match(value) and positive and pick:
        return pick[0]  # a natural key ("KS") the schema allows, naming no record here
    if not isinstance(value, str) or not UUID.match(value):
        return value  # malformed on purpose (negative data) or null: left alone
    if value.lower() in LIVE.get(collection, ()):
        return value
    return pick[0] if pick else value


def _collection(case) -> str | None:
    match = COLLECTION_PATH.match(case.path)
    return match.group(1) if match else None


def _page_by_number(query: dict) -> None:
    """What the paging parameters' descriptions say and a schema cannot: page or offset, not
    both, not beside a cursor or sync token (which name the position), and no deeper than
    MAX_OFFSET records (pages by number)."""
    if query.get("cursor") or "sync_token" in query:
        query.pop("page", None)
        query.pop("offset", None)
    if "page" in query and "offset" in query:
        query.pop("offset")
    page = query.get("page")
    if isinstance(page, int) and not isinstance(page, bool) and page > 1:
        size = next((v for v in (query.get("page_size"), query.get("limit"))
                     if isinstance(v, int) and not isinstance(v, bool) and v >= 1), 20)
        query["page"] = min(page, 1 + MAX_OFFSET // size)


@schemathesis.hook
def before_call(context, case, kwargs):
    query = case.query
    if isinstance(query, dict) and "sync_token" in query and _positive(case):
        # A sync token is a point this database handed out (0: the first walk); the feed has
        # its own order and positions, so ordering and a list's cursor go without it.
        query["sync_token"] = "0"
        query.pop("ordering", None)
        query.pop("cursor", None)
    if isinstance(query, dict) and _positive(case):
        _page_by_number(query)
    body = case.body
    if case.method not in ("POST", "PUT", "PATCH") or not isinstance(body, dict):
        return
    positive = _positive(case)
    if positive and case.path.startswith("/subscriptions/") and "callback_url" in body:
        # A public name that does not resolve here (no DNS in the test): accepted at save,
        # checked again at delivery; a generated one may name this very machine.
        body["callback_url"] = "https://receiver.invalid/hooks"
    _references(body, positive)
    for name, items in list(body.items()):  # a record's parts, nested in its body
        if positive and isinstance(items, list) and items and all(
                isinstance(item, dict) for item in items):
            body[name] = [_one_part(name, items[0])]
        for item in body[name] if isinstance(body[name], list) else ():
            if isinstance(item, dict):
                _references(item, positive)
    for side in ("source", "target"):  # a link's ends: a live record of the stated type
        collection = MODEL_COLLECTION.get(str(body.get(f"{side}_type")))
        if collection and f"{side}_id" in body:
            others = [pk for pk in sorted(LIVE[collection]) if pk != body.get("source_id")]
            body[f"{side}_id"] = _live_id(collection, body[f"{side}_id"], others)
    if not positive:
        return
    due, precision = "follow_up_due", "follow_up_due_precision"
    if due in body or precision in body:  # a date and its precision come together
        if body.get(due) is None:
            body[due], body[precision] = None, ""
        elif not body.get(precision):
            body[precision] = "day"
    if isinstance(body.get("year"), int) and body["year"] > datetime.date.today().year + 1:
        body["year"] = datetime.date.today().year
    for date in ("started", "ended"):  # a collaboration model's dates and their precision
        if f"{date}_precision" in body or date in body:
            if body.get(date) is None:
                body[date], body[f"{date}_precision"] = None, ""
            elif not body.get(f"{date}_precision"):
                body[f"{date}_precision"] = "day"
    started, ended = body.get("started"), body.get("ended")
    if isinstance(started, str) and isinstance(ended, str) and ended < started:
        body["ended"] = started
    received, due = body.get("received_date"), body.get("due_date")
    if isinstance(received, str) and isinstance(due, str) and due < received:
        body["due_date"] = received
    if case.path.startswith("/cases/"):
        # The stored case's registered date is unknown here: a closed date is left to the
        # register (the day of closing), and a registered date is not after today.
        for dated in ("closed_by_decision", "closed_by_document", "closed"):
            if dated in body:
                body[dated] = None
        today = datetime.date.today().isoformat()
        if isinstance(body.get("registered"), str) and body["registered"] > today:
            body["registered"] = today


def _references(body: dict, positive: bool) -> None:
    for field, collection in FIELDS.items():
        if field in body:
            pick = SERIES if field == "registering_organisation" else sorted(LIVE[collection])
            if isinstance(body[field], list):  # several references (a subscription's filters)
                values = [_live_id(collection, value, pick, positive) for value in body[field]]
                if all(isinstance(value, str) for value in values):
                    values = list(dict.fromkeys(values))
                body[field] = values
            else:
                body[field] = _live_id(collection, body[field], pick, positive)


def _one_part(relation: str, item: dict) -> dict:
    """One new part, for positive data: a list is the record's full set, so two items may
    not share a place (a position, a person), which the schema cannot state; an ``id``
    must name a live part of this very record, which the schema cannot know. And a part
    must be somewhere: a usage needs a municipality, a body or a place; a consulted body an
    organisation or its name as written."""
    item = {key: value for key, value in item.items() if key != "id"}
    if relation == "usages" and not (item.get("municipality") or item.get("organisation")
                                     or str(item.get("place", "")).strip()):
        item["place"] = "i hela staden"
    if relation == "consulted_bodies" and not (
            item.get("organisation") or str(item.get("name_as_written", "")).strip()):
        item["name_as_written"] = "Remissinstans"
    return item


@schemathesis.hook
def after_call(context, case, response):
    """Records created by the run are live; those it voided are not."""
    collection = _collection(case)
    if collection is None or not 200 <= response.status_code < 300:
        return
    try:
        record = response.json()
        record_id = str(uuid.UUID(record["id"]))
    except (ValueError, KeyError, TypeError, AttributeError):  # (a subscription's id: a number)
        return
    if case.method == "POST":
        LIVE.setdefault(collection, set()).add(record_id)
    elif case.method == "DELETE":
        LIVE.get(collection, set()).discard(record_id)
