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


def prefetched(instance, name: str):
    """The list that ``prefetches`` loaded for relation ``name`` of ``instance``, or None."""
    return instance.__dict__.get(PREFETCHED + name)


def prefetches(model, lookups: list[str]) -> list:
    """``prefetch_related`` arguments for ``lookups``: every to-many relation is loaded into
    a plain list (``Prefetch(..., to_attr=)``, read back by ``prefetched``), forward
    relations as usual.

    With a plain lookup Django gives every record of a page its own QuerySet holding its
    related records (a clone of the relation's queryset per record and relation); on a page of
    hundreds that cloning cost more than the queries. A list costs nothing to make.
    """
    from django.db.models import Prefetch

    result, done = [], set()
    for lookup in lookups:
        opts, path = model._meta, []
        for part in lookup.split("__"):
            field = opts.get_field(part)
            many = field.one_to_many or field.many_to_many
            prefix = "__".join(path)
            step = f"{prefix}__{part}" if prefix else part
            name = PREFETCHED + part if many else part
            target = f"{prefix}__{name}" if prefix else name
            if target not in done:
                done.add(target)
                result.append(Prefetch(step, to_attr=name) if many else step)
            path.append(name)
            opts = field.related_model._meta
    return result
