"""Writes: create, update (with If-Match), void (DELETE), history. Validated in full.

Every write goes through the services (``cases.services.records``, ``registration``,
``voiding``), which ask the rules of ``cases.policies``; a rule broken comes back as 403, 409
or 412 (``cases.api.problems``). The serializers here say what a body may hold and report
every invalid field at once.

A stale ``If-Match`` gets 412 and changes nothing; a write without one gets 428, so no client
overwrites another's change unseen. ``If-Match`` must name the one version the client read
(``cases.api.etags``: the record's ``version``, which only a change of the record or of its
parts moves, not a change of a record it links to): ``*`` ("whatever is stored"), weak tags
and lists would let a client write without having read the current version, so they get 428
like a missing header. ``DELETE`` voids the record with a reason; nothing is ever
hard-deleted through the API.
"""

import re
from collections.abc import Mapping

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models as djmodels
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.fields import SkipField
from rest_framework.response import Response

from cases import models as m
from cases import policies
from cases.services.parts import PartsConflict
from cases.services.records import create_record, locked, update_record
from cases.services.registration import register_case
from cases.services.voiding import void_record

from . import etags
from .fields import UTCDateTimeField
from .problems import problem_responses
from .references import Reference


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = ("Send If-Match with the ETag of the version you read (the ETag header "
                      "of your last GET of this record).")


NAMES_NO_VERSION = ("If-Match must name the version you read: send the one ETag from your "
                    "last GET of this record, as it came (not *, a weak W/ tag or a list).")
# One strong entity tag (RFC 9110 8.8.3), the form of every ETag this API sends.
STRONG_ETAG = re.compile(r'\A"[\x21\x23-\x7e\x80-\xff]*"\Z')


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_detail = "The record has changed since you read it: GET it again, then retry."


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The record is voided and can no longer be changed."


class DuplicateRecord(Conflict):
    """The write would make a second record where the register keeps one (the same link
    twice, a second response of one body to one referral): the request is well formed and
    conflicts with the register's state, so 409 (as for a voided record), not 400."""

    default_detail = "A record with these values exists already."


class LiveRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id to a record that exists and is not voided."""

    default_error_messages = {
        "does_not_exist": "No live record with id {pk_value}: it does not exist or is voided.",
    }

    def run_validation(self, data=serializers.empty):
        """"" is not an id (DRF would read it as null): the schema says uuid or null."""
        if data == "":
            self.fail("incorrect_type", data_type="empty string")
        return super().run_validation(data)

    def get_queryset(self):
        queryset = super().get_queryset()
        if hasattr(queryset.model, "voided_at"):
            queryset = queryset.filter(voided_at__isnull=True)
        return queryset


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField also takes a number (12 -> "12"), which the schema's
    ``type: string`` refuses."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF's BooleanField also takes "yes", "1", 0 ..., which the
    schema's ``type: boolean`` refuses."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "12" and 12.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class WriteSerializer(serializers.ModelSerializer):
    """Validates a write in full: field rules, and the model's database constraints checked
    before saving, so every error comes back at once. Values are taken in the JSON type the
    schema states, without DRF's coercions (cases/api/schema.py, tests/test_schemathesis)."""

    serializer_related_field = Reference  # by id or natural key (cases.api.references)
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        djmodels.CharField: StrictCharField, djmodels.TextField: StrictCharField,
        djmodels.BooleanField: StrictBooleanField,
        djmodels.IntegerField: StrictIntegerField,
        djmodels.PositiveIntegerField: StrictIntegerField,
        djmodels.PositiveSmallIntegerField: StrictIntegerField,
        djmodels.SmallIntegerField: StrictIntegerField,
        djmodels.DateTimeField: UTCDateTimeField,
    }

    def get_validators(self):
        """No DRF unique-together validators: the model's constraints are checked in
        ``validate`` (a duplicate is a 409 there)."""
        return []

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(data, Mapping) or not isinstance(exc.detail, Mapping):
                raise  # not an object at all: nothing more to check
            # Report the rules between fields too, checked on the fields that did parse.
            errors = dict(exc.detail)
            parsed = {}
            for field in self._writable_fields:
                if field.field_name in errors:
                    continue
                try:
                    parsed[field.source] = field.run_validation(field.get_value(data))
                except (serializers.ValidationError, SkipField):
                    pass
            try:
                self.validate(parsed)
            except serializers.ValidationError as more:
                for name, messages in more.detail.items():
                    errors.setdefault(name, messages)
            except DuplicateRecord:
                pass  # the invalid fields come first
            raise serializers.ValidationError(errors) from exc

    def validate(self, attrs):
        # The clearance rule first (as the service asks it again): a writer without clearance
        # learns nothing of a withheld record's rules from its field errors.
        request = self.context.get("request")
        policies.check_clearance(user=getattr(request, "user", None), model=self.Meta.model,
                                 before=self.instance, values=attrs)
        candidate = self._candidate(attrs)
        errors = {}
        try:
            candidate.clean_fields(exclude=[f.name for f in candidate._meta.concrete_fields
                                            if f.name not in attrs])
        except DjangoValidationError as exc:
            errors.update(exc.message_dict)
        try:  # the model's own rules, and what it derives (a reopened case's closed date goes)
            candidate.clean()
        except DjangoValidationError as exc:
            errors.update(exc.message_dict if hasattr(exc, "error_dict")
                          else {"non_field_errors": exc.messages})
        duplicates = []
        try:
            candidate.validate_constraints()
        except DjangoValidationError as exc:
            for field, field_errors in exc.error_dict.items():
                for error in field_errors:
                    if error.code in ("unique", "unique_together"):
                        duplicates.extend(error.messages)
                    else:
                        errors.setdefault(field, []).extend(error.messages)
        if errors:
            raise serializers.ValidationError(errors)
        if duplicates:
            raise DuplicateRecord(" ".join(duplicates))
        return attrs

    def _candidate(self, attrs):
        model = self.Meta.model
        candidate = model(**{f.attname: getattr(self.instance, f.attname)
                             for f in model._meta.concrete_fields}) if self.instance else model()
        # An update's candidate is the stored record changed: its unique constraints must not
        # find the record itself (Django skips it only for a record not being added).
        candidate._state.adding = self.instance is None
        model_attrs = {k: v for k, v in attrs.items() if k in
                       {f.name for f in model._meta.concrete_fields}}
        for name, value in model_attrs.items():
            setattr(candidate, name, value)
        return candidate


CONFIDENTIALITY = list(policies.CONFIDENTIALITY)


class CaseWriteSerializer(WriteSerializer):
    class Meta:
        model = m.Case
        fields = ["title", "status", "registered", "closed", "closed_by_decision",
                  "closed_by_document", "description", "municipality",
                  "responsible_organisation", *CONFIDENTIALITY]


LATEST_YEAR = 2100
SERIES_PREFIX = re.compile(r"^[0-9A-Za-zÅÄÖåäö]{1,12}$")


class CaseRegistrationSerializer(CaseWriteSerializer):
    """Registering a case: the register allocates the next number in the series of
    ``registering_organisation`` for ``year`` (default: this year), e.g. KS 2026/7."""

    registering_organisation = LiveRelatedField(
        queryset=m.Organisation.objects.all(),
        help_text="The organisation in whose register the case is entered.")
    year = StrictIntegerField(required=False, min_value=1900, max_value=LATEST_YEAR,
                                    help_text="Registration year; default the current year.")

    class Meta(CaseWriteSerializer.Meta):
        # (A new case has no decision or document of its own yet to have been closed by.)
        fields = [*(name for name in CaseWriteSerializer.Meta.fields
                    if not name.startswith("closed_by_")), "registering_organisation", "year"]

    def validate_year(self, year):
        if year > timezone.localdate().year + 1:
            raise serializers.ValidationError("At most next year.")
        return year

    def validate_registering_organisation(self, organisation):
        if not SERIES_PREFIX.match(organisation.short_name):
            raise serializers.ValidationError(
                "This organisation keeps no register of its own: it has no series prefix "
                "(short name such as KS).")
        return organisation


