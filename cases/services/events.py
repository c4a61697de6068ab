"""Events of register changes (the outbox): written in the change's own transaction.

``emit`` is called by the audit trail (``cases.services.audit._entry``) for every audit entry,
so the API, the admin, the loader and the voiding of parts all emit exactly one event per
recorded change, committed or rolled back with it. It also fans the event out to the
matching subscriptions (a ``Delivery`` each) and defers their delivery jobs, on the same
database connection (procrastinate's Django connector), so a job exists exactly when its
delivery does.

The message is thin on purpose: ids, URLs, the action and the names of changed fields. No
field value ever goes in, so a confidential record cannot leak through a webhook, whatever
its fields and whoever subscribes.
"""

import re
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection

from cases.api.registry import resource_or_none
from cases.confidentiality import PARENTS
from cases.context import current_actor
from cases.models import (
    AuditAction,
    Case,
    Delivery,
    Event,
    EventAction,
    Municipality,
    Organisation,
)

SPEC_VERSION = "1.0"
TYPE_PREFIX = "se.caseregister"
CONTENT_TYPE = "application/json"
ACTIONS = {AuditAction.CREATE: EventAction.CREATED, AuditAction.UPDATE: EventAction.UPDATED,
           AuditAction.VOID: EventAction.VOIDED}
IGNORED_CHANGES = {"modified", "version"}  # every change moves them: not worth naming


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def collection_of(model) -> str:
    """The API collection of a model, or for a part without one (a registration number, a
    signatory) the name its collection would have, e.g. ``registration-numbers``."""
    _register_resources()
    resource = resource_or_none(model)
    return resource.collection if resource else _plural(_kebab(model.__name__))


def collection_choices() -> list[tuple[str, str]]:
    from django.apps import apps

    from cases.models import RegisterModel
    names = sorted({collection_of(model) for model in apps.get_app_config("cases").get_models()
                    if issubclass(model, RegisterModel)})
    return [(name, name) for name in names]


def _register_resources() -> None:
    """The API's resources register themselves when its serializers are imported, which a
    worker or a management command may not have done yet."""
    from cases.api import serializers  # noqa: F401


def record_url(model, pk) -> str | None:
    _register_resources()
    resource = resource_or_none(model)
    if resource is None:
        return None
    return f"{settings.SITE_URL}/api/v1/{resource.collection}/{pk}/"


def _links(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.many_to_one]


class _Rows:
    """Foreign keys of the records an event touches, each read once."""

    def __init__(self, model, values: dict):
        self.rows = {(model, values.get("id")): values}

    def get(self, model, pk) -> dict:
        key = (model, pk)
        if key not in self.rows:
            self.rows[key] = model._base_manager.filter(pk=pk).values(
                "id", *_links(model)).first() or {"id": pk}
        return self.rows[key]


def _scope(model, values: dict):
    """(case id, collections, wholes, organisation ids, municipality ids) of a record: what
    subscriptions filter on, from the record, the records it hangs off
    (``confidentiality.PARENTS``: a signatory's document, that document's case) and its
    case. Collections: the record's own and those of the records it is a part of (the
    wholes: collection, id and URL of each)."""
    from cases.services.voiding import part_of

    rows = _Rows(model, values)
    chain, frontier = [(model, values)], [(model, values)]
    while frontier:
        current, current_values = frontier.pop(0)
        for name in PARENTS.get(current.__name__, ()):
            field = current._meta.get_field(name)
            parent_id = current_values.get(field.attname)
            if parent_id is not None:
                parent = (field.related_model, rows.get(field.related_model, parent_id))
                chain.append(parent)
                frontier.append(parent)
    case_id = next((v.get("id") for owner, v in chain if owner is Case), None)
    collections, wholes = [collection_of(model)], []
    part, part_values = model, values
    while (field := part_of(part)) is not None and part_values.get(field.attname):
        whole_id = part_values[field.attname]
        part, part_values = field.related_model, rows.get(field.related_model, whole_id)
        collections.append(collection_of(part))
        wholes.append({"collection": collections[-1], "id": str(whole_id),
                       "url": record_url(part, whole_id)})
    organisations, municipalities = set(), set()
    if model is Organisation:
        organisations.add(values["id"])
    if model is Municipality:
        municipalities.add(values["id"])
    for record_model, record_values in (chain[0], *[c for c in chain if c[0] is Case][:1]):
        for field in record_model._meta.concrete_fields:
            if not field.many_to_one or record_values.get(field.attname) is None:
                continue
            if field.related_model is Organisation:
                organisations.add(record_values[field.attname])
            elif field.related_model is Municipality:
                municipalities.add(record_values[field.attname])
    if organisations:
        municipalities |= set(Organisation._base_manager.filter(
            pk__in=organisations).values_list("municipality_id", flat=True)) - {None}
    return (case_id, collections, wholes,
            sorted({uuid.UUID(str(pk)) for pk in organisations}, key=str),
            sorted({uuid.UUID(str(pk)) for pk in municipalities}, key=str))


