"""Filters of every collection (django-filter), one FilterSet per model.

Every collection has ``id`` (comma-separated ids), the time filters ``modified_since``,
``modified_until`` and ``created_since`` (inclusive, RFC 3339; mirrors resume from a
``sync_token`` instead, see ``cases.api.pagination``), and the natural keys users
know: ``registration_number=KS 2025/638`` (any case, any spacing), ``organisation=`` by id,
short name or name, ``party=L``, a person by name (any spelling kept for them), and so on.
"""

import datetime
import re
import uuid

import django_filters as df
from django import forms
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend

from cases import models as m
from cases.confidentiality import withheld_path, withheld_q

from .access import is_cleared
from .references import cases_numbered, natural_key_q

TEXT_MAX = 200  # a search phrase, not a document: keeps every URL far below server limits


def _as_uuid(value: str):
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


class ValidatedFilterBackend(DjangoFilterBackend):
    """django-filter's backend, filtering with the filterset the view already built and
    validated while checking every query parameter, instead of building and validating a
    second one (its form alone took milliseconds of every list request)."""

    def filter_queryset(self, request, queryset, view):
        filterset = getattr(view, "validated_filterset", None)
        if filterset is None or not filterset.is_valid():
            return super().filter_queryset(request, queryset, view)
        return filterset.filter_queryset(queryset.all())


class CommaOrRepeatedWidget(forms.TextInput):
    """Every part of ``a,b`` or ``id=a&id=b``, empty ones included: ``id=`` or ``id=a,,b``
    is a 400 (the schema's array of UUIDs holds no empty string), not the filter ignored."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        parts = [part for value in values if value is not None for part in value.split(",")]
        return parts or None


CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class CanonicalUUIDField(forms.UUIDField):
    """A UUID as the schema's ``format: uuid`` (RFC 9562) writes it, 8-4-4-4-12 hex digits.
    Django's field also takes 32 bare digits, braces or a ``urn:uuid:`` prefix: values every
    client validating against the schema refuses to send, so the API refuses them too."""

    def to_python(self, value):
        if value not in self.empty_values and not CANONICAL_UUID.match(str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class UUIDFilter(df.UUIDFilter):
    field_class = CanonicalUUIDField


class ISODateField(forms.DateField):
    """A date as RFC 3339's full-date (``format: date``), YYYY-MM-DD only: Django's field
    would also take the active language's local formats (``10/25/2006``)."""

    input_formats = ["%Y-%m-%d"]

    def to_python(self, value):
        if value not in self.empty_values and not re.fullmatch(r"\d{4}-\d\d-\d\d",
                                                                 str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DateFilter(df.DateFilter):
    field_class = ISODateField


class UUIDInFilter(df.BaseInFilter, UUIDFilter):
    """Ids, comma-separated or repeated (``id=a,b`` or ``id=a&id=b``, as generated clients
    send arrays); one that is not a UUID is a 400 naming the parameter."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", CommaOrRepeatedWidget)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """true/false (or 1/0); anything else is an error instead of being silently ignored."""

    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        text = str(value if value is not None else "").strip().lower()
        if not text:
            return None
        if text not in self.VALUES:
            raise forms.ValidationError(gettext("Must be true or false."), code="invalid")
        return self.VALUES[text]


class BooleanFilter(df.BooleanFilter):
    field_class = StrictBooleanField


class IntegerFilter(df.NumberFilter):
    """A whole number: 2023.5 is a 400, not silently read as 2023."""

    field_class = forms.IntegerField


class BoundedCharFilter(df.CharFilter):
    """Free text from a URL, at most TEXT_MAX characters."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", TEXT_MAX)
        super().__init__(*args, **kwargs)


class RecordFilter(BoundedCharFilter):
    """A related record by id, or by its natural key (cases.api.references: case and
    diacritics ignored, ``Malmö/KS`` for one municipality's KS). A key naming several
    records (``Kommunfullmäktige``) matches them all."""

    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_model = model  # (django-filter sets .model to the filtered one)

    def filter(self, qs, value):
        if not value:
            return qs
        pk = _as_uuid(value)
        if pk is not None:
            return once_each(qs, self.field_name, pk)
        named = self.record_model._base_manager.filter(natural_key_q(self.record_model, value))
        return once_each(qs, f"{self.field_name}__in", named.values("pk"))


