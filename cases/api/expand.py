"""``?expand=`` : embed related records in full, in one round trip, in a fixed number of queries.

``expand=motion.authors,case`` is parsed into the tree ``{"motion": {"authors": {}}, "case": {}}``.
The same walk over the serializers that validates a path also yields the ``prefetch_related``
lookups that load it, so a page costs one query per relation, whatever its size.
"""

import functools
import json

from rest_framework import serializers

from cases.confidentiality import withheld_annotations

# The most parts of a path expanded. Beyond them the rest of a path stays one name ("a.b..."),
# which no serializer has, so it is refused as invalid (400) instead of nesting the tree
# thousands of levels deep (json.dumps of the tree raised RecursionError, a 500).
MAX_DEPTH = 8


def parse(raw: str | None) -> dict:
    tree: dict = {}
    for path in filter(None, (p.strip() for p in (raw or "").split(","))):
        node = tree
        for part in path.split(".", MAX_DEPTH - 1):
            node = node.setdefault(part, {})
    return tree


def walk(serializer_class, tree: dict, prefix: str = "") -> tuple[list[str], list[str]]:
    """Return (prefetch lookups, invalid paths) for ``tree`` under ``serializer_class``.

    The answer depends only on the class and the tree, and finding it builds every
    serializer on the way: it is remembered (for the most recent trees)."""
    lookups, invalid = _walk(serializer_class, json.dumps(tree), prefix)
    return list(lookups), list(invalid)


@functools.lru_cache(maxsize=512)
def _walk(serializer_class, tree_key: str, prefix: str) -> tuple[tuple, tuple]:
    lookups, invalid = _walk_uncached(serializer_class, json.loads(tree_key), prefix)
    return tuple(lookups), tuple(invalid)


def _walk_uncached(serializer_class, tree: dict, prefix: str = ""):
    from .fields import Related

    lookups, invalid = [], []
    fields = serializer_class().fields
    for name in tree:
        if name not in fields or not _expandable(fields[name]):
            invalid.append(prefix.replace("__", ".") + name)
    for name, field in fields.items():
        path = prefix + (field.source if field.source != "*" else name)
        if isinstance(field, Related):
            if field.expand_only and name not in tree:
                continue
            lookups.append(path)
            if name in tree:
                more, bad = walk(field.resource().full, tree[name], path + "__")
                lookups += more
                invalid += bad
        elif isinstance(field, serializers.ListSerializer):
            lookups.append(path)
            more, bad = walk(type(field.child), tree.get(name, {}), path + "__")
            lookups += more
            invalid += bad
    return lookups, invalid


def briefs(serializer_class, tree: dict) -> dict[str, tuple[str, ...]]:
    """Forward relations under ``tree`` rendered in brief form (not expanded): lookup path ->
    the columns their brief form reads (id, display text, what masking the display needs)."""
    return dict(_briefs(serializer_class, json.dumps(tree), ""))


@functools.lru_cache(maxsize=512)
def _briefs(serializer_class, tree_key: str, prefix: str) -> tuple:
    from .fields import Related

    tree, found = json.loads(tree_key), []
    for name, field in serializer_class().fields.items():
        path = prefix + (field.source if field.source != "*" else name)
        if isinstance(field, Related):
            if name in tree:
                found += _briefs(field.resource().full, json.dumps(tree[name]), path + "__")
            elif not field.many and getattr(field.resource().brief, "columns", None):
                found.append((path, field.resource().brief.columns))
        elif isinstance(field, serializers.ListSerializer):
            child = type(field.child)
            if not hasattr(child, "get_url"):  # a part of the record, not a record: its
                # bookkeeping columns are read only if it shows them
                shown = {f.source for f in child().fields.values()}
                found.append((path, ("*", *(c for c in AUDIT if c in shown))))
            found += _briefs(child, json.dumps(tree.get(name, {})), path + "__")
    return tuple(found)


AUDIT = ("created", "modified", "voided_at", "void_reason", "voided_by")


def _expandable(field) -> bool:
    from .fields import Related

    return isinstance(field, (Related, serializers.ListSerializer))


def expandable_names(serializer_class) -> list[str]:
    return [name for name, field in serializer_class().fields.items() if _expandable(field)]


