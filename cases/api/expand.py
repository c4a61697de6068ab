"""``?expand=`` : embed related records in full, in one round trip, in a fixed number of queries.

``expand=motion.authors,case`` is parsed into the tree ``{"motion": {"authors": {}}, "case": {}}``.
The same walk over the serializers that validates a path also yields the ``prefetch_related``
lookups that load it, so a page costs one query per relation, whatever its size.
"""

from rest_framework import serializers


def parse(raw: str | None) -> dict:
    tree: dict = {}
    for path in filter(None, (p.strip() for p in (raw or "").split(","))):
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def walk(serializer_class, tree: dict, prefix: str = "") -> tuple[list[str], list[str]]:
    """Return (prefetch lookups, invalid paths) for ``tree`` under ``serializer_class``."""
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
