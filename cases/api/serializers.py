"""Serializers of every collection: a full form, a brief form, and the parts embedded in each.

Field descriptions in the OpenAPI document come from the models' ``help_text``.
"""

import copy
from functools import cached_property

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import reverse
from rest_framework import serializers

from cases import models as m
from cases.confidentiality import (
    PARENTS,
    can_be_withheld,
    is_withheld,
    mark_withheld,
    mask,
    public_fields,
    spread_withheld,
    withheld_label,
)

from .access import is_cleared
from .fields import Related, UTCDateTimeField
from .plan import plan, represent
from .registry import Resource, register, resource_or_none


class ExpandableMixin:
    """Knows which of its related fields to expand: its part of the ``expand`` tree."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: UTCDateTimeField}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The schema describes a component with its class docstring: without one of its own,
        # take the model's rather than inherit a base serializer's.
        model = getattr(getattr(cls, "Meta", None), "model", None)
        if cls.__doc__ is None and model is not None:
            cls.__doc__ = model.__doc__

    def __init__(self, *args, expand: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._expand = expand

    @cached_property
    def expand_tree(self) -> dict:
        if self._expand is not None:
            return self._expand
        parent, name = self.parent, self.field_name
        if isinstance(parent, serializers.ListSerializer):
            parent, name = parent.parent, parent.field_name
        if parent is None:
            return self.context.get("expand", {})
        return parent.expand_tree.get(name, {})

    def get_fields(self):
        """Related fields declared without help_text document themselves with the model's.

        A ModelSerializer builds its fields from the model on every instantiation (several
        milliseconds for a case, on every request): here they are built once per class and
        copied, as DRF copies declared fields."""
        prototype = type(self).__dict__.get("_prototype_fields")
        if prototype is None:
            prototype = super().get_fields()
            _withheld_may_be_null(self, prototype)
            type(self)._prototype_fields = prototype
        fields = copy.deepcopy(prototype)
        for name, field in fields.items():
            if isinstance(field, Related) and not field.help_text:
                try:
                    model_field = self.Meta.model._meta.get_field(field.source or name)
                except FieldDoesNotExist:
                    continue
                field.help_text = model_field.help_text or None
        return fields

    @cached_property
    def _readable_fields(self):
        return [f for f in super()._readable_fields
                if not (isinstance(f, Related) and f.expand_only
                        and f.field_name not in self.expand_tree)]

    @cached_property
    def _plan(self):
        return plan(self)

    def to_representation(self, instance):
        return represent(self._plan, instance)  # what DRF's would return, faster (plan.py)


def _withheld_may_be_null(serializer, fields) -> None:
    """Fields outside the public entry read as null when a record is withheld from the
    reader (cases.confidentiality): the schema says so. Lists (parts, related records)
    read as empty instead."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None or not can_be_withheld(model) or not (
            isinstance(serializer, RegisterSerializer) or model is m.Provenance):
        return
    shown = public_fields(model)
    for name, field in fields.items():
        if name not in shown and not getattr(field, "many", False) and not isinstance(
                field, serializers.ListSerializer):
            field.allow_null = True
            field._kwargs["allow_null"] = True  # (fields are deep-copied from their kwargs)


class WithheldListSerializer(serializers.ListSerializer):
    """A page of records through the serializer: their withheld status is worked out for
    the page at once, not by a query per record (links, whose ends are any record)."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        if items and not cleared(self):
            mark_withheld(items)
        return super().to_representation(items)


class RegisterSerializer(ExpandableMixin, serializers.ModelSerializer):
    """Base of every full serializer: ``url``, timestamps, void status, ``expand``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta")
        if meta is not None and not hasattr(meta, "list_serializer_class"):
            meta.list_serializer_class = WithheldListSerializer

    url = serializers.SerializerMethodField(help_text="This record in the API.")
    sources = Related("Provenance", many=True, expand_only=True, source="provenance",
                      help_text="The source passages the record's facts come from "
                                "(with expand=sources).")

    def get_url(self, obj) -> str | None:
        return record_url(obj, self.context.get("request"))

    @cached_property
    def _tombstones(self) -> bool:
        return bool(self.context.get("tombstones"))

    def to_representation(self, instance):
        if self._tombstones and instance.voided_at:
            return tombstone(str(instance.id), self.get_url(instance), instance.voided_at,
                             instance.modified)
        if cleared(self):
            return super().to_representation(instance)
        spread_withheld(instance)
        data = super().to_representation(instance)
        return mask(data, type(instance), withheld=is_withheld(instance), cleared=False)