def once_each(qs, lookup: str, value):
    """``qs`` filtered by ``lookup``, each record once. Through a foreign key (a case by its
    responsible organisation) every record matches at most once: a plain filter. Through a
    to-many relation (a document by one of its signatories) as ``id IN (the parent ids of
    the matching parts)``, read from the parts' table alone: a semi-join PostgreSQL walks from
    the parts' index. The join with DISTINCT over every column (the documents' texts
    included) took 45 s under EXPLAIN ANALYZE for ``documents?signatory=`` at 30,000
    documents. Every part counts, voided ones too, as through the join."""
    if not lookup_spawns_duplicates(qs.model._meta, lookup):
        return qs.filter(**{lookup: value})
    relation, _, rest = lookup.partition("__")
    parts = qs.model._meta.get_field(relation)
    if parts.one_to_many:  # a reverse foreign key: the parts hold their parent's id
        return qs.filter(pk__in=parts.related_model._base_manager.filter(
            **{rest: value}).values(parts.field.name))
    return qs.filter(pk__in=qs.model._base_manager.filter(**{lookup: value}).values("pk"))


class OnceEach:
    """A filter through a to-many relation (a decision by a point's text, a collaboration
    model by a sector) as a semi-join (``once_each``), not a join with DISTINCT."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        return once_each(qs, f"{self.field_name}__{self.lookup_expr}", value)


class ThroughCharFilter(OnceEach, BoundedCharFilter):
    pass


class ThroughChoiceFilter(OnceEach, df.ChoiceFilter):
    pass


class PersonNameFilter(BoundedCharFilter):
    """A person by (part of) their name or of any spelling of it kept from the sources.

    The people are found first, by their own query (the trigram indexes of names and name
    variants, a UNION of the two), and the records by their ids through the foreign key's
    index. Joined and OR-ed, PostgreSQL read every document to find a case officer; as a
    subquery, it could not tell how many people a surname names and walked the documents,
    testing each one's case officer (``documents?case_officer=Eriksson``: 37,000 documents
    read for the first 1,001 matches, 103 ms at a million documents)."""

    def filter(self, qs, value):
        if not value:
            return qs
        people = list(m.Person._base_manager.filter(name__unaccented__icontains=value)
                      .values_list("pk", flat=True).union(
            m.PersonNameVariant._base_manager.filter(name__unaccented__icontains=value)
            .values_list("person", flat=True)))
        if not self.field_name:
            return qs.filter(pk__in=people)
        return once_each(qs, f"{self.field_name}__in", people)


class ThroughIntegerFilter(OnceEach, IntegerFilter):
    """A whole number on a record's parts (``registration_numbers__year``), as ``id IN (the
    parts' parent ids)`` (``once_each``): the join with DISTINCT sorted every matching part
    (``cases?year=2023``: 1.8 s at a million cases)."""


class RegistrationNumberFilter(BoundedCharFilter):
    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": cases_numbered(value)})  # IN: each once


RFC3339_INSTANT = re.compile(
    r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")


class InstantField(IsoDateTimeField):
    """An RFC 3339 instant (``format: date-time``: date, time and offset, nothing less),
    converted to UTC here (PostgreSQL refuses offsets beyond ±15:59, RFC 3339 allows up to
    ±23:59). An instant valid in RFC 3339 that Python's datetime cannot hold in UTC (year 1
    with a positive offset, year 9999 with a negative one) lies before or after every record:
    it becomes the first or last representable instant, which selects the same records."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not RFC3339_INSTANT.match(text):
            raise forms.ValidationError(
                gettext("Must be an RFC 3339 instant with its offset, e.g. "
                        "2026-01-31T12:00:00Z."),
                code="invalid")
        value = super().to_python(text)
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            edge = datetime.datetime.min if value.year == 1 else datetime.datetime.max
            return edge.replace(tzinfo=datetime.UTC)


class InstantFilter(df.IsoDateTimeFilter):
    field_class = InstantField


def is_typed(filter_) -> bool:
    """A filter whose values the schema types (uuid, date, date-time, enum, integer,
    boolean, array of uuid), unlike free text: an empty value is not one of them."""
    return not isinstance(filter_, df.CharFilter)


