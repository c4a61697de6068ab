"""A record's API history covers its parts: a case's covers every record of the case.

A motion's authors and proposals, a decision's points, a person's roles are shown and written
with their record (``cases.api.parts``): their changes belong in its history. A case's
history covers every record of the case too (its documents, motions, referrals, decisions,
activities, responses, registration numbers and their parts: every model with a path of
required keys to the case, ``cases.roles.case_path``), so that the story of a case reads in
one place. Each entry names its record; confidential details stay masked as the record
itself would show them.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import models as m
from cases.confidentiality import is_withheld, mark_withheld, mask_snapshot
from cases.roles import case_path
from cases.services.voiding import part_of

from . import writes as w
from .access import is_cleared
from .problems import problem_responses
from .serializers import RecordReferenceSerializer, reference


class HistoryEntrySerializer(w.HistoryEntrySerializer):
    record = RecordReferenceSerializer(
        help_text="The record changed: this one, one of its parts, or (in a case's history) "
                  "a record of the case.")


def covered(record) -> dict:
    """model -> a queryset of the ids of the records whose changes ``record``'s history
    shows (the record itself among them)."""
    model = type(record)
    scope = {model: model._base_manager.filter(pk=record.pk).values("pk")}
    for other in _models():
        if other is model:
            continue
        if model is m.Case:
            path = case_path(other)
            if path:
                scope[other] = other._base_manager.filter(
                    **{"__".join(path): record.pk}).values("pk")
                continue
        field = part_of(other)
        if field is not None and field.related_model is model:
            scope[other] = other._base_manager.filter(
                **{field.attname: record.pk}).values("pk")
    return scope


def _models():
    from django.apps import apps

    return [model for model in apps.get_app_config("cases").get_models()
            if issubclass(model, m.RegisterModel)]


def entries_of(record):
    """The audit entries of ``record`` and of what its history covers, oldest first."""
    match = Q()
    for model, ids in covered(record).items():
        match |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=ids)
    return m.AuditEntry.objects.filter(match).order_by("occurred_at", "id")


def _records(entries) -> dict:
    """The records the entries are about, loaded once per model, withheld status marked."""
    wanted: dict = {}
    for entry in entries:
        wanted.setdefault(entry.content_type_id, set()).add(entry.object_id)
    found = {}
    for content_type_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        records = list(model._base_manager.filter(pk__in=ids))
        mark_withheld(records)
        found.update({(content_type_id, r.pk): r for r in records})
    return found


class HistoryMixin:
    """GET <record>/history/: the record's audit trail with its parts' (a case's: with
    every record of the case), for authenticated clients."""

    @extend_schema(responses={200: HistoryEntrySerializer(many=True),
                              **problem_responses(401, 403, 404)},
                   summary="Change history of this record",
                   description="Every create, update and void of the record and of its parts "
                               "(of a case: of every record of the case and their parts), via "
                               "the API or the admin: which record, who, when, the request "
                               "id, and the values before and after. Needs authentication; "
                               "confidential details stay masked without clearance.")
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        record = self.get_object()
        cleared = is_cleared(request)
        entries = list(entries_of(record))
        records = _records(entries)
        rows = []
        for entry in entries:
            subject = records.get((entry.content_type_id, entry.object_id))
            model = ContentType.objects.get_for_id(entry.content_type_id).model_class()
            withheld = subject is not None and is_withheld(subject)
            before = mask_snapshot(entry.before, model, cleared=cleared, withheld=withheld)
            after = mask_snapshot(entry.after, model, cleared=cleared, withheld=withheld)
            keys = set(before or {}) | set(after or {})
            changed = sorted(k for k in keys if (before or {}).get(k) != (after or {}).get(k)
                             and k not in ("modified", "version"))
            rows.append({"occurred_at": entry.occurred_at, "action": entry.action,
                         "via": entry.via, "actor": entry.actor,
                         "request_id": entry.request_id, "before": before, "after": after,
                         "changed": changed,
                         "record": reference(entry.content_type_id, entry.object_id, request)})
        return Response(HistoryEntrySerializer(rows, many=True).data)