class LivePartsSerializer(serializers.ListSerializer):
    """A record's parts as it shows them: the live ones (a voided part is removed)."""

    def to_representation(self, data):
        if isinstance(data, models.Manager) and hasattr(data.model, "voided_at"):
            data = data.filter(voided_at__isnull=True)
        return super().to_representation(data)


class PartSerializer(ExpandableMixin, serializers.ModelSerializer):
    """A part of a record (a point, a proposal, an author), always embedded in it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta")
        if meta is not None and not hasattr(meta, "list_serializer_class"):
            meta.list_serializer_class = LivePartsSerializer


def cleared(serializer) -> bool:
    """Whether the reader may see confidential details (computed once per request)."""
    return request_cleared(serializer.context.get("request"))


def request_cleared(request) -> bool:
    if request is None:
        return False
    if not hasattr(request, "_cleared"):
        request._cleared = is_cleared(request)
    return request._cleared


_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
_PATHS: dict[str, tuple[str, str]] = {}


def url_parts(model, request) -> tuple[str, str] | None:
    """What comes before and after the id in the absolute URL of a ``model`` record, or
    None for a model with no collection. Resolved once per collection and once per request:
    reverse() for every record of a page was a fifth of a list's time."""
    resource = resource_or_none(model)
    if resource is None or not resource.collection:
        return None
    parts = _PATHS.get(resource.basename)
    if parts is None:
        path = reverse(f"api:{resource.basename}-detail", args=[_PLACEHOLDER])
        parts = _PATHS[resource.basename] = tuple(path.split(_PLACEHOLDER))
    if request is None:
        return parts
    origin = getattr(request, "_origin", None)
    if origin is None:
        origin = request._origin = request.build_absolute_uri("/")[:-1]
    return origin + parts[0], parts[1]


def record_url(obj, request) -> str | None:
    """The record's absolute URL (its path without a request)."""
    parts = url_parts(type(obj), request)
    return None if parts is None else f"{parts[0]}{obj.pk}{parts[1]}"


def tombstone(pk: str, url: str | None, voided_at, modified) -> dict:
    """A voided record in a list with ``modified_since``: its id, url and when."""
    return {"id": pk, "url": url, "voided": True,
            "voided_at": voided_at.isoformat().replace("+00:00", "Z"),
            "modified": modified.isoformat().replace("+00:00", "Z")}


COMMON = ["id", "url", "created", "modified", "voided_at", "void_reason", "voided_by", "sources"]


def brief_serializer(model, display: str):
    """The brief form of a record: id, url and a display text."""

    class Meta:
        ref_name = f"{model.__name__}Brief"

    def get_url(self, obj) -> str | None:
        return record_url(obj, self.context.get("request"))

    def get_display(self, obj) -> str:
        if display == "title" or display not in public_fields(model):
            if not cleared(self) and is_withheld(obj):
                return getattr(obj, "public_title", None) or withheld_label(model)
        return str(getattr(obj, display))

    def to_representation(self, obj):  # the three fields below, without DRF's field loop
        return {"id": None if obj.id is None else str(obj.id), "url": get_url(self, obj),
                "display": get_display(self, obj)}

    attrs = {
        "Meta": Meta,
        "to_representation": to_representation,
        # What to_representation reads, so a joined related record loads only these.
        "columns": ("id", display, *(n for n in (
            "confidential", "public_title", "marked_public", *PARENTS.get(model.__name__, ()))
            if _has(model, n) and n != display)),
        "id": serializers.UUIDField(read_only=True, help_text="Id of the record."),
        "url": serializers.SerializerMethodField(help_text="This record in the API."),
        "display": serializers.SerializerMethodField(help_text="A short human-readable label."),
        "get_url": get_url,
        "get_display": get_display,
        "__doc__": f"Brief form of a {model.__name__} record (id, url, label); expand it for "
                   "every field.",
    }
    return type(f"{model.__name__}Brief", (serializers.Serializer,), attrs)


