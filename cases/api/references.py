"""References to records by id or by the natural key people use: in bodies and in filters.

A client knows "KS", "Malmö", "KS 2025/638", not UUIDs. Wherever a body or a filter names a
related record it may give the id or, for the kinds of record that have one, the natural key:

- a municipality by name or kommunkod (``malmo``, ``1280``);
- an organisation by short name or name (``KS``, ``Kommunstyrelsen``), or
  ``<municipality>/<short name or name>`` (``Malmö/KS``);
- a case by any of its registration numbers, case and spaces ignored (``ks2025/638``);
- a party by abbreviation or name (``L``, ``Liberalerna``);
- a person by name or a spelling of it kept from the sources.

Text is compared without case and diacritics with PostgreSQL's ``unaccent``, as the search
does (``cases.search``: ``Jonsson`` finds ``Jönsson``). Municipalities, organisations and
parties are small tables (hundreds of rows): a lookup scans them. A registration number is
found through the expression index on its normalised form (``registration_number_normalised``,
migration 0021); a person's name through a scan of people (thousands), acceptable for the one
lookup a write makes.

In a body a key must name one record: when it names several (a "KS" in every municipality),
the body's own ``municipality`` decides, else the answer is a 400 listing the candidates. A
filter takes every record the key names (``parent=Kommunfullmäktige`` lists the bodies under
each municipality's council).
"""

import re
import uuid

from django.db.models import Q, Value
from django.db.models.functions import Replace, Upper
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from cases import models as m

CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
MUNICIPALITY_SEPARATOR = "/"
SURROGATE = re.compile("[\ud800-\udfff]")  # (no text PostgreSQL can store, nor NUL)


def normalised_number(value: str) -> str:
    """Registration numbers compare without case or spaces: 'ks 2025/638' = 'KS 2025/638'."""
    return "".join(value.split()).upper()


NORMALISED_NUMBER = Replace(Upper("number"), Value(" "), Value(""))  # indexed (0021)


def cases_numbered(value: str):
    """Ids of the cases with a live registration number equal to ``value`` normalised."""
    return m.RegistrationNumber.objects.annotate(normalised=NORMALISED_NUMBER).filter(
        normalised=normalised_number(value), voided_at__isnull=True).values("case")


def _text(field: str, value: str) -> Q:
    return Q(**{f"{field}__unaccent__iexact": value})


def _municipalities(value: str) -> Q:
    return Q(code=value) | _text("name", value)


def _organisations(value: str) -> Q:
    match = _text("short_name", value) | _text("name", value)
    place, sep, rest = value.partition(MUNICIPALITY_SEPARATOR)
    if sep and place.strip() and rest.strip():
        match |= Q(pk__in=m.Organisation.objects.filter(
            _text("short_name", rest.strip()) | _text("name", rest.strip()),
            municipality__in=m.Municipality.objects.filter(_municipalities(place.strip())))
            .values("pk"))
    return match


def _cases(value: str) -> Q:
    return Q(pk__in=cases_numbered(value))


def _parties(value: str) -> Q:
    return Q(abbreviation__iexact=value) | _text("name", value)


def _people(value: str) -> Q:
    return _text("name", value) | Q(pk__in=m.PersonNameVariant.objects.filter(
        _text("name", value), voided_at__isnull=True).values("person"))


# model -> (how a key finds records, what the key is, an example)
NATURAL_KEYS = {
    m.Municipality: (_municipalities, "name or kommunkod", "Malmö"),
    m.Organisation: (_organisations, "short name or name, optionally as "
                                     "<municipality>/<short name>", "Malmö/KS"),
    m.Case: (_cases, "registration number (case and spaces ignored)", "KS 2025/638"),
    m.Party: (_parties, "abbreviation or name", "L"),
    m.Person: (_people, "name (or a spelling of it kept from the sources)", "Jan Jönsson"),
}


def natural_key_q(model, value: str) -> Q | None:
    """The records of ``model`` that ``value`` names as a natural key (None: no such key)."""
    found = NATURAL_KEYS.get(model)
    return None if found is None else found[0](value.strip())


