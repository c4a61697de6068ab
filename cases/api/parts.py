"""Writing a record with its parts in one body: a motion with its authors and proposals.

Every collection whose records have parts (``cases.services.parts.parts_of``: found from the
models) takes them nested in its write body, under the names its representation shows them
(``authors``, ``proposals``, ``points``, ``signatories`` ...):

- creating a record creates the parts listed;
- on PUT or PATCH a list given is the record's full set of that kind: an item with the
  ``id`` of a live part changes it (on PATCH, only the fields the item gives), an item
  without one adds a part, a live part left out is voided; a list not given is left as is;
- the whole body is validated at once (errors per item, in DRF's nested form, e.g.
  ``authors[1].person``) and stored in one transaction, under the record's If-Match: the
  ETag of the record covers its parts, which its representation shows;
- the parts of a record withheld from the writer (a confidential case's motion) cannot be
  rewritten without clearance, since the writer cannot see them.

The write serializers of the collections that were read-only (municipalities, organisations,
parties, people, collaboration models) are here too, with their parts.
"""

import functools
from collections import Counter
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import models as djmodels
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings
from rest_framework.validators import UniqueValidator

from cases import models as m
from cases.confidentiality import is_withheld
from cases.services.voiding import part_of

from . import writes as w
from .access import is_cleared
from .references import Reference
from .registry import resource_for, resource_or_none

NON_FIELD = "__all__"  # Django's key for errors of no one field


class StrictDecimalField(serializers.DecimalField):
    """A JSON number only (the schema's ``type: number``): DRF also takes "12.5"."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float, Decimal)):
            self.fail("invalid")
        try:  # cut before the digits are counted: 12.345 is 12.34, not an error
            data = Decimal(str(data)).quantize(Decimal(1).scaleb(-self.decimal_places),
                                               rounding=self.rounding)
        except InvalidOperation:
            self.fail("invalid")
        return super().to_internal_value(data)


class PartItemMixin:
    """One item of a part list: ``id`` names a live part to change; without it, a new one."""

    def get_fields(self):
        fields = super().get_fields()
        fields["id"] = serializers.UUIDField(
            required=False, help_text="Id of the live part to change; leave out to add one.")
        return fields

    def to_internal_value(self, data):
        self._item_data = data  # for references narrowed by the item's municipality
        return super().to_internal_value(data)

    def validate(self, attrs):
        if attrs.get("id") is None and getattr(self.root, "partial", False):
            # A PATCH leaves out what it does not change; a new part has nothing to keep.
            missing = {name: [serializers.Field.default_error_messages["required"]]
                       for name, field in self.fields.items()
                       if field.required and not field.read_only and field.source not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        try:
            return super().validate(attrs)
        except serializers.ValidationError as exc:  # a rule between fields, named as DRF does
            if isinstance(exc.detail, dict) and NON_FIELD in exc.detail:
                exc.detail[api_settings.NON_FIELD_ERRORS_KEY] = exc.detail.pop(NON_FIELD)
            raise


class StoredPartMixin:
    """The candidate checked for an item naming a stored part is that part changed, but
    without its record: its place among the record's parts (unique position, person ...) is
    checked among the list's items, which make the full set (``PartsMixin``)."""

    def _candidate(self, attrs):
        model = self.Meta.model
        stored = model._default_manager.filter(pk=attrs["id"]).first() \
            if attrs.get("id") is not None else None
        if stored is None:
            return super()._candidate(attrs)
        parent = part_of(model)
        candidate = model(**{f.attname: getattr(stored, f.attname)
                             for f in model._meta.concrete_fields if f is not parent})
        for name, value in attrs.items():
            setattr(candidate, name, value)
        return candidate


def _rules(model, names) -> dict:
    """The field rules the model's check constraints state (a decision's points count from
    1, a kommunkod is four digits), as field rules, so that the schema states them too."""
    rules = {}
    for constraint in model._meta.constraints:
        condition = getattr(constraint, "condition", None)
        if not isinstance(constraint, djmodels.CheckConstraint) or condition.negated \
                or len(condition.children) != 1 or not isinstance(condition.children[0], tuple):
            continue
        lookup, value = condition.children[0]
        name, _, operator = lookup.partition("__")
        if name not in names:
            continue
        if operator == "gte" and isinstance(value, int):
            rules[name] = {"min_value": value}
        elif operator == "regex" and isinstance(value, str):
            rules[name] = {"validators": [RegexValidator(
                value, f"Must match the pattern {value.replace('%', '%%')}.")]}
    return rules