def _has(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def resource(model, collection: str, display: str):
    """Class decorator: register a full serializer as the API form of ``model``."""

    def decorate(serializer_class):
        register(Resource(model=model, collection=collection,
                          basename=model._meta.model_name, full=serializer_class,
                          brief=brief_serializer(model, display)))
        return serializer_class

    return decorate


class PassageSerializer(PartSerializer):
    """A passage of a source document (W3C TextQuoteSelector + TextPositionSelector)."""

    document = Related("Document")

    class Meta:
        model = m.Provenance
        fields = ["id", "document", "exact", "prefix", "suffix", "start", "end", "note"]

    def to_representation(self, instance):
        if cleared(self):
            return super().to_representation(instance)
        spread_withheld(instance)  # a passage of a withheld document (cases.confidentiality)
        data = super().to_representation(instance)
        return mask(data, m.Provenance, withheld=is_withheld(instance), cleared=False)


register(Resource(model=m.Provenance, collection="", basename="provenance",
                  full=PassageSerializer, brief=PassageSerializer))


# --- who ---------------------------------------------------------------------------------


@resource(m.Municipality, "municipalities", "name")
class MunicipalitySerializer(RegisterSerializer):
    class Meta:
        model = m.Municipality
        fields = [*COMMON, "name", "code"]


@resource(m.Organisation, "organisations", "name")
class OrganisationSerializer(RegisterSerializer):
    municipality = Related("Municipality", allow_null=True)
    parent = Related("Organisation", allow_null=True)
    children = Related("Organisation", many=True, expand_only=True,
                       help_text="Sub-organisations (with expand=children).")

    class Meta:
        model = m.Organisation
        fields = [*COMMON, "name", "short_name", "type", "municipality", "parent", "children"]


@resource(m.Party, "parties", "abbreviation")
class PartySerializer(RegisterSerializer):
    class Meta:
        model = m.Party
        fields = [*COMMON, "abbreviation", "name"]


class NameVariantSerializer(PartSerializer):
    class Meta:
        model = m.PersonNameVariant
        fields = ["id", "name"]


class RoleSerializer(PartSerializer):
    organisation = Related("Organisation", allow_null=True)

    class Meta:
        model = m.PersonRole
        fields = ["id", "title", "organisation", "as_of"]


class AffiliationSerializer(PartSerializer):
    party = Related("Party")

    class Meta:
        model = m.PartyAffiliation
        fields = ["id", "party", "as_of"]


@resource(m.Person, "people", "name")
class PersonSerializer(RegisterSerializer):
    name_variants = NameVariantSerializer(many=True, read_only=True,
                                          help_text="Spellings of the name found in sources.")
    roles = RoleSerializer(many=True, read_only=True, help_text="Titles held.")
    affiliations = AffiliationSerializer(many=True, read_only=True,
                                         help_text="Parties as stated in sources.")

    class Meta:
        model = m.Person
        fields = [*COMMON, "name", "name_variants", "roles", "affiliations"]


# --- cases and documents -----------------------------------------------------------------


class RegistrationNumberSerializer(PartSerializer):
    organisation = Related("Organisation")

    class Meta:
        model = m.RegistrationNumber
        fields = ["id", "number", "organisation", "year"]


@resource(m.Case, "cases", "title")
class CaseSerializer(RegisterSerializer):
    municipality = Related("Municipality")
    responsible_organisation = Related("Organisation", allow_null=True)
    registration_numbers = RegistrationNumberSerializer(many=True, read_only=True,
                                                        help_text="All numbers of the case.")
    documents = Related("Document", many=True, expand_only=True,
                        help_text="The case's documents (with expand=documents).")
    closed_by_decision = Related("Decision", allow_null=True)
    closed_by_document = Related("Document", allow_null=True)
    motions = Related("Motion", many=True, expand_only=True,
                      help_text="Motions handled in the case (with expand=motions).")
    referrals = Related("Referral", many=True, expand_only=True,
                        help_text="Referrals of the case (with expand=referrals).")
    decisions = Related("Decision", many=True, expand_only=True,
                        help_text="Decisions in the case (with expand=decisions).")
    activities = Related("Activity", many=True, expand_only=True,
                         help_text="Dated events (with expand=activities).")

    class Meta:
        model = m.Case
        fields = [*COMMON, "title", "public_title", "confidential", "confidentiality_basis",
                  "status", "registered", "closed", "closed_by_decision", "closed_by_document",
                  "description", "municipality",
                  "responsible_organisation", "registration_numbers", "documents", "motions",
                  "referrals", "decisions", "activities"]
        extra_kwargs = {"description": {"allow_null": True}}


class SignatorySerializer(PartSerializer):
    person = Related("Person")
    organisation = Related("Organisation", allow_null=True)

    class Meta:
        model = m.DocumentSignatory
        fields = ["id", "position", "person", "title", "organisation"]


class AttachmentSerializer(PartSerializer):
    class Meta:
        model = m.DocumentAttachment
        fields = ["id", "position", "title", "date"]


@resource(m.Document, "documents", "title")
class DocumentSerializer(RegisterSerializer):
    case = Related("Case")
    author_organisation = Related("Organisation", allow_null=True)
    prepared_by = Related("Organisation", allow_null=True)
    recipient = Related("Organisation", allow_null=True)
    case_officer = Related("Person", allow_null=True)
    signatories = SignatorySerializer(many=True, read_only=True, help_text="Who signed.")
    attachments = AttachmentSerializer(many=True, read_only=True, help_text="Listed bilagor.")

    class Meta:
        model = m.Document
        fields = [*COMMON, "title", "public_title", "confidential", "confidentiality_basis",
                  "type", "direction", "date", "case", "author_organisation",
                  "prepared_by", "recipient", "case_officer", "signatories", "attachments",
                  "source_file", "sha256", "text", "marked_public"]
        extra_kwargs = {"text": {"allow_null": True}}


@resource(m.Activity, "activities", "type")
class ActivitySerializer(RegisterSerializer):
    case = Related("Case")
    organisation = Related("Organisation", allow_null=True)
    person = Related("Person", allow_null=True)

    class Meta:
        model = m.Activity
        fields = [*COMMON, "type", "date", "case", "organisation", "person", "description",
                  "marked_public"]


# --- motions, referrals, decisions -------------------------------------------------------


class MotionAuthorSerializer(PartSerializer):
    person = Related("Person")
    party = Related("Party", allow_null=True)

    class Meta:
        model = m.MotionAuthor
        fields = ["id", "position", "person", "party"]


class ProposalSerializer(PartSerializer):
    class Meta:
        model = m.MotionProposal
        fields = ["id", "number", "text"]


@resource(m.Motion, "motions", "title")
class MotionSerializer(RegisterSerializer):
    case = Related("Case")
    addressed_to = Related("Organisation", allow_null=True)
    authors = MotionAuthorSerializer(many=True, read_only=True, help_text="The motionärer.")
    proposals = ProposalSerializer(many=True, read_only=True, help_text="The att-satser.")

    class Meta:
        model = m.Motion
        fields = [*COMMON, "title", "date", "summary", "case", "addressed_to", "authors",
                  "proposals", "marked_public"]


class ConsultedBodySerializer(PartSerializer):
    organisation = Related("Organisation", allow_null=True)

    class Meta:
        model = m.ConsultedBody
        fields = ["id", "organisation", "name_as_written", "response_status", "due_date"]


@resource(m.Referral, "referrals", "title")
class ReferralSerializer(RegisterSerializer):
    case = Related("Case")
    sender = Related("Organisation", allow_null=True)
    motion = Related("Motion", allow_null=True)
    consulted_bodies = ConsultedBodySerializer(many=True, read_only=True,
                                               help_text="The remissinstanser.")
    responses = Related("ReferralResponse", many=True, expand_only=True,
                        help_text="Responses received (with expand=responses).")

    class Meta:
        model = m.Referral
        fields = [*COMMON, "title", "case", "sender", "motion", "received_date",
                  "received_as_written", "due_date", "due_as_written", "consulted_bodies",
                  "responses", "marked_public"]


@resource(m.ReferralResponse, "referral-responses", "position")
class ReferralResponseSerializer(RegisterSerializer):
    referral = Related("Referral")
    organisation = Related("Organisation")
    document = Related("Document", allow_null=True)

    class Meta:
        model = m.ReferralResponse
        fields = [*COMMON, "referral", "organisation", "document", "date", "position",
                  "summary", "marked_public"]


class PointSerializer(PartSerializer):
    class Meta:
        model = m.DecisionPoint
        fields = ["id", "number", "text"]


@resource(m.Decision, "decisions", "kind")
class DecisionSerializer(RegisterSerializer):
    case = Related("Case")
    organisation = Related("Organisation")
    proposed_by = Related("Organisation", allow_null=True)
    document = Related("Document", allow_null=True)
    points = PointSerializer(many=True, read_only=True, help_text="Numbered points.")

    class Meta:
        model = m.Decision
        fields = [*COMMON, "kind", "case", "organisation", "proposed_by", "document",
                  "summary", "date", "immediately_adjusted", "effective_date", "follow_up_due",
                  "follow_up_due_precision", "points", "marked_public"]


# --- collaboration models ----------------------------------------------------------------


class SectorSerializer(PartSerializer):
    class Meta:
        model = m.CollaborationSector
        fields = ["id", "sector"]


class UsageSerializer(PartSerializer):
    municipality = Related("Municipality", allow_null=True)
    organisation = Related("Organisation", allow_null=True)

    class Meta:
        model = m.CollaborationUsage
        fields = ["id", "municipality", "organisation", "place"]


class FigureSerializer(PartSerializer):
    value = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False,
                                     read_only=True, help_text="The number.")

    class Meta:
        model = m.CollaborationFigure
        fields = ["id", "label", "value", "unit", "year"]


