"""Read-only viewsets of every collection; thin: querying lives in selectors."""

import functools

from django.conf import settings
from django.utils.translation import gettext
from drf_spectacular.plumbing import force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import models as m
from cases.confidentiality import annotate_withheld_joined
from cases.selectors import case_timeline, links_of

from . import etags, expand, filters, rows
from . import parts as p
from . import writes as w
from .access import is_cleared
from .history import HistoryMixin
from .pagination import (
    PAGING_PARAMETERS,
    SYNC_PARAMETER,
    SYNC_POSITION,
    FeedPagination,
    InvalidCursor,
    KeysetPagination,
    decode_cursor,
    paging,
    sync_token,
)
from .problems import InvalidParameters, ProblemAutoSchema
from .registry import resource_for
from .schema import english_names, expandable_paths
from .serializers import LinkSerializer, RecordReferenceSerializer
from .writes import WritableMixin, write_schema

LIST_PARAMETERS = PAGING_PARAMETERS | {"ordering", "expand", SYNC_PARAMETER}
# The plain list and the change feed (``/<collection>/changes/``): one query, two schemas.
LISTS = ("list", "changes")
DETAIL_PARAMETERS = {"expand"}


class DirectedLinkSerializer(LinkSerializer):
    direction = serializers.SerializerMethodField(
        help_text="outgoing: this record is the source; incoming: it is the target.")

    class Meta(LinkSerializer.Meta):
        fields = [*LinkSerializer.Meta.fields, "direction"]

    def get_direction(self, obj) -> str:
        return "outgoing" if obj.source_id == self.context["record_id"] else "incoming"


class TimelineEventSerializer(serializers.Serializer):
    """One dated event of a case: received, referred, consulted, answered, decided ..."""

    date = serializers.DateField(allow_null=True, help_text="When; null if the sources "
                                                            "give no full date.")
    date_as_written = serializers.CharField(help_text="The date as the source writes it.")
    kind = serializers.CharField(help_text="What happened, e.g. document, referral_received.")
    title = serializers.CharField(help_text="Short description.")
    record = RecordReferenceSerializer(help_text="The record behind the event.")


class RegisterAutoSchema(ProblemAutoSchema):
    """Fields that appear only with ``?expand=`` are optional in responses, not required.

    drf-spectacular marks every read-only field required; expand-only relations (a case's
    documents, every record's sources) are absent unless asked for. Reads other than a
    record's history need no authentication (unless REQUIRE_TOKEN_FOR_READS is set), as
    RegisterPermission decides; the schema says so with an empty security requirement.
    """

    def get_auth(self):
        auths = super().get_auth()
        if (self.method in permissions.SAFE_METHODS and not settings.REQUIRE_TOKEN_FOR_READS
                and getattr(self.view, "action", None) != "history" and {} not in auths):
            auths.append({})
        return auths

    def get_paginated_name(self, serializer_name: str) -> str:
        """The change feed's pages are their own component (records or tombstones)."""
        if getattr(self.view, "action", None) == "changes":
            return f"Paginated{serializer_name}ChangeList"
        return super().get_paginated_name(serializer_name)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        optional = {name for name, field in force_instance(serializer).fields.items()
                    if getattr(field, "expand_only", False)}
        required = [name for name in schema.get("required", []) if name not in optional]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return schema