class TypedValuesForm(forms.Form):
    """A filter form on which a typed parameter sent empty (``?date_after=``) is an error,
    as the schema says, instead of the filter being silently left out."""

    typed: frozenset = frozenset()

    def clean(self):
        cleaned = super().clean()
        for name in self.typed:
            values = (self.data.getlist(name) if hasattr(self.data, "getlist")
                      else [self.data.get(name)])
            if name in self.data and name not in self.errors and any(
                    not str(part).strip() for value in values for part in str(value).split(",")):
                self.add_error(name, forms.ValidationError(
                    gettext("A value is required when the parameter is given."),
                    code="required"))
        return cleaned


class RegisterFilterSet(df.FilterSet):
    """Filters every collection has."""

    _form_classes: dict = {}

    def get_form_class(self):
        """django-filter builds a new form class, every field anew, for every filterset; the
        class depends only on the filterset and the language of its labels: built once."""
        key = (type(self), translation.get_language())
        form_class = self._form_classes.get(key)
        if form_class is None:
            base = super().get_form_class()
            typed = frozenset(name for name, f in self.filters.items() if is_typed(f))
            form_class = self._form_classes[key] = type(
                base.__name__, (TypedValuesForm, base), {"typed": typed})
        return form_class

    id = UUIDInFilter(field_name="id", help_text="One or more ids, comma-separated.")
    modified_since = InstantFilter(
        field_name="modified", lookup_expr="gte",
        help_text="Records modified at or after this instant (RFC 3339). With it, voided "
                  "records are included as tombstones. A filter, not a resume point: a "
                  "change can commit after a later-stamped one, so a mirror resuming from "
                  "the newest modified it has seen can miss it; mirrors use sync_token.")
    modified_until = InstantFilter(field_name="modified", lookup_expr="lte",
                                          help_text="Records modified at or before this instant.")
    created_since = InstantFilter(field_name="created", lookup_expr="gte",
                                         help_text="Records created at or after this instant.")

    def filter_queryset(self, queryset):
        """For a reader without clearance, a filter over a withheld field (a motion's
        title, a document's signatories, a referral's consulted bodies ...) matches only
        the records whose field is not withheld: a guess is never confirmed."""
        if is_cleared(getattr(self, "request", None)):
            return super().filter_queryset(queryset)
        for name, value in self.form.cleaned_data.items():
            found = self.filters[name]
            guard, row = (None, "") if isinstance(found, ProtectedTextFilter) or (
                value in EMPTY_VALUES) else withheld_path(queryset.model, found.field_name)
            matched = found.filter(queryset, value)
            if guard is None:
                queryset = matched
            elif not lookup_spawns_duplicates(queryset.model._meta, row.removesuffix("__")):
                # The flag is on this record's row or one its foreign keys reach: excluded
                # there. (As ``pk IN`` of itself, PostgreSQL hashed every document for
                # ``documents?signatory=``: 390 ms at a million.)
                queryset = matched.exclude(guard)
            else:  # on a part's row: a record matches once, through a part not withheld
                queryset = queryset.filter(pk__in=matched.exclude(guard).values("pk"))
        return queryset


def organisation_ref(field_name: str, help_text: str) -> RecordFilter:
    return RecordFilter(field_name=field_name, model=m.Organisation, help_text=help_text)


def case_number_filter() -> RegistrationNumberFilter:
    """A record of a case, found by any registration number of that case."""
    return RegistrationNumberFilter(field_name="case",
                                    help_text="A registration number of the case.")


def case_filter(field_name="case") -> RecordFilter:
    return RecordFilter(field_name=field_name, model=m.Case,
                        help_text="The case by id or by any registration number of it (case "
                                  "and spaces ignored: ks2025/638 = KS 2025/638).")


class ProtectedTextFilter(BoundedCharFilter):
    """Text contains, on a field withheld when the record is (cases.confidentiality): for a
    reader without clearance a withheld record matches only by its public title, so no
    one can confirm a guess of withheld text by whether the record is listed."""

    def filter(self, qs, value):
        if not value:
            return qs
        lookup = Q(**{f"{self.field_name}__unaccented__icontains": value})
        request = getattr(self.parent, "request", None)
        withheld = withheld_q(qs.model)
        if is_cleared(request) or withheld is None:
            return qs.filter(lookup)
        public = lookup & ~withheld
        if self.field_name == "title":
            public |= withheld & Q(public_title__unaccented__icontains=value)
        return qs.filter(public)


def protected(field_name: str, what: str) -> ProtectedTextFilter:
    return ProtectedTextFilter(field_name=field_name,
                               help_text=f"{what} contains this text (case and accents "
                                         "ignored; of a confidential record, without "
                                         "clearance, only the public title is searched).")