def _changed(model, action, before, after) -> list[str]:
    """Names (model field names, as in the API) of the fields the change touched."""
    if action == EventAction.CREATED or not isinstance(after, dict):
        return []
    before = before or {}
    names = {f.attname: f.name for f in model._meta.concrete_fields}
    return sorted({names.get(key, key) for key in after
                   if key not in IGNORED_CHANGES and before.get(key) != after.get(key)})


def _values(model, object_id, instance, after) -> dict:
    if instance is not None:
        return {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}
    row = model._base_manager.filter(pk=object_id).values().first()
    return row or {"id": object_id}


def emit(entry, *, instance=None) -> Event:
    """The event of ``entry`` (an audit entry just written), its deliveries and their jobs.

    ``instance``: the saved record when at hand (saves a query); a parent recorded by
    ``record_parts_change`` is read from the database."""
    model = entry.content_type.model_class()
    action = ACTIONS[entry.action]
    values = _values(model, entry.object_id, instance, entry.after)
    case_id, collections, wholes, organisations, municipalities = _scope(model, values)
    event_id = uuid.uuid4()
    kind = _kebab(model.__name__)
    changed = _changed(model, action, entry.before, entry.after)
    data = {
        "id": str(entry.object_id),
        "collection": collections[0],
        "action": str(action),
        "url": record_url(model, entry.object_id),
        "part_of": wholes,
        "case": None if case_id is None else {"id": str(case_id),
                                              "url": record_url(Case, case_id)},
        "changed_fields": changed,
    }
    message = {
        "specversion": SPEC_VERSION,
        "id": str(event_id),
        "source": f"{settings.SITE_URL}/api/v1",
        "type": f"{TYPE_PREFIX}.{kind}.{action}",
        "subject": str(entry.object_id),
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": CONTENT_TYPE,
        "data": data,
    }
    trace = current_actor().traceparent
    if trace:  # CloudEvents' distributed tracing extension: the request that made the change
        message["traceparent"] = trace
    event = Event.objects.create(
        id=event_id, audit_entry=entry, type=message["type"], action=action,
        content_type=entry.content_type, record_id=entry.object_id, case_id=case_id,
        collections=collections, organisations=organisations, municipalities=municipalities,
        changed_fields=changed, message=message)
    _fan_out(event)
    return event


# Every active subscription with its filters, in one plain query (run for every change: the
# table is small, and matching in Python costs less than compiling a filtered ORM query).
ACTIVE_SUBSCRIPTIONS = """
    SELECT s.id, s.collections, s.actions,
           ARRAY(SELECT o.organisation_id FROM cases_subscription_organisations o
                 WHERE o.subscription_id = s.id),
           ARRAY(SELECT u.municipality_id FROM cases_subscription_municipalities u
                 WHERE u.subscription_id = s.id)
      FROM cases_subscription s WHERE s.active ORDER BY s.id
"""


def _passes(wanted, values) -> bool:
    return not wanted or bool(set(wanted) & set(values))


def matching_subscriptions(event: Event) -> list[int]:
    """Ids of the active subscriptions whose every filter lets ``event`` through (an empty
    filter lets everything through)."""
    with connection.cursor() as cursor:
        cursor.execute(ACTIVE_SUBSCRIPTIONS)
        rows = cursor.fetchall()
    return [pk for pk, collections, actions, organisations, municipalities in rows
            if _passes(collections, event.collections) and _passes(actions, [event.action])
            and _passes(organisations, event.organisations)
            and _passes(municipalities, event.municipalities)]


def _fan_out(event: Event) -> None:
    from cases.services.deliveries import schedule

    for subscription_id in matching_subscriptions(event):
        delivery = Delivery.objects.create(subscription_id=subscription_id, event=event)
        schedule(delivery)