class RegisterViewSet(HistoryMixin, viewsets.ReadOnlyModelViewSet):
    """Base of every collection: strict parameters, expand, keyset pages, tombstones."""


    schema = RegisterAutoSchema()
    pagination_class = KeysetPagination
    ordering_fields = ("created", "modified")
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    model: type
    filterset_class: type

    @property
    def resource(self):
        return resource_for(self.model)

    def get_serializer_class(self):
        return self.resource.full

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["expand"] = getattr(self, "expand_tree", {})
        context["tombstones"] = self.tombstones
        return context

    @property
    def tombstones(self) -> bool:
        """Voided records come as tombstones in the change feed; in the plain list too when
        it is asked as the feed was before it had its own path (sync_token, modified_since),
        so that mirrors written then keep working."""
        params = self.request.query_params
        return self.action == "changes" or self.action == "list" and (
            SYNC_PARAMETER in params or bool(params.get("modified_since")))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not hasattr(self, request.method.lower()) or (
                request.method.lower() not in self.http_method_names):
            self.expand_tree, self.prefetch, self.layout = {}, [], None
            return  # dispatch answers 405 with Allow: the parameters do not matter
        self.expand_tree, self.prefetch = self._check_parameters(request)
        self.layout = (rows.layout_for(self.get_serializer_class(), self.expand_tree)
                       if self.action in (*LISTS, "retrieve") else None)

    def get_queryset(self):
        queryset = self.model.objects.all()
        if self.action in LISTS and not self.tombstones:
            queryset = queryset.filter(voided_at__isnull=True)
        if getattr(self, "layout", None) is not None:
            return queryset  # rendered from rows, which load what they show
        joined, unread, prefetched = expand.loading(
            self.model, getattr(self, "prefetch", []),
            expand.briefs(self.resource.full, getattr(self, "expand_tree", {})))
        if joined:  # (with no arguments select_related would join every foreign key)
            queryset = queryset.select_related(*joined).defer(*unread)
        if self.action not in LISTS:  # (a list's page: pagination.page_rows)
            queryset = annotate_withheld_joined(queryset)  # what is withheld, in one query
        return queryset.prefetch_related(*prefetched)

    def list(self, request, *args, **kwargs):
        """Records go straight from rows to JSON when the serializer allows it
        (cases.api.rows); otherwise through the serializer."""
        if self.layout is None:
            return super().list(request, *args, **kwargs)
        render = functools.partial(rows.render_page, self.layout, request=request,
                                   tombstones=self.tombstones)
        page = self.paginator.paginate_queryset(self.filter_queryset(self.get_queryset()),
                                                request, view=self, render=render)
        return self.get_paginated_response(page)

    # Actions whose response is one record, tagged "<version>-<digest>" (cases.api.etags).
    RECORD_ACTIONS = frozenset({"retrieve", "create", "update", "partial_update", "destroy"})

    def get_object(self):
        record = super().get_object()
        self.version_sent = record.version
        return record

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        version = getattr(self, "version_sent", None)
        if (version is not None and getattr(self, "action", None) in self.RECORD_ACTIONS
                and response.status_code in (200, 201)):
            etags.tag_response(response, version)
        return response

    def retrieve(self, request, *args, **kwargs):
        if self.layout is None:
            return super().retrieve(request, *args, **kwargs)
        record = self.get_object()  # 404 and object permissions as always
        return Response(rows.render_record(self.layout, record.pk, request=request))

    def filter_queryset(self, queryset):
        # Only lists filter: any other action refuses filter parameters (_check_parameters),
        # so building a filterset for it (a millisecond or two) would change nothing.
        if self.action not in LISTS:
            return queryset
        return super().filter_queryset(queryset)

    def ordering_for(self, request) -> tuple[str, bool]:
        """The ``ordering`` asked for; without one, the column of a range filter given
        (``range_ordering``), else ``created``."""
        raw = request.query_params.get("ordering") or self.range_ordering(
            request.query_params) or "created"
        return raw.lstrip("-"), raw.startswith("-")

    def range_ordering(self, params) -> str | None:
        """The column a range filter in ``params`` bounds, when the collection can be
        ordered by it: the collection's own ranges (``date_after``, ``due_before`` ...)
        before ``modified_since``/``modified_until``.

        A page of a range in ``created`` order walks the created index from the oldest
        record and tests each one, because PostgreSQL expects the matches spread evenly
        through it. They are not: the recently modified and recently dated records are the
        recent ones, so ``cases?modified_since=`` a year back read ~800,000 records before
        its first match (185 ms at a million cases; 1.2 s with a status). In the range's
        own order the page is the first entries of its index."""
        ranged = self.ranged_fields(params)
        return ranged[0] if ranged else None

    def ranged_fields(self, params) -> tuple[str, ...]:
        """The orderable columns the range filters in ``params`` bound, the collection's
        own first."""
        return tuple(found.field_name
                     for name, found in reversed(self.filterset_class.base_filters.items())
                     if params.get(name) and found.lookup_expr in ("gte", "lte")
                     and found.field_name in self.ordering_fields)

    def _check_parameters(self, request):
        """Validate every query parameter at once; 400 lists all that are wrong."""
        params = request.query_params
        problems: dict[str, list[str]] = {}
        if self.action in LISTS:
            allowed = LIST_PARAMETERS | set(self.filterset_class.base_filters)
            # Kept for the filter backend, which filters with it (ValidatedFilterBackend).
            self.validated_filterset = self.filterset_class(
                params, queryset=self.model.objects.none(), request=request)
            form = self.validated_filterset.form
            if not form.is_valid():
                for name, errors in form.errors.items():
                    problems[name] = list(errors)
            ordering = params.get("ordering")
            if ordering and ordering.lstrip("-") not in self.ordering_fields:
                choices = ", ".join(self.ordering_fields)
                problems["ordering"] = [gettext(
                    "Order by one of %(choices)s, with - for descending.") % {
                        "choices": choices}]
            try:
                syncing = sync_token(params.get(SYNC_PARAMETER)) is not None
            except ValueError as exc:
                syncing = True
                problems[SYNC_PARAMETER] = [str(exc)]
            if syncing and ordering is not None:
                problems["ordering"] = [gettext(
                    "A sync feed comes in commit order: leave out ordering.")]
            problems.update(paging(params)[2])
            field, _ = self.ordering_for(request)
            if params.get("cursor") and syncing:
                try:
                    if decode_cursor(params["cursor"], SYNC_POSITION)[0] is None:
                        raise InvalidCursor(gettext(
                            "Not a cursor returned by this API's sync feed."))
                except InvalidCursor as exc:
                    problems["cursor"] = [str(exc)]
            elif params.get("cursor") and field in self.ordering_fields:
                try:
                    decode_cursor(params["cursor"], self.model._meta.get_field(field))
                except InvalidCursor as exc:
                    problems["cursor"] = [str(exc)]
        elif self.action == "destroy":
            allowed = {"reason"}
        elif self.action in ("history", "links", "timeline"):
            allowed = set()
        else:
            allowed = DETAIL_PARAMETERS
        for name in params:
            if name not in allowed:
                problems[name] = [gettext("Unknown query parameter.")]
        # Comma-separated or repeated (generated clients send an array as expand=a&expand=b);
        # an empty path (expand=, expand=a,,b) is no path the schema enumerates.
        paths = [part for value in params.getlist("expand") for part in value.split(",")]
        tree = expand.parse(",".join(paths))
        lookups, invalid = expand.walk(self.resource.full, tree)
        if invalid:
            problems["expand"] = [gettext("Cannot expand %(path)s.") % {"path": path}
                                  for path in invalid]
        elif any(not part.strip() for part in paths):
            problems["expand"] = [gettext("An empty path: name a field to expand.")]
        if problems:
            raise InvalidParameters(problems)
        return tree, lookups

    @action(detail=False, methods=["get"], pagination_class=FeedPagination)
    def changes(self, request):
        """The change feed: the list with voided records as tombstones (see collection())."""
        return self.list(request)

    @extend_schema(responses=DirectedLinkSerializer(many=True),
                   summary="Links from and to this record",
                   description="Every typed link with this record as source or target.")
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def links(self, request, pk=None):
        record = self.get_object()
        context = {**self.get_serializer_context(), "record_id": record.pk}
        return Response(DirectedLinkSerializer(links_of(record), many=True, context=context).data)


