"""A serializer's output, computed from a plan made once per serializer instance.

DRF's ``Serializer.to_representation`` asks every field, for every record, for its attribute
(``get_attribute`` walks ``source_attrs`` with checks for mappings, callables and missing
attributes) and then for its representation, through several layers of calls. For the plain
columns that make up most of a record this generality buys nothing, and on a page of
hundreds of records it was the largest single cost of a list.

``plan(serializer)`` looks at the readable fields once and returns ``(name, getter)`` pairs:
for a concrete model column rendered by one of DRF's own field classes the getter reads the
attribute and converts it exactly as that field's ``to_representation`` would; for anything
else (method fields, nested serializers, related records, custom fields) it calls the field's
own ``get_attribute`` and ``to_representation`` just as DRF does (to-many relations read the
list ``expand.loading`` loaded, when it did). ``represent`` fills the
dict in field order. The output is the same, field by field (tests/test_api_plan.py).
"""

from collections.abc import Callable

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import fields as f
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import ISO_8601, api_settings

from .expand import PREFETCHED
from .fields import Related

Getter = Callable[[object], object]


def plan(serializer) -> list[tuple[str, Getter]]:
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    columns = ({field.name for field in model._meta.concrete_fields if not field.is_relation}
               if model is not None else set())
    steps = []
    for field in serializer._readable_fields:
        getter = None
        if (len(field.source_attrs) == 1 and field.source_attrs[0] in columns
                and type(field).get_attribute is f.Field.get_attribute):
            getter = _column(field.source_attrs[0], converter(field))
        elif isinstance(field, f.SerializerMethodField):
            getter = getattr(field.parent, field.method_name)
        elif len(field.source_attrs) == 1 and (
                isinstance(field, serializers.ListSerializer)
                or isinstance(field, Related) and field.many):
            getter = _many(field, field.source_attrs[0])
        elif (len(field.source_attrs) == 1 and isinstance(field, Related)
              and type(field).get_attribute is Related.get_attribute):
            getter = _forward(field, field.source_attrs[0])
        steps.append((field.field_name, getter or _general(field)))
    return steps


def represent(steps: list[tuple[str, Getter]], instance) -> dict:
    data = {}
    for name, getter in steps:
        try:
            data[name] = getter(instance)
        except SkipField:
            pass
    return data


def _column(attname: str, convert: Callable) -> Getter:
    def get(instance):
        value = getattr(instance, attname)
        return None if value is None else convert(value)

    return get


def _many(field, attname: str) -> Getter:
    """Related records from the list ``expand.loading`` loaded, else as DRF gets them."""
    general = _general(field)
    key = PREFETCHED + attname

    def get(instance):
        items = instance.__dict__.get(key)
        return general(instance) if items is None else field.to_representation(items)

    return get


def _forward(field, attname: str) -> Getter:
    """A related record (joined or prefetched), read directly; anything unusual as DRF."""
    general = _general(field)

    def get(instance):
        try:
            value = getattr(instance, attname)
        except (ObjectDoesNotExist, AttributeError):
            return general(instance)
        return None if value is None else field.to_representation(value)

    return get


def _general(field) -> Getter:
    """What DRF's Serializer.to_representation does for one field."""

    def get(instance):
        attribute = field.get_attribute(instance)
        check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if check is None else field.to_representation(attribute)

    return get


def converter(field) -> Callable:
    """``field.to_representation`` for a non-null value, or a faster equivalent."""
    kind = type(field)
    if kind is f.CharField:
        return str
    if kind is f.UUIDField and field.uuid_format == "hex_verbose":
        return str
    if kind is f.IntegerField:
        return int
    if kind is f.BooleanField:
        def boolean(value):
            return value if value is True or value is False else field.to_representation(value)

        return boolean
    if kind is f.ChoiceField:
        choices = field.choice_strings_to_values

        def choice(value):
            if value == "":
                return value
            return choices.get(str(value), value)

        return choice if all(isinstance(k, str) for k in choices.values()) else \
            field.to_representation
    if issubclass(kind, f.DateTimeField) and _iso(field, api_settings.DATETIME_FORMAT):
        zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
        if zone is None:
            return field.to_representation

        def instant(value):
            if isinstance(value, str) or value.tzinfo is None:
                return field.to_representation(value)
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:
                return field.to_representation(value)
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return instant
    if kind is f.DateField and _iso(field, api_settings.DATE_FORMAT):
        def day(value):
            return value if isinstance(value, str) else value.isoformat()

        return day
    return field.to_representation


def _iso(field, default) -> bool:
    output = getattr(field, "format", default)
    return output is not None and output.lower() == ISO_8601