@resource(m.CollaborationModel, "collaboration-models", "name")
class CollaborationModelSerializer(RegisterSerializer):
    municipality = Related("Municipality", allow_null=True)
    sectors = SectorSerializer(many=True, read_only=True, help_text="Sectors involved.")
    usages = UsageSerializer(many=True, read_only=True, help_text="Where it is used.")
    figures = FigureSerializer(many=True, read_only=True, help_text="Costs, counts, results.")

    class Meta:
        model = m.CollaborationModel
        fields = [*COMMON, "name", "abbreviation", "municipality", "level", "status",
                  "target_group", "description", "started", "started_precision", "ended",
                  "ended_precision", "sectors", "usages", "figures"]


# --- links -------------------------------------------------------------------------------


class RecordReferenceSerializer(serializers.Serializer):
    """Any record, by type and id."""

    type = serializers.CharField(help_text="Model name of the record, e.g. case.")
    id = serializers.UUIDField(help_text="Id of the record.")
    url = serializers.CharField(allow_null=True,
                                help_text="The record in the API; null for parts of records "
                                          "that have no collection of their own.")


def reference(content_type_id: int, object_id, request) -> dict:
    from django.contrib.contenttypes.models import ContentType

    model = ContentType.objects.get_for_id(content_type_id).model_class()
    resource_ = resource_or_none(model)
    url = None
    if resource_ and resource_.collection:
        path = reverse(f"api:{resource_.basename}-detail", args=[object_id])
        url = request.build_absolute_uri(path) if request else path
    return {"type": model._meta.model_name, "id": str(object_id), "url": url}


@resource(m.Link, "links", "type")
class LinkSerializer(RegisterSerializer):
    source = serializers.SerializerMethodField(help_text="The record the link starts from.")
    target = serializers.SerializerMethodField(help_text="The record the link points to.")

    class Meta:
        model = m.Link
        fields = [*COMMON, "source", "type", "target"]

    def get_source(self, obj) -> RecordReferenceSerializer:
        return reference(obj.source_type_id, obj.source_id, self.context.get("request"))

    def get_target(self, obj) -> RecordReferenceSerializer:
        return reference(obj.target_type_id, obj.target_id, self.context.get("request"))