def expand_parameter(viewset) -> OpenApiParameter:
    """The values ``expand`` takes, enumerated (paths two levels deep; the service follows
    deeper paths too, which the enumeration leaves out to stay finite)."""
    serializer = resource_for(viewset.model).full
    return OpenApiParameter(
        "expand", {"type": "array", "items": {"type": "string",
                                              "enum": expandable_paths(serializer)}},
        style="form", explode=False, description=(
            "Comma-separated related fields to embed in full instead of brief; dotted paths "
            "reach further, e.g. `motion.authors`. Expandable here: "
            + ", ".join(sorted(expand.expandable_names(serializer)))),
        examples=[OpenApiExample("Documents and motion authors", "documents,motions.authors")]
        if viewset.model is m.Case else [])


def ordering_parameter(viewset) -> OpenApiParameter:
    values = [v for f in viewset.ordering_fields for v in (f, f"-{f}")]
    return OpenApiParameter("ordering", OpenApiTypes.STR, enum=values,
                            description="Sort field; - for descending. Default: the field "
                                        "of a date-range filter given (the collection's own, "
                                        "e.g. date_after, before modified_since), ascending; "
                                        "without one, created (stable while records change).")


class CaseViewSetBase(RegisterViewSet):
    @extend_schema(responses=TimelineEventSerializer(many=True), summary="A case's timeline",
                   operation_id="cases_timeline",
                   description="Documents, referrals, responses, decisions and activities of "
                               "the case in date order; undated events last.")
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request, pk=None):
        events = case_timeline(self.get_object(), request=request, cleared=is_cleared(request))
        return Response(TimelineEventSerializer(events, many=True).data)


