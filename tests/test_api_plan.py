"""The fast paths of the read API give exactly what plain DRF gives.

List pages rendered from rows (cases.api.rows), serializer plans (cases.api.plan), the brief
forms, the prefetched lists of to-many relations (cases.api.expand.loading) and the orjson
renderer are switched off here one way: back to DRF's Serializer.to_representation, its
managers and its JSONRenderer; every collection, with everything expandable expanded, for a
cleared and an uncleared reader, must come out byte for byte the same.
"""

import datetime
import decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from cases import models as m
from cases.api import expand, rows
from cases.api import serializers as s
from cases.api.fields import Related
from cases.api.registry import all_resources, resource_for
from cases.api.renderers import FastJSONRenderer
from cases.services.tokens import issue_token

from .test_api_collections import COLLECTIONS

pytestmark = pytest.mark.django_db


def plain_drf(monkeypatch):
    monkeypatch.setattr(rows, "layout_for", lambda *args: None)
    monkeypatch.setattr(s.ExpandableMixin, "to_representation",
                        serializers.Serializer.to_representation)
    for resource in all_resources():
        if resource.brief is not resource.full:  # the brief forms of brief_serializer
            monkeypatch.setattr(resource.brief, "to_representation",
                                serializers.Serializer.to_representation)
    monkeypatch.setattr(FastJSONRenderer, "render", JSONRenderer.render)


def reader(*, cleared: bool) -> APIClient:
    _, key = issue_token(name=f"plan-{cleared}", cleared=cleared)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def to_many(serializer_class, prefix: str = "", depth: int = 2) -> list[str]:
    """Expand paths of every related list (documents, motions.referrals ...), sources
    aside: what rows render without the serializer (cases.api.rows)."""
    paths = []
    for name, field in serializer_class().fields.items():
        if isinstance(field, Related) and field.many and name != "sources":
            paths.append(prefix + name)
            if depth > 1:
                paths += to_many(field.resource().full, f"{prefix}{name}.", depth - 1)
    return paths


def responses(client, since) -> dict:
    bodies = {}
    for collection, (model, _, paths) in COLLECTIONS.items():
        expand = ",".join(paths)
        lists = ",".join(to_many(resource_for(model).full))
        for params in ({"page_size": 500}, {"page_size": 500, "expand": expand},
                       {"page_size": 500, "expand": lists},
                       {"page_size": 7, "modified_since": since},
                       {"page_size": 7, "modified_since": since, "expand": lists}):
            params = {k: v for k, v in params.items() if v != ""}  # no lists: no expand
            response = client.get(f"/api/v1/{collection}/", params)
            assert response.status_code == 200, response.content[:300]
            bodies[collection, str(params)] = response.content
        record = response.json()["results"][0]
        for detail in (expand, lists):
            bodies[collection, "detail", detail] = client.get(
                record["url"], {"expand": detail} if detail else {}).content
    return bodies


def test_rows_render_lists_and_expanded_lists_here():
    """The comparison below covers the row path: it is taken for these requests."""
    for collection, (model, _, _) in COLLECTIONS.items():
        if collection == "links":  # links show their source and target by method fields
            continue
        full = resource_for(model).full
        assert rows.layout_for(full) is not None, collection
        assert rows.layout_for(full, expand.parse(",".join(to_many(full)))) is not None, \
            collection
    assert "referrals.responses" in to_many(resource_for(m.Case).full)


@pytest.mark.parametrize("cleared", [False, True])
def test_fast_paths_give_the_same_bytes_as_plain_drf(monkeypatch, cleared):
    case = m.Case.objects.filter(documents__isnull=False).order_by("created").first()
    m.Case.objects.filter(pk=case.pk).update(
        confidential=True, confidentiality_basis="OSL 26 kap. 1 §", public_title="Ärende")
    m.Document.objects.filter(case=case).update(
        confidential=True, confidentiality_basis="OSL 26 kap. 1 §", public_title="Handling")
    voided = m.Decision.objects.order_by("created").first()
    m.Decision.objects.filter(pk=voided.pk).update(
        voided_at=datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        void_reason="Fel ärende", voided_by="registrator")
    client = reader(cleared=cleared)
    since = "2000-01-01T00:00:00Z"
    fast = responses(client, since)
    plain_drf(monkeypatch)
    assert responses(client, since) == fast


def test_the_renderer_writes_what_drf_writes():
    data = {
        "text": "Kommunstyrelsen\u2028föreslår \"att\" … ✓", "number": 3, "ratio": 0.25,
        "none": None, "yes": True, "when": datetime.datetime(2026, 3, 4, 5, 6, 7, 890,
                                                               tzinfo=datetime.UTC),
        "day": datetime.date(2026, 3, 4), "amount": decimal.Decimal("1234.50"),
        "label": gettext_lazy("case"), "nested": [{"a": [1, 2, {"b": "c"}]}], 7: "seven",
    }
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)
    pretty = FastJSONRenderer().render(data, "application/json; indent=2")
    assert pretty == JSONRenderer().render(data, "application/json; indent=2")
    assert FastJSONRenderer().render({"big": 2**70}) == JSONRenderer().render({"big": 2**70})
