"""Confidential cases and documents (sekretess): what a reader without clearance may see.

One rule, used by every door (API lists, details, expand, search, filters, history, the
admin's lists, pages, story, overview, search and filters):

- **Which records are withheld.** A case or document marked ``confidential``, and every
  record hanging off a withheld one (``PARENTS``: a confidential case's documents,
  activities, motions, referrals, decisions and registration numbers; their signatories,
  attachments, authors, proposals, consulted bodies, responses and points; passages quoting a
  withheld document or supporting a withheld record; links to one), unless a cleared user
  marked the record ``marked_public``.
- **What of a withheld record is shown.** Only its public registration entry: the fields
  ``PUBLIC`` names for its model (ids, bookkeeping, registration numbers, dates, the public
  title, organisations, legal basis, status, kind). Every other field, present and future,
  reads as null (a list as empty, a title as the public title). It is an allow-list: a field
  added to a model is withheld until someone decides it belongs to the registration entry.

``withheld_q(model)`` says it in SQL (for annotations, filters and search), ``is_withheld``
in Python (records already loaded), ``mask`` and ``mask_snapshot`` apply it to a rendered
record or an audit snapshot.
"""

from functools import cache

from django.apps import apps
from django.db.models import BooleanField, Expression, ExpressionWrapper, F, Q

MASK = None  # a withheld field reads as null

# Fields a withheld record of any model shows: its identity and bookkeeping.
BOOKKEEPING = frozenset({"id", "url", "created", "modified", "voided_at", "voided", "version"})

# The public registration entry of each model (OSL 5 kap. 2 §: date, number, sender or
# recipient, kind; the contents only where no secrecy applies). Names are model fields and
# API output fields (which are the same).
PUBLIC: dict[str, frozenset[str]] = {
    "Case": frozenset({"title", "public_title", "confidential", "confidentiality_basis",
                       "status", "registered", "closed", "municipality",
                       "responsible_organisation", "registration_numbers"}),
    "Document": frozenset({"title", "public_title", "confidential", "confidentiality_basis",
                           "marked_public", "case", "type", "direction", "date",
                           "author_organisation", "recipient"}),
    "RegistrationNumber": frozenset({"case", "number", "organisation", "year", "serial"}),
    "Activity": frozenset({"marked_public", "case", "type", "date", "organisation"}),
    "Motion": frozenset({"marked_public", "case", "date", "addressed_to"}),
    "Referral": frozenset({"marked_public", "case", "sender", "motion", "received_date",
                           "due_date"}),
    "ReferralResponse": frozenset({"marked_public", "referral", "organisation", "document",
                                   "date"}),
    "Decision": frozenset({"marked_public", "case", "kind", "organisation", "document",
                           "date"}),
    "DocumentSignatory": frozenset({"document", "position"}),
    "DocumentAttachment": frozenset({"document", "position"}),
    "MotionAuthor": frozenset({"motion", "position"}),
    "MotionProposal": frozenset({"motion", "number"}),
    "ConsultedBody": frozenset({"referral"}),
    "DecisionPoint": frozenset({"decision", "number"}),
    "Provenance": frozenset({"document", "content_type", "object_id", "record"}),
    "Link": frozenset({"source_type", "source_id", "source", "type", "target_type",
                       "target_id", "target"}),
}

# Personal data of private people (GDPR), whatever the record's confidentiality: staff see it
# in the admin; the API's records never carry it, and an audit snapshot only to readers with
# clearance.
PERSONAL: dict[str, frozenset[str]] = {
    "Document": frozenset({"sender_name", "sender_address"}),
}

# The records a record hangs off: withheld when one of them is (unless marked public).
PARENTS: dict[str, tuple[str, ...]] = {
    "Document": ("case",),
    "RegistrationNumber": ("case",),
    "Activity": ("case",),
    "Motion": ("case",),
    "Referral": ("case",),
    "Decision": ("case", "document"),
    "ReferralResponse": ("referral", "document"),
    "DocumentSignatory": ("document",),
    "DocumentAttachment": ("document",),
    "MotionAuthor": ("motion",),
    "MotionProposal": ("motion",),
    "ConsultedBody": ("referral",),
    "DecisionPoint": ("decision",),
    "Provenance": ("document",),
}
# Generic relations (content type + id) whose far record makes this one withheld.
GENERIC_PARENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Provenance": (("content_type", "object_id"),),
    "Link": (("source_type", "source_id"), ("target_type", "target_id")),
}
OWN_FLAG = "confidential"
PUBLIC_MARK = "marked_public"  # set by a cleared user: this record is not secret