def contains(field_name: str, what: str) -> df.CharFilter:
    kind = ThroughCharFilter if "__" in field_name else BoundedCharFilter
    return kind(field_name=field_name, lookup_expr="unaccented__icontains",
                help_text=f"{what} contains this text (case and accents ignored).")


def date_range(field_name: str, what: str) -> tuple[DateFilter, DateFilter]:
    return (DateFilter(field_name=field_name, lookup_expr="gte",
                       help_text=f"{what} on or after this date."),
            DateFilter(field_name=field_name, lookup_expr="lte",
                       help_text=f"{what} on or before this date."))


class MunicipalityFilterSet(RegisterFilterSet):
    name = contains("name", "Name")
    code = BoundedCharFilter(field_name="code", help_text="Kommunkod, e.g. 0180.")

    class Meta:
        model = m.Municipality
        fields = []


def municipality_ref(field_name="municipality") -> RecordFilter:
    return RecordFilter(field_name=field_name, model=m.Municipality,
                        help_text="Municipality by id, kommunkod or name (case and "
                                  "diacritics ignored: malmo = Malmö).")


class OrganisationFilterSet(RegisterFilterSet):
    name = contains("name", "Name")
    short_name = BoundedCharFilter(field_name="short_name", lookup_expr="iexact",
                               help_text="Short name, e.g. KS.")
    type = df.ChoiceFilter(choices=m.OrganisationType.choices, help_text="Kind of body.")
    municipality = municipality_ref()
    parent = organisation_ref("parent", "Parent organisation by id, short name or name.")
    external = BooleanFilter(field_name="municipality", lookup_expr="isnull",
                             help_text="true: only bodies outside any municipality.")

    class Meta:
        model = m.Organisation
        fields = []


class PartyFilterSet(RegisterFilterSet):
    abbreviation = BoundedCharFilter(lookup_expr="iexact", help_text="Letter code, e.g. L.")
    name = contains("name", "Name")

    class Meta:
        model = m.Party
        fields = []


class PersonFilterSet(RegisterFilterSet):
    name = PersonNameFilter(field_name="", help_text="Name or any spelling of it kept from "
                                                     "the sources (case and accents ignored).")
    party = RecordFilter(field_name="affiliations__party", model=m.Party,
                         help_text="Party by id, abbreviation or name.")
    organisation = organisation_ref("roles__organisation", "Holds a role in this organisation.")

    class Meta:
        model = m.Person
        fields = []


class CaseFilterSet(RegisterFilterSet):
    registration_number = RegistrationNumberFilter(
        field_name="id", help_text="Any registration number of the case; case and spaces "
                                   "ignored (ks2025/638 = KS 2025/638).")
    title = protected("title", "Title")
    status = df.ChoiceFilter(choices=m.CaseStatus.choices, help_text="Status of the case.")
    municipality = municipality_ref()
    organisation = organisation_ref("responsible_organisation",
                                "Responsible organisation by id, short name or name.")
    registered_by = organisation_ref("registration_numbers__organisation",
                                 "Has a registration number in this organisation's register.")
    year = ThroughIntegerFilter(field_name="registration_numbers__year",
                                help_text="Has a registration number of this year.")
    registered_after, registered_before = date_range("registered", "Registered")
    closed_after, closed_before = date_range("closed", "Closed")

    class Meta:
        model = m.Case
        fields = []


class DocumentFilterSet(RegisterFilterSet):
    case = case_filter()
    registration_number = case_number_filter()
    title = protected("title", "Title")
    text = protected("text", "Full text")
    type = df.ChoiceFilter(choices=m.DocumentType.choices, help_text="Document type.")
    direction = df.ChoiceFilter(choices=m.Direction.choices, help_text="Direction.")
    date_after, date_before = date_range("date", "Dated")
    organisation = organisation_ref("author_organisation", "Author body by id, short name or name.")
    prepared_by = organisation_ref("prepared_by", "Preparing unit by id, short name or name.")
    recipient = organisation_ref("recipient", "Addressee by id, short name or name.")
    case_officer = PersonNameFilter(field_name="case_officer", help_text="Case officer's name.")
    signatory = PersonNameFilter(field_name="signatories__person", help_text="Signed by.")

    class Meta:
        model = m.Document
        fields = []