PREFETCHED = "_prefetched_"


def loading(model, lookups: list[str], briefs: dict | None = None) -> tuple[list, list, list]:
    """How to load ``lookups`` (paths from ``walk``): ``(select_related, defer,
    prefetch_related)`` arguments for a queryset of ``model``.

    A chain of forward relations (a case's municipality, a document's author organisation)
    is joined into the query that loads the record it starts from: no query of its own.
    Those shown in brief form (``briefs``: path -> columns read) load only those columns;
    parts of records (registration numbers, signatories ...: columns ``("*", ...)``) leave
    out the bookkeeping columns (AUDIT) they do not show.
    Every to-many relation (a case's registration numbers, documents ...) is one query,
    loaded into a plain list (``Prefetch(..., to_attr=)``, read back by the serializers):
    with a plain lookup Django gives every record its own QuerySet of its related records,
    a clone per record and relation, which on a page of hundreds cost more than the query.
    So a page costs one query, plus one per to-many relation rendered.
    """
    from django.db.models import Prefetch

    briefs = briefs or {}
    root: dict = {}  # path tree: part -> (field, subtree)
    for lookup in lookups:
        opts, node = model._meta, root
        for part in lookup.split("__"):
            field = opts.get_field(part)
            node = node.setdefault(part, (field, {}))[1]
            opts = field.related_model._meta

    def joins(tree: dict, prefix: str, origin: str) -> tuple[list[str], list[str]]:
        """Forward chains in ``tree`` up to the next to-many relation, and the columns of
        brief ones left unread (paths relative to the query, ``origin`` from ``model``)."""
        chains, deferred = [], []
        for part, (field, subtree) in tree.items():
            if _many(field):
                continue
            chains.append(prefix + part)
            columns = briefs.get(origin + part)
            names = {f.name for f in field.related_model._meta.fields}
            if columns and "*" not in columns and set(columns) <= names:
                deferred += [f"{prefix}{part}__{f.name}"
                             for f in field.related_model._meta.concrete_fields
                             if f.name not in columns and not f.primary_key]
            more, unread = joins(subtree, f"{prefix}{part}__", f"{origin}{part}__")
            chains += more
            deferred += unread
        return chains, deferred

    prefetch = []

    def walk_tree(tree: dict, path: str, origin: str) -> None:
        for part, (field, subtree) in tree.items():
            if _many(field):
                queryset = field.related_model._default_manager.order_by(
                    *related_ordering(field.related_model))
                if is_part(field.related_model):  # voided parts are no longer shown
                    queryset = queryset.filter(voided_at__isnull=True)
                chains, deferred = joins(subtree, "", f"{origin}{part}__")
                if chains:  # (with no arguments it would join every foreign key)
                    queryset = queryset.select_related(*chains)
                # What is withheld from a reader without clearance, in the same query.
                queryset = queryset.annotate(**withheld_annotations(field.related_model,
                                                                    chains))
                shown = briefs.get(origin + part, ())
                if shown[:1] == ("*",):
                    deferred += [c for c in AUDIT if c not in shown]
                if deferred:
                    queryset = queryset.defer(*deferred)
                prefetch.append(Prefetch(path + part, queryset=queryset,
                                         to_attr=PREFETCHED + part))
                walk_tree(subtree, f"{path}{PREFETCHED}{part}__", f"{origin}{part}__")
            else:
                walk_tree(subtree, f"{path}{part}__", f"{origin}{part}__")

    walk_tree(root, "", "")
    chains, deferred = joins(root, "", "")
    return chains, deferred, prefetch


def is_part(model) -> bool:
    """A part of a record (an author, a point ...): voidable, with no collection of its own,
    shown in its record while live (cases.services.parts)."""
    from cases.services.voiding import part_of

    from .registry import resource_or_none

    resource = resource_or_none(model)
    return part_of(model) is not None and not (resource and resource.collection)


def related_ordering(model) -> list[str]:
    """The order of a record's embedded list: the model's, with the id breaking ties (two
    documents of one date would otherwise come in either order)."""
    return [*model._meta.ordering, "pk"]


def _many(field) -> bool:
    return bool(field.one_to_many or field.many_to_many)