@functools.cache  # one class per kind of part: the schema names it once
def part_serializer(parent, relation: str, part_model):
    """The write serializer of one kind of part: the fields its representation in
    ``parent``'s shows (``cases.api.serializers``), all but the part's id."""
    shown = resource_for(parent).full().fields[relation].child.Meta.fields
    names = [name for name in shown if name != "id"]
    extra = {}
    for name in names:  # numbers as JSON numbers, as the representation gives them
        field = part_model._meta.get_field(name)
        if isinstance(field, djmodels.DecimalField):
            extra[name] = StrictDecimalField(max_digits=field.max_digits,
                                             decimal_places=field.decimal_places,
                                             coerce_to_string=False, rounding=ROUND_DOWN,
                                             help_text=f"{field.help_text} (cut to "
                                                       f"{field.decimal_places} decimals)")
    base = w.write_serializer(part_model, names)
    meta = type("Meta", (base.Meta,), {"extra_kwargs": _rules(part_model, names)})
    cls = type(base.__name__, (PartItemMixin, StoredPartMixin, base), {
        "Meta": meta,
        **extra, "__module__": __name__, "__doc__": f"A {part_model._meta.verbose_name} of the "
                            f"{parent._meta.verbose_name}: with id to change that part, "
                            "without to add one."})
    return cls


class PartsMixin:
    """A write serializer that also writes the record's parts (see the module's doc)."""

    part_relations: dict  # relation -> part model

    def get_fields(self):
        fields = super().get_fields()
        for relation, part_model in self.part_relations.items():
            label = part_model._meta.verbose_name_plural
            child = part_serializer(self.Meta.model, relation, part_model)()
            fields[relation] = serializers.ListSerializer(
                child=child, required=False, allow_empty=True,
                help_text=f"The {label}, all of them: an item with the id of a live one "
                          "changes it, an item without id adds one, one left out is voided. "
                          "Leave the list out to keep them as they are.")
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        given = [relation for relation in self.part_relations if relation in attrs]
        if given and self.instance is not None and is_withheld(self.instance) \
                and not is_cleared(self.context.get("request")):
            raise exceptions.PermissionDenied(
                "The parts of a confidential record are withheld from you: changing them "
                f"needs clearance ({', '.join(given)}).")
        errors = {}
        for relation in given:
            problems = self._list_problems(relation, attrs[relation])
            if problems:
                errors[relation] = problems
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _list_problems(self, relation, items) -> dict | None:
        """Ids that are no live part of this record, and parts the list holds twice (by
        the part model's unique constraints, among the items)."""
        part_model = self.part_relations[relation]
        problems = [{} for _ in items]
        live = set()
        if self.instance is not None:
            live = set(getattr(self.instance, relation).filter(voided_at__isnull=True)
                       .values_list("pk", flat=True))
        ids = Counter(item.get("id") for item in items if item.get("id") is not None)
        for index, item in enumerate(items):
            pk = item.get("id")
            if pk is not None and pk not in live:
                problems[index]["id"] = [f"No live part of this record with id {pk}."]
            elif pk is not None and ids[pk] > 1:
                problems[index]["id"] = ["The same part listed twice."]
        parent_field = self.Meta.model._meta.get_field(relation).remote_field.name
        for constraint in part_model._meta.constraints:
            names = [n for n in getattr(constraint, "fields", ()) if n != parent_field]
            if not names or len(names) == len(getattr(constraint, "fields", ())):
                continue
            seen = {}
            for index, item in enumerate(items):
                key = tuple(self._value(relation, item, name) for name in names)
                if any(v is None for v in key) and constraint.nulls_distinct is not False:
                    continue
                if key in seen:
                    problems[index].setdefault(names[0], []).append(
                        f"Item {seen[key]} has the same {', '.join(names)}.")
                else:
                    seen[key] = index
        # As DRF reports a list's items (LIST_SERIALIZER_ERRORS_AS_DICT): by index.
        return {index: found for index, found in enumerate(problems) if found} or None

    def _value(self, relation, item, name):
        if name in item:
            value = item[name]
        elif item.get("id") is not None and self.instance is not None:
            stored = getattr(self.instance, relation).filter(pk=item["id"]).first()
            value = getattr(stored, name, None)
        else:
            value = None
        return getattr(value, "pk", value)