class MotionFilterSet(RegisterFilterSet):
    case = case_filter()
    registration_number = case_number_filter()
    title = contains("title", "Title")
    party = RecordFilter(field_name="authors__party", model=m.Party,
                         help_text="An author's party by id, abbreviation or name, e.g. L.")
    author = PersonNameFilter(field_name="authors__person", help_text="An author's name.")
    addressed_to = organisation_ref("addressed_to", "Council by id, short name or name.")
    date_after, date_before = date_range("date", "Dated")

    class Meta:
        model = m.Motion
        fields = []


class ReferralFilterSet(RegisterFilterSet):
    case = case_filter()
    registration_number = case_number_filter()
    title = contains("title", "Title")
    sender = organisation_ref("sender", "Sender by id, short name or name.")
    consulted = organisation_ref("consulted_bodies__organisation",
                             "A consulted body by id, short name or name.")
    motion = UUIDFilter(field_name="motion", help_text="Id of the referred motion.")
    received_after, received_before = date_range("received_date", "Received")
    due_after, due_before = date_range("due_date", "Due")

    class Meta:
        model = m.Referral
        fields = []


class ReferralResponseFilterSet(RegisterFilterSet):
    referral = UUIDFilter(field_name="referral", help_text="Id of the referral.")
    organisation = organisation_ref("organisation", "Responding body by id, short name or name.")
    document = UUIDFilter(field_name="document", help_text="Id of the answering document.")
    position = df.ChoiceFilter(choices=m.ResponsePosition.choices, help_text="Stance.")
    date_after, date_before = date_range("date", "Answered")

    class Meta:
        model = m.ReferralResponse
        fields = []


class DecisionFilterSet(RegisterFilterSet):
    case = case_filter()
    registration_number = case_number_filter()
    kind = df.ChoiceFilter(choices=m.DecisionKind.choices, help_text="Proposed or decided.")
    organisation = organisation_ref("organisation", "Deciding body by id, short name or name.")
    proposed_by = organisation_ref("proposed_by", "Proposing body by id, short name or name.")
    document = UUIDFilter(field_name="document", help_text="Id of the stating document.")
    immediately_adjusted = BooleanFilter(help_text="Justeras omedelbart.")
    date_after, date_before = date_range("date", "Decided")
    follow_up_after, follow_up_before = date_range("follow_up_due", "Follow-up due")
    text = contains("points__text", "A point's text")

    class Meta:
        model = m.Decision
        fields = []


class CollaborationModelFilterSet(RegisterFilterSet):
    name = contains("name", "Name")
    abbreviation = BoundedCharFilter(lookup_expr="iexact", help_text="Short form, e.g. SST.")
    level = df.ChoiceFilter(choices=m.CollaborationLevel.choices, help_text="Level.")
    status = df.ChoiceFilter(choices=m.CollaborationStatus.choices, help_text="Status.")
    municipality = municipality_ref()
    sector = ThroughChoiceFilter(field_name="sectors__sector", choices=m.Sector.choices,
                                 help_text="A sector involved.")
    used_by = organisation_ref("usages__organisation", "Used by this organisation.")
    used_in = municipality_ref("usages__municipality")

    class Meta:
        model = m.CollaborationModel
        fields = []


class ActivityFilterSet(RegisterFilterSet):
    case = case_filter()
    type = df.ChoiceFilter(choices=m.ActivityType.choices, help_text="Kind of event.")
    organisation = organisation_ref("organisation", "Body by id, short name or name.")
    person = PersonNameFilter(field_name="person", help_text="Person's name.")
    date_after, date_before = date_range("date", "Dated")

    class Meta:
        model = m.Activity
        fields = []


class LinkFilterSet(RegisterFilterSet):
    type = df.ChoiceFilter(choices=m.LinkType.choices, help_text="Link type.")
    source_type = BoundedCharFilter(field_name="source_type__model",
                                help_text="Model name of the source, e.g. motion.")
    source_id = UUIDFilter(help_text="Id of the source record.")
    target_type = BoundedCharFilter(field_name="target_type__model",
                                help_text="Model name of the target, e.g. case.")
    target_id = UUIDFilter(help_text="Id of the target record.")
    record = UUIDFilter(method="filter_record",
                           help_text="Links from or to this record (both directions).")

    class Meta:
        model = m.Link
        fields = []

    def filter_record(self, qs, name, value):
        return qs.filter(Q(source_id=value) | Q(target_id=value))