def write_serializer(model, field_names):
    meta = type("Meta", (), {"model": model, "fields": field_names})
    return type(f"{model.__name__}WriteSerializer", (WriteSerializer,),
                {"Meta": meta, "__doc__": f"Fields a client may write on a {model.__name__}."})


DocumentWriteSerializer = write_serializer(m.Document, [
    "case", "title", "type", "direction", "date", "author_organisation", "prepared_by",
    "recipient", "case_officer", "text", *CONFIDENTIALITY, "marked_public"])
MotionWriteSerializer = write_serializer(m.Motion, [
    "case", "title", "addressed_to", "date", "summary", "marked_public"])
ReferralWriteSerializer = write_serializer(m.Referral, [
    "case", "title", "sender", "motion", "received_date", "received_as_written", "due_date",
    "due_as_written", "marked_public"])
ReferralResponseWriteSerializer = write_serializer(m.ReferralResponse, [
    "referral", "organisation", "document", "date", "position", "summary", "marked_public"])
DecisionWriteSerializer = write_serializer(m.Decision, [
    "case", "kind", "organisation", "proposed_by", "document", "summary", "date",
    "immediately_adjusted", "effective_date", "follow_up_due", "follow_up_due_precision",
    "marked_public"])
ActivityWriteSerializer = write_serializer(m.Activity, [
    "case", "type", "date", "organisation", "person", "description", "marked_public"])


LINKABLE = sorted(c.model_name for c in (
    m.Case, m.Document, m.Motion, m.Referral, m.ReferralResponse, m.Decision, m.Activity,
    m.CollaborationModel, m.Organisation, m.Person, m.MotionProposal, m.DecisionPoint)
    for c in [c._meta])


LINKABLE_CHOICES = [(name, name) for name in LINKABLE]


class LinkWriteSerializer(WriteSerializer):
    source_type = serializers.ChoiceField(choices=LINKABLE_CHOICES,
                                          help_text="Model of the source.")
    target_type = serializers.ChoiceField(choices=LINKABLE_CHOICES,
                                          help_text="Model of the target.")

    class Meta:
        model = m.Link
        fields = ["source_type", "source_id", "type", "target_type", "target_id"]

    def validate(self, attrs):
        errors = {}
        for side in ("source", "target"):
            name = attrs.get(f"{side}_type", getattr(self.instance, f"{side}_type", None))
            pk = attrs.get(f"{side}_id", getattr(self.instance, f"{side}_id", None))
            if isinstance(name, str):  # (also when the id is missing: the model takes types)
                name = attrs[f"{side}_type"] = ContentType.objects.get(app_label="cases",
                                                                       model=name)
            if name is None or pk is None:
                continue  # reported as a missing field already
            content_type = name
            model = content_type.model_class()
            if not model.objects.filter(pk=pk, voided_at__isnull=True).exists():
                errors[f"{side}_id"] = [f"No live {content_type.model} with id {pk}."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().validate(attrs)


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=3, max_length=500,
                                   help_text="Why the record is voided.")


class HistoryEntrySerializer(serializers.Serializer):
    """One change of the record, with its values before and after."""

    occurred_at = UTCDateTimeField(help_text="When.")
    action = serializers.ChoiceField(choices=m.AuditAction.choices, help_text="What.")
    via = serializers.CharField(help_text="Channel: api, admin, loader ...")
    actor = serializers.CharField(help_text="Who: a user name or token:<client system>.")
    request_id = serializers.CharField(help_text="X-Request-ID of the request that did it.")
    before = serializers.DictField(allow_null=True, help_text="Values before (null: created).")
    after = serializers.DictField(allow_null=True, help_text="Values after.")
    changed = serializers.ListField(child=serializers.CharField(),
                                    help_text="Fields whose value changed.")


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 428)