# Parts no client writes, and why.
READ_ONLY_PARTS = {
    m.RegistrationNumber: "Registration numbers are given by registering the case only.",
}


def parts_of(model) -> dict[str, type]:
    """The kinds of part of ``model`` a client writes: reverse accessor -> part model.

    Found from the models (``part_of``), so a new part is writable without anyone listing
    it; records with a collection of their own (a case's activities) are written there."""
    found = {}
    for rel in model._meta.related_objects:
        part = rel.related_model
        field = part_of(part)
        if field is None or field.remote_field is not rel or part in READ_ONLY_PARTS:
            continue
        resource = resource_or_none(part)
        if resource is not None and resource.collection:
            continue
        found[rel.get_accessor_name()] = part
    return found


def with_parts(serializer_class):
    """``serializer_class`` writing the parts of its model too (None if it has none)."""
    model = serializer_class.Meta.model
    relations = parts_of(model)
    if not relations:
        return serializer_class
    return type(serializer_class.__name__, (PartsMixin, serializer_class), {
        "part_relations": relations,
        "__doc__": serializer_class.__doc__})


# --- collections with parts that were writable already --------------------------------------

DocumentWriteSerializer = with_parts(w.DocumentWriteSerializer)
MotionWriteSerializer = with_parts(w.MotionWriteSerializer)
ReferralWriteSerializer = with_parts(w.ReferralWriteSerializer)
DecisionWriteSerializer = with_parts(w.DecisionWriteSerializer)

# --- collections that were read-only -------------------------------------------------------

class UniqueFieldsMixin:
    """A value a model keeps once (a municipality's name and code, a party's abbreviation)
    given again is a duplicate, 409 like every other (cases.api.writes.DuplicateRecord),
    checked with the model's own rules after every other error."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.validators = [v for v in field.validators
                                if not isinstance(v, UniqueValidator)]
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        candidate = self._candidate(attrs)
        try:
            candidate.validate_unique(exclude=[
                f.name for f in candidate._meta.concrete_fields if f.name not in attrs])
        except DjangoValidationError as exc:
            raise w.DuplicateRecord(" ".join(exc.messages)) from exc
        return attrs


def collection_serializer(model, fields):
    """The write serializer of a collection that had none: its fields, its parts."""
    base = w.write_serializer(model, fields)
    meta = type("Meta", (base.Meta,), {"extra_kwargs": _rules(model, fields)})
    return with_parts(type(base.__name__, (UniqueFieldsMixin, base),
                           {"Meta": meta, "__doc__": base.__doc__}))


MunicipalityWriteSerializer = collection_serializer(m.Municipality, ["name", "code"])
OrganisationWriteSerializer = collection_serializer(m.Organisation, [
    "name", "short_name", "type", "municipality", "parent"])
PartyWriteSerializer = collection_serializer(m.Party, ["abbreviation", "name"])
PersonWriteSerializer = collection_serializer(m.Person, ["name"])
CollaborationModelWriteSerializer = collection_serializer(m.CollaborationModel, [
    "name", "abbreviation", "municipality", "level", "status", "target_group", "description",
    "started", "started_precision", "ended", "ended_precision"])


# --- registering a case names its organisation by id or key --------------------------------

class CaseRegistrationSerializer(w.CaseRegistrationSerializer):
    __doc__ = w.CaseRegistrationSerializer.__doc__

    registering_organisation = Reference(
        queryset=m.Organisation.objects.all(),
        help_text="The organisation in whose register the case is entered.")


class CaseWritableMixin(w.CaseWritableMixin):
    create_serializer = CaseRegistrationSerializer