def _name(model) -> str:
    return model.__name__ if isinstance(model, type) else model


def _has(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def can_be_withheld(model) -> bool:
    return _name(model) in PUBLIC


def public_fields(model) -> frozenset[str]:
    """The fields a reader without clearance sees of a withheld ``model`` record."""
    return BOOKKEEPING | PUBLIC.get(_name(model), frozenset())


def hidden_fields(model) -> tuple[str, ...]:
    """The model's fields (concrete, by name) withheld when a record is: all but PUBLIC."""
    if not can_be_withheld(model):
        return ()
    shown = public_fields(model)
    return tuple(f.name for f in model._meta.concrete_fields
                 if f.name not in shown and f.attname not in shown)


@cache
def _withheld_models() -> tuple:
    return tuple(apps.get_model("cases", name) for name in PUBLIC)


def withheld_q(model, prefix: str = "", *, generic: bool = True) -> Q | None:
    """The condition (on ``prefix``-ed lookups) under which a ``model`` record is withheld,
    or None for a model that never is (organisations, people ...).

    The record's own flags and its parents' are on its row (``Withheld``, kept by triggers:
    migration 0025); the far records of its links and passages (``GENERIC_PARENTS``) are a
    subquery each, unless ``generic`` is false."""
    name = _name(model)
    if name not in PUBLIC:
        return None
    conditions = [Q(Withheld(prefix))] if name in ROW_FLAG else []
    if generic:
        found = _generic_q(model, prefix)
        if found:
            either = _any(found)
            if _has(model, PUBLIC_MARK):
                either &= Q(**{f"{prefix}{PUBLIC_MARK}": False})
            conditions.append(either)
    return _any(conditions) if conditions else None


# The models whose rows carry ``withheld``: those with a flag of their own or parents.
ROW_FLAG = frozenset({"Case", *PARENTS})


class Withheld(Expression):
    """The ``withheld`` column of the ``model`` row a lookup ``prefix`` reaches (the query's
    own row for ""): true when the record or a record it hangs off is withheld, kept by
    triggers (migration 0025). Not a model field, for the reasons of ``ChangeXid``.

    The row is found through its ``created`` column, which makes Django join (and alias)
    the table as it would for any lookup there; an absent parent (a LEFT JOIN) reads as
    not withheld."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, prefix: str = ""):
        super().__init__()
        self.prefix = prefix
        self.anchor = F(f"{prefix}created")

    def get_source_expressions(self):
        return [self.anchor]

    def set_source_expressions(self, exprs):
        (self.anchor,) = exprs

    def as_sql(self, compiler, connection):
        anchor, params = compiler.compile(self.anchor)
        column = f"{anchor.rsplit('.', 1)[0]}.withheld"
        return (f"COALESCE({column}, false)" if self.prefix else column), params


def _generic_q(model, prefix: str) -> list[Q]:
    """Whether a far record (a link's source or target, a passage's record) is withheld: an
    EXISTS per kind, which PostgreSQL answers with one primary-key probe per row it checks.
    (An IN over the far table's withheld ids hashed every one of them for each page: 200 to
    300 ms for a page of links at a million cases, 2026-12-01.)"""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Exists, OuterRef

    found = []
    for type_field, id_field in GENERIC_PARENTS.get(_name(model), ()):
        for far in _withheld_models():
            if far is model:
                continue
            condition = withheld_q(far, generic=False)
            if condition is None:
                continue
            found.append(Q(**{f"{prefix}{type_field}": ContentType.objects.get_for_model(far)})
                         & Q(Exists(far._base_manager.filter(
                             condition, pk=OuterRef(f"{prefix}{id_field}")))))
    return found


def withheld_path_q(model, path: str) -> Q | None:
    """The condition (a Q on ``model``) under which the field a search or filter ``path``
    reaches is withheld, or None if it never is: ``case__title`` on a registration number
    is withheld with the case, ``attachments__title`` on a document with the attachment,
    ``authors__person__name`` on a motion with the author (who wrote it is withheld),
    ``number`` never."""
    return withheld_path(model, path)[0]


def withheld_path(model, path: str) -> tuple[Q | None, str]:
    """``withheld_path_q`` and the lookup prefix of the row its condition reads ("" for
    ``model``'s own row)."""
    from django.core.exceptions import FieldDoesNotExist

    prefix = ""
    current = owner = model  # the model a field is looked up on; the row that holds its flag
    for part in path.lstrip("^=@").split("__"):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None, ""  # a lookup after a field (icontains, unaccent), or no field
        if part in hidden_fields(current) or part == "title" and can_be_withheld(current):
            return withheld_q(owner, prefix), prefix
        if not (field.is_relation and field.related_model is not None):
            return None, ""
        if not (field.one_to_many and only_as_part_of(field.related_model, current)):
            prefix, owner = f"{prefix}{part}__", field.related_model
        current = field.related_model
    return None, ""


def only_as_part_of(part_model, parent_model) -> bool:
    """Whether a ``part_model`` record is withheld exactly when its parent, a
    ``parent_model`` record, is: one parent, no flag or mark of its own, no far records (a
    signatory of its document, an author of its motion, a point of its decision). A filter
    through such parts is then guarded on the parent's own row: joined to every part
    instead, ``documents?signatory=`` hashed 23,000 signatories against every document
    (190 ms at a million)."""
    name = _name(part_model)
    parents = PARENTS.get(name, ())
    return (len(parents) == 1 and name not in GENERIC_PARENTS
            and not _has(part_model, OWN_FLAG) and not _has(part_model, PUBLIC_MARK)
            and part_model._meta.get_field(parents[0]).related_model is parent_model)


def _any(conditions: list[Q]) -> Q:
    result = conditions[0]
    for condition in conditions[1:]:
        result |= condition
    return result


def withheld_expression(model, prefix: str = ""):
    """``withheld_q`` as a boolean column (for ``annotate`` and ``values_list``). A passage
    is rendered under the record it supports, which hides it when that record is withheld:
    only its document is checked here (no subquery per kind of record)."""
    condition = withheld_q(model, prefix, generic=_name(model) != "Provenance")
    if condition is None:
        return None
    return ExpressionWrapper(condition, output_field=BooleanField())


ANNOTATION = "withheld_row"  # the annotation ``annotate_withheld`` adds


def annotate_withheld(queryset):
    """The queryset with each row's withheld status computed in the same query."""
    expression = withheld_expression(queryset.model)
    return queryset if expression is None else queryset.annotate(**{ANNOTATION: expression})


def mark_withheld(records) -> None:
    """Work out the withheld status of loaded ``records`` at once (a query per model, not
    per record) and remember it on each, for ``is_withheld``."""
    by_model: dict = {}
    for record in records:
        if ANNOTATION not in record.__dict__:
            by_model.setdefault(type(record), []).append(record)
    for model, found in by_model.items():
        condition = withheld_q(model)
        withheld = set() if condition is None else set(model._base_manager.filter(
            condition, pk__in=[r.pk for r in found]).values_list("pk", flat=True))
        for record in found:
            record.__dict__[ANNOTATION] = record.pk in withheld


VIA = "withheld_row_via_"  # annotations for records joined to a row (select_related)
_VIA_CHAINS: dict[str, str] = {}


def withheld_annotations(model, chains=()) -> dict:
    """``annotate`` arguments: the withheld status of each row of ``model`` and of the
    records ``chains`` (``select_related`` paths) join to it, computed in the same query;
    ``spread_withheld`` hands the joined ones to their records after loading."""
    found = {}
    expression = withheld_expression(model)
    if expression is not None:
        found[ANNOTATION] = expression
    for chain in chains:
        related = model
        for part in chain.split("__"):
            related = related._meta.get_field(part).related_model
        expression = withheld_expression(related, f"{chain}__")
        if expression is not None:
            alias = VIA + chain.replace("__", "_0_")
            _VIA_CHAINS[alias] = chain
            found[alias] = expression
    return found


def annotate_withheld_joined(queryset):
    """``queryset`` with ``withheld_annotations`` for its model and for the records it
    joins (its ``select_related``)."""
    chains = []

    def walk(tree, prefix):
        for name, subtree in (tree or {}).items():
            chains.append(prefix + name)
            walk(subtree, f"{prefix}{name}__")

    if isinstance(queryset.query.select_related, dict):
        walk(queryset.query.select_related, "")
    return queryset.annotate(**withheld_annotations(queryset.model, chains))


def spread_withheld(obj) -> None:
    """Give the records joined to ``obj`` the withheld status its query computed for them
    (``withheld_annotations``), so that none needs a query of its own."""
    for key in [k for k in obj.__dict__ if k.startswith(VIA)]:
        target = obj
        for part in _VIA_CHAINS.get(key, "").split("__"):
            target = getattr(target, "_state", None) and target._state.fields_cache.get(part)
            if target is None:
                break
        if target is not None:
            target.__dict__[ANNOTATION] = bool(obj.__dict__[key])


def is_withheld(obj) -> bool:
    """Whether ``obj`` is withheld from readers without clearance (see the module doc).

    Reads the annotation ``annotate_withheld`` added when there is one; else walks the
    parents (joined ones cost nothing, others a query each: for pages, not for lists)."""
    if obj is None:
        return False
    if ANNOTATION in obj.__dict__:  # (NULL, from an absent parent, is not withheld)
        return bool(obj.__dict__[ANNOTATION])
    cache_ = obj.__dict__.get("_withheld_cache")
    if cache_ is not None:
        return cache_
    result = _is_withheld(obj)
    obj.__dict__["_withheld_cache"] = result
    return result


def _is_withheld(obj) -> bool:
    model = type(obj)
    name = model.__name__
    if name not in PUBLIC:
        return False
    if getattr(obj, OWN_FLAG, False) is True:
        return True
    if getattr(obj, PUBLIC_MARK, False) is True:
        return False
    for parent in PARENTS.get(name, ()):
        if getattr(obj, f"{parent}_id", None) is not None and is_withheld(getattr(obj, parent)):
            return True
    for type_field, id_field in GENERIC_PARENTS.get(name, ()):
        content_type = getattr(obj, type_field, None)
        far = content_type.model_class() if content_type is not None else None
        if far is None or far is model or not can_be_withheld(far):
            continue
        record = far._base_manager.filter(pk=getattr(obj, id_field)).first()
        if record is not None and is_withheld(record):
            return True
    return False


def public_title(obj) -> str | None:
    """What stands for the title of a withheld record: its public title, if it has one."""
    return getattr(obj, "public_title", None) or None


def visible_title(instance, *, cleared: bool) -> str:
    """The title, or for a withheld record and a reader without clearance its public title
    (or a neutral label for records with none)."""
    if cleared or not is_withheld(instance):
        return instance.title
    return public_title(instance) or withheld_label(type(instance))


def withheld_label(model) -> str:
    """A neutral label for a withheld record with no public title of its own."""
    from django.utils.translation import gettext

    return gettext("%(type)s (confidential)") % {"type": str(model._meta.verbose_name)}


def mask(data: dict, model, *, withheld: bool, cleared: bool) -> dict:
    """A rendered record (a dict of output fields) reduced in place to its public
    registration entry when it is withheld and the reader not cleared."""
    if cleared or not withheld:
        return data
    shown = public_fields(model)
    for name, value in data.items():
        if name in shown:
            continue
        data[name] = [] if isinstance(value, list) else MASK
    if "title" in data and "public_title" in shown:
        data["title"] = data.get("public_title")
    elif "title" in data:
        data["title"] = MASK
    return data


def mask_snapshot(values: dict | None, model, *, cleared: bool, withheld: bool) -> dict | None:
    """An audit snapshot (column values by attname) as a reader may see it: the public
    entry only, when the record is withheld now or was confidential then; never the
    personal data of a private person (``PERSONAL``) without clearance."""
    if values is None or cleared:
        return values
    personal = PERSONAL.get(_name(model), ())
    if personal:
        values = {name: MASK if name in personal else value for name, value in values.items()}
    if not (withheld or values.get(OWN_FLAG)):
        return values
    shown = public_fields(model)
    masked = {}
    for name, value in values.items():
        field = name[:-3] if name.endswith("_id") else name
        masked[name] = value if (name in shown or field in shown) else MASK
    if "title" in masked and "public_title" in shown:
        masked["title"] = values.get("public_title")
    return masked
