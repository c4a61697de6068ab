"""Which serializers and collection belong to which model (filled in by serializers.py)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    model: type
    collection: str  # URL segment, e.g. "referral-responses"
    basename: str  # route name, e.g. "referralresponse"
    full: type
    brief: type


_RESOURCES: dict[str, Resource] = {}


def register(resource: Resource) -> None:
    _RESOURCES[resource.model.__name__] = resource


def resource_for(model) -> Resource:
    name = model if isinstance(model, str) else model.__name__
    return _RESOURCES[name]


def resource_or_none(model) -> Resource | None:
    return _RESOURCES.get(model.__name__)


def all_resources() -> list[Resource]:
    return list(_RESOURCES.values())
