"""Confidential cases and documents (sekretess): what an uncleared reader may see.

The registration entry stays public (number, date, body, a neutral ``public_title``); the
model's ``PROTECTED_FIELDS`` are masked everywhere for readers without clearance.
"""

MASK = None  # a masked field reads as null


def is_confidential(instance) -> bool:
    return bool(getattr(instance, "confidential", False))


def protected_fields(model) -> tuple[str, ...]:
    return getattr(model, "PROTECTED_FIELDS", ())


def visible_title(instance, *, cleared: bool) -> str:
    """The title, or for a confidential record and an uncleared reader its public title."""
    if is_confidential(instance) and not cleared:
        return instance.public_title
    return instance.title


def mask(data: dict, instance, *, cleared: bool) -> dict:
    """Mask the protected fields of a serialized record in place."""
    if not is_confidential(instance) or cleared:
        return data
    for name in protected_fields(type(instance)):
        if name in data:
            data[name] = instance.public_title if name == "title" else MASK
    return data


def mask_snapshot(values: dict | None, model, *, cleared: bool, confidential: bool) -> dict:
    """Mask the protected fields of an audit snapshot (a dict of column values)."""
    if values is None or cleared or not (confidential or values.get("confidential")):
        return values
    masked = dict(values)
    for name in protected_fields(model):
        if name in masked:
            masked[name] = values.get("public_title") if name == "title" else MASK
    return masked