def collection(model, filterset, ordering=("created", "modified"), base=RegisterViewSet,
               examples=(), write=None, writable=WritableMixin):
    """Build the viewset of a collection (writable when given a write serializer). Its
    summaries use the model's English names (the API speaks English; verbose names are read
    in the admin's Swedish)."""
    resource = resource_for(model)
    singular, label, article = english_names(model)
    name = resource.collection.replace("-", "_")
    attrs = {"model": model, "filterset_class": filterset, "ordering_fields": ordering,
             "__doc__": f"{label.capitalize()} in the register."}
    bases = (base,)
    if write is not None:
        attrs["write_serializer"] = write
        bases = (writable, base)
    viewset = type(f"{model.__name__}ViewSet", bases, attrs)
    if write is not None:
        viewset = extend_schema_view(**write_schema(viewset, model))(viewset)
    return extend_schema_view(
        list=extend_schema(summary=f"List {label}",
                           parameters=[expand_parameter(viewset), ordering_parameter(viewset),
                                       *examples],
                           description=f"{label.capitalize()}, filtered, in keyset pages; "
                                       "voided records are left out. A mirror follows "
                                       f"`{name}_changes` (`/changes/`) instead, which lists "
                                       "voided records as tombstones."),
        changes=extend_schema(
            summary=f"Change feed of {label}", operation_id=f"{name}_changes",
            responses=resource.full(many=True),
            parameters=[expand_parameter(viewset), ordering_parameter(viewset), *examples],
            description=f"{label.capitalize()} for mirrors: the list's records and filters, "
                        "with voided records as tombstones. With sync_token, the sync feed: "
                        "changes in commit order, and a sync_token to resume from on the last "
                        "page. modified_since is a filter, not a resume point: it can miss "
                        "late commits. (The list answers the same to sync_token and "
                        "modified_since, as it did before the feed had its own path.)"),
        retrieve=extend_schema(summary=f"One {singular}",
                               parameters=[expand_parameter(viewset)]),
        links=extend_schema(operation_id=f"{name}_links"),
    )(viewset)


VIEWSETS = [
    collection(m.Municipality, filters.MunicipalityFilterSet, ("created", "modified", "name"),
               write=p.MunicipalityWriteSerializer),
    collection(m.Organisation, filters.OrganisationFilterSet, ("created", "modified", "name"),
               write=p.OrganisationWriteSerializer),
    collection(m.Party, filters.PartyFilterSet, ("created", "modified", "abbreviation"),
               write=p.PartyWriteSerializer),
    collection(m.Person, filters.PersonFilterSet, ("created", "modified", "name"),
               write=p.PersonWriteSerializer),
    collection(m.Case, filters.CaseFilterSet, ("created", "modified", "registered", "closed"),
               base=CaseViewSetBase, write=w.CaseWriteSerializer, writable=p.CaseWritableMixin,
               examples=[
                   OpenApiParameter(
                       "registration_number", str,
                       description=filters.CaseFilterSet.base_filters[
                           "registration_number"].extra["help_text"],
                       examples=[OpenApiExample("As written", "KS 2025/638"),
                                 OpenApiExample("Any case and spacing", "ks2025/638")]),
               ]),
    collection(m.Document, filters.DocumentFilterSet, ("created", "modified", "date"),
               write=p.DocumentWriteSerializer),
    collection(m.Motion, filters.MotionFilterSet, ("created", "modified", "date", "title"),
               write=p.MotionWriteSerializer),
    collection(m.Referral, filters.ReferralFilterSet,
               ("created", "modified", "received_date", "due_date"),
               write=p.ReferralWriteSerializer),
    collection(m.ReferralResponse, filters.ReferralResponseFilterSet,
               ("created", "modified", "date"),
               write=w.ReferralResponseWriteSerializer),
    collection(m.Decision, filters.DecisionFilterSet,
               ("created", "modified", "date", "follow_up_due"),
               write=p.DecisionWriteSerializer),
    collection(m.CollaborationModel, filters.CollaborationModelFilterSet,
               ("created", "modified", "name"), write=p.CollaborationModelWriteSerializer),
    collection(m.Activity, filters.ActivityFilterSet, ("created", "modified", "date"),
               write=w.ActivityWriteSerializer),
    collection(m.Link, filters.LinkFilterSet, write=w.LinkWriteSerializer),
]