def key_description(model) -> str | None:
    found = NATURAL_KEYS.get(model)
    return None if found is None else (
        f"Id (uuid) or natural key: {found[1]}; case and diacritics ignored.")


def _label(record) -> str:
    municipality = getattr(record, "municipality", None)
    if isinstance(record, m.Organisation):
        name = record.short_name or record.name
        return f"{municipality.name}{MUNICIPALITY_SEPARATOR}{name}" if municipality else name
    if isinstance(record, m.Case):
        return f"{record.pk} (in {municipality.name})"
    return f"{record} ({record.pk})"


def _municipality_of(record):
    return getattr(record, "municipality_id", None)


class Reference(serializers.PrimaryKeyRelatedField):
    """A related record that exists and is not voided, by id or by natural key.

    A key naming several records is narrowed by the body's ``municipality`` (itself given by
    id or key); if several remain, the 400 lists them, each as a key that names it alone."""

    default_error_messages = {
        "does_not_exist": "No live record with id {pk_value}: it does not exist or is voided.",
        "no_key": "No live {model} with id or {what} “{value}”.",
        "ambiguous": "“{value}” names several records: {candidates}. Give the id or one of "
                     "these.",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        model = getattr(self.queryset, "model", None)
        if key_description(model):
            self.help_text = " ".join(str(p) for p in (self.help_text, key_description(model)) if p)

    def run_validation(self, data=serializers.empty):
        """"" is not an id (DRF would read it as null): the schema says a string or null."""
        if data == "":
            self.fail("incorrect_type", data_type="empty string")
        return super().run_validation(data)

    def get_queryset(self):
        queryset = super().get_queryset()
        if hasattr(queryset.model, "voided_at"):
            queryset = queryset.filter(voided_at__isnull=True)
        return queryset

    def to_internal_value(self, data):
        model = self.get_queryset().model
        if not isinstance(data, str) or CANONICAL_UUID.match(data.strip()) \
                or model not in NATURAL_KEYS:
            return super().to_internal_value(data)
        if not data.strip() or len(data) > 300 or "\x00" in data or SURROGATE.search(data):
            self.fail("no_key", model=model._meta.verbose_name, what=NATURAL_KEYS[model][1],
                      value=data[:300])
        found = list(self.get_queryset().filter(natural_key_q(model, data))
                     .select_related(*(["municipality"] if model in (
                         m.Organisation, m.Case) else []))[:20])
        if len(found) > 1:
            found = self._narrowed(found)
        if not found:
            self.fail("no_key", model=model._meta.verbose_name, what=NATURAL_KEYS[model][1],
                      value=data)
        if len(found) > 1:
            self.fail("ambiguous", value=data,
                      candidates=", ".join(sorted(_label(r) for r in found)))
        return found[0]

    def _narrowed(self, found):
        """The candidates in the body's municipality, when the body names one."""
        body = self._body()
        name = "municipality"
        if not isinstance(body, dict) or not isinstance(body.get(name), str) \
                or self.field_name == name:
            return found
        value = body[name].strip()
        places = m.Municipality.objects.filter(voided_at__isnull=True)
        place = places.filter(pk=value).first() if CANONICAL_UUID.match(value) else (
            places.filter(natural_key_q(m.Municipality, value)).first())
        if place is None:
            return found
        return [r for r in found if _municipality_of(r) == place.pk] or found

    def _body(self):
        """The object this field is read from (the whole body, or one part of it)."""
        parent = self.parent
        return getattr(parent, "_item_data", None) or getattr(parent, "initial_data", None)


def as_uuid(value: str):
    try:
        return uuid.UUID(value.strip()) if CANONICAL_UUID.match(value.strip()) else None
    except ValueError:
        return None


class ReferenceExtension(OpenApiSerializerFieldExtension):
    """In the schema a reference with a natural key is a string, an id or a key (no
    ``format: uuid``, which would make clients refuse "KS"); others stay uuids."""

    target_class = Reference
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        model = self.target.get_queryset().model
        if model not in NATURAL_KEYS:
            return {"type": "string", "format": "uuid"}
        return {"type": "string", "minLength": 1, "maxLength": 300,
                "example": NATURAL_KEYS[model][2]}
