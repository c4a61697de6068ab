"""Serializer fields: instants in UTC, and related records (brief by default, full when
expanded)."""

import datetime

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_array_type
from rest_framework import serializers

from .registry import resource_for


class UTCDateTimeField(serializers.DateTimeField):
    """An instant, written in UTC with ``Z`` whatever the server's time zone (DIGG's REST
    API profile, DOT.02: the admin shows Stockholm time, the API one zone for every client).
    Input may carry any offset; an instant without one is read as UTC."""

    def default_timezone(self):
        return datetime.UTC


class Related(serializers.Field):
    """A related record (or, with ``many``, records).

    Rendered as its brief form (id, url, display) unless the field's name is in the
    ``expand`` tree, then in full. ``expand_only`` fields (reverse relations such as a case's
    documents) appear only when expanded.
    """

    def __init__(self, model: str, *, many: bool = False, expand_only: bool = False, **kwargs):
        kwargs["read_only"] = True
        if expand_only:
            kwargs["required"] = False
        super().__init__(**kwargs)
        self.model_name, self.many, self.expand_only = model, many, expand_only
        self._serializer = None

    def resource(self):
        return resource_for(self.model_name)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        return list(value.all()) if self.many and value is not None else value

    def to_representation(self, value):
        if self._serializer is None:
            subtree = self.parent.expand_tree.get(self.field_name)
            resource = self.resource()
            if subtree is None:
                self._serializer = resource.brief(context=self.context)
            else:
                self._serializer = resource.full(context=self.context, expand=subtree)
        if self.many:
            return [self._serializer.to_representation(item) for item in value]
        return self._serializer.to_representation(value)


class RelatedExtension(OpenApiSerializerFieldExtension):
    """In the schema a related record is its full form or its brief form (oneOf)."""

    target_class = Related

    def map_serializer_field(self, auto_schema, direction):
        resource = self.target.resource()
        full = auto_schema.resolve_serializer(resource.full, direction).ref
        brief = auto_schema.resolve_serializer(resource.brief, direction).ref
        schema = {"oneOf": [full, brief]}
        if self.target.many:
            return build_array_type(schema)
        return schema