class WritableMixin:
    """Create, update, partial update, void and history for a collection's viewset."""

    write_serializer: type
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return getattr(self, "create_serializer", None) or self.write_serializer
        if self.action in ("update", "partial_update"):
            return self.write_serializer
        return super().get_serializer_class()

    def _respond(self, instance, status_code):
        context = {**self.get_serializer_context(), "tombstones": False}
        response = Response(self.resource.full(instance, context=context).data,
                            status=status_code)
        self.version_sent = instance.version  # the ETag's version (RegisterViewSet)
        return response

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_write(serializer)
        response = self._respond(instance, status.HTTP_201_CREATED)
        response["Location"] = response.data["url"]
        return response

    def perform_write(self, serializer):
        values, parts = split_parts(serializer)
        try:
            return create_record(model=self.model, values=values, parts=parts,
                                 user=self.request.user)
        except PartsConflict as exc:
            raise Conflict(str(exc)) from exc

    def update(self, request, *args, partial=False, **kwargs):
        with transaction.atomic():
            instance, expected = self._locked_for_change(request)
            serializer = self.write_serializer(instance, data=request.data, partial=partial,
                                               context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            changes, parts = split_parts(serializer)
            try:
                instance = update_record(record=instance, changes=changes, parts=parts,
                                         expected_version=expected, user=request.user)
            except PartsConflict as exc:
                raise Conflict(str(exc)) from exc
        return self._respond(instance, status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        reason = VoidSerializer(data={"reason": request.query_params.get("reason", "")})
        reason.is_valid(raise_exception=True)
        with transaction.atomic():
            instance, expected = self._locked_for_change(request)
            instance = void_record(record=instance, reason=reason.validated_data["reason"],
                                   expected_version=expected, user=request.user)
        return self._respond(instance, status.HTTP_200_OK)

    def _locked_for_change(self, request):
        """(the record row-locked until the transaction ends, the version If-Match names),
        the rules that need no body checked first: voided (409), then If-Match (428, 412)."""
        instance = locked(record=self.get_object())
        if_match = request.headers.get("If-Match", "").strip()
        if not if_match:
            raise PreconditionRequired()
        if not STRONG_ETAG.match(if_match):
            raise PreconditionRequired(NAMES_NO_VERSION)
        expected = etags.version_named(if_match)
        if expected is None:
            raise PreconditionFailed("If-Match names no version of this record: send the "
                                     "ETag from your last GET of it, as it came.")
        policies.check_version(instance, expected)
        return instance, expected


def split_parts(serializer) -> tuple[dict, dict]:
    """A write's validated values apart from its parts (``cases.api.parts``: the lists of
    a record's authors, proposals, points ... written with it)."""
    values = dict(serializer.validated_data)
    parts = {relation: values.pop(relation)
             for relation in getattr(serializer, "part_relations", {}) if relation in values}
    return values, parts


class CaseWritableMixin(WritableMixin):
    """Creating a case registers it: the next number of the organisation's series."""

    create_serializer = CaseRegistrationSerializer

    def perform_write(self, serializer):
        return register_case(**serializer.validated_data, user=self.request.user)


def write_schema(viewset, model):
    """OpenAPI description of a collection's write operations, in English."""
    from .schema import english_names

    singular, _, article = english_names(model)
    label = singular
    if_match = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True,
                                description="The ETag from your last GET of the record.")
    from .registry import resource_for

    full = resource_for(model).full
    reason = VoidSerializer().fields["reason"]
    return {
        "create": extend_schema(summary=f"Create {article} {label}",
                                responses={201: full, **PROBLEM_RESPONSES}),
        "update": extend_schema(summary=f"Replace {article} {label}", parameters=[if_match],
                                responses={200: full, **PROBLEM_RESPONSES}),
        "partial_update": extend_schema(summary=f"Change fields of {article} {label}",
                                        parameters=[if_match],
                                        responses={200: full, **PROBLEM_RESPONSES}),
        "destroy": extend_schema(
            summary=f"Void {article} {label}",
            description="Voids the record (makulering): it leaves normal lists, appears as a "
                        "tombstone in sync, and stays readable by id. Nothing is deleted.",
            parameters=[if_match, OpenApiParameter(
                "reason", {"type": "string", "minLength": reason.min_length,
                           "maxLength": reason.max_length},
                required=True, description=reason.help_text)],
            responses={200: full, **PROBLEM_RESPONSES}),
    }

