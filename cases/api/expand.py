"""``?expand=`` : embed related records in full, in one round trip, in a fixed number of queries.

``expand=motion.authors,case`` is parsed into the tree ``{"motion": {"authors": {}}, "case": {}}``.
The same walk over the serializers that validates a path also yields the ``prefetch_related``
lookups that load it, so a page costs one query per relation, whatever its size.
"""

import functools
import json

from rest_framework import serializers


def parse(raw: str | None) -> dict:
    tree: dict = {}
    for path in filter(None, (p.strip() for p in (raw or "").split(","))):
        node = tree
        for part in path.split("."):
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


def _expandable(field) -> bool:
    from .fields import Related

    return isinstance(field, (Related, serializers.ListSerializer))


def expandable_names(serializer_class) -> list[str]:
    return [name for name, field in serializer_class().fields.items() if _expandable(field)]


PREFETCHED = "_prefetched_"


def loading(model, lookups: list[str]) -> tuple[list[str], list]:
    """How to load ``lookups`` (paths from ``walk``): ``(select_related, prefetch_related)``
    arguments for a queryset of ``model``.

    A chain of forward relations (a case's municipality, a document's author organisation)
    is joined into the query that loads the record it starts from: no query of its own.
    Every to-many relation (a case's registration numbers, documents ...) is one query,
    loaded into a plain list (``Prefetch(..., to_attr=)``, read back by the serializers):
    with a plain lookup Django gives every record its own QuerySet of its related records,
    a clone per record and relation, which on a page of hundreds cost more than the query.
    So a page costs one query, plus one per to-many relation rendered.
    """
    from django.db.models import Prefetch

    root: dict = {}  # path tree: part -> (field, subtree)
    for lookup in lookups:
        opts, node = model._meta, root
        for part in lookup.split("__"):
            field = opts.get_field(part)
            node = node.setdefault(part, (field, {}))[1]
            opts = field.related_model._meta

    def joins(tree: dict, prefix: str = "") -> list[str]:
        """Forward chains in ``tree``, up to the next to-many relation."""
        chains = []
        for part, (field, subtree) in tree.items():
            if not _many(field):
                chains.append(prefix + part)
                chains += joins(subtree, f"{prefix}{part}__")
        return chains

    prefetch = []

    def walk_tree(tree: dict, path: str = "") -> None:
        for part, (field, subtree) in tree.items():
            if _many(field):
                queryset = field.related_model._default_manager.all()
                if chains := joins(subtree):  # (with no arguments it would join every FK)
                    queryset = queryset.select_related(*chains)
                prefetch.append(Prefetch(path + part, queryset=queryset,
                                         to_attr=PREFETCHED + part))
                walk_tree(subtree, f"{path}{PREFETCHED}{part}__")
            else:
                walk_tree(subtree, f"{path}{part}__")

    walk_tree(root)
    return joins(root), prefetch


def _many(field) -> bool:
    return bool(field.one_to_many or field.many_to_many)
