"""GET /api/v1/search/?q= : ranked Swedish full-text search across the register."""

from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.search import KINDS, search

from .problems import InvalidParameters
from .registry import resource_for
from .views import RegisterAutoSchema

MAX_LIMIT = 100
MAX_QUERY = 200
_KIND = "(?:" + "|".join(sorted(KINDS.values())) + ")"
_KINDS_PATTERN = f"^{_KIND}(?:,{_KIND})*$"


class SearchHitSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=sorted(KINDS.values()),
                                   help_text="Collection of the record found.")
    id = serializers.UUIDField(help_text="Id of the record.")
    url = serializers.CharField(help_text="The record in the API.")
    title = serializers.CharField(help_text="Title or name of the record.")
    snippet = serializers.CharField(help_text="Matching text with <mark> around the hits.")
    rank = serializers.FloatField(help_text="Relevance; higher is better.")
    match = serializers.ChoiceField(choices=["fulltext", "similar"],
                                    help_text="fulltext: Swedish word forms matched; similar: "
                                              "a close spelling matched (typos, OCR).")


class SearchResultSerializer(serializers.Serializer):
    q = serializers.CharField(help_text="The query as given.")
    results = SearchHitSerializer(many=True, help_text="Hits, best first.")


class SearchView(APIView):
    """Search cases, documents, motions, decisions, collaboration models, people and
    organisations by Swedish text (word forms and accents ignored, close spellings found)."""

    schema = RegisterAutoSchema()

    @extend_schema(
        operation_id="search",
        parameters=[
            OpenApiParameter("q", {"type": "string", "pattern": r"\S", "maxLength": MAX_QUERY},
                             required=True,
                             description="What to look for (not only spaces).",
                             examples=[
                                 OpenApiExample("A name without its diacritics", "Jonsson"),
                                 OpenApiExample("Another word form", "samverkansmodeller"),
                             ]),
            OpenApiParameter("type", {"type": "string", "pattern": _KINDS_PATTERN},
                             description="Only these collections, comma-separated: "
                                         + ", ".join(sorted(KINDS.values()))),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                       "default": 20},
                             description=f"Most hits, 1–{MAX_LIMIT} (20)."),
        ],
        responses=SearchResultSerializer,
        examples=[OpenApiExample("Jonsson", response_only=True, value={
            "q": "Jonsson",
            "results": [{
                "type": "people", "id": "0fb84755-9b39-50b7-91c3-92a9b9fe8161",
                "url": "https://register.example.se/api/v1/people/"
                       "0fb84755-9b39-50b7-91c3-92a9b9fe8161/",
                "title": "Jan Jönsson", "snippet": "Jan <mark>Jonsson</mark>", "rank": 1.4,
                "match": "fulltext",
            }],
        })],
    )
    def get(self, request):
        params = request.query_params
        problems = {name: ["Unknown query parameter."] for name in params
                    if name not in ("q", "type", "limit")}
        q = params.get("q", "").strip()
        if not q:
            problems["q"] = ["Give something to search for."]
        elif "\x00" in q or len(q) > MAX_QUERY:
            problems["q"] = [f"Text of at most {MAX_QUERY} characters, without NUL."]
        kinds = [k for k in params.get("type", "").split(",") if k]
        unknown = [k.replace("\x00", "") for k in kinds if k not in KINDS.values()]
        if unknown:
            problems["type"] = [f"Not a searchable collection: {', '.join(unknown)}."]
        limit = params.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            problems["limit"] = [f"A whole number from 1 to {MAX_LIMIT}."]
        if problems:
            raise InvalidParameters(problems)
        hits = search(q, kinds=kinds or None, limit=int(limit))
        results = []
        for hit in hits:
            model = ContentType.objects.get_for_id(hit.content_type_id).model_class()
            path = reverse(f"api:{resource_for(model).basename}-detail", args=[hit.object_id])
            results.append({"type": hit.kind, "id": hit.object_id,
                            "url": request.build_absolute_uri(path), "title": hit.title,
                            "snippet": hit.snippet, "rank": hit.rank, "match": hit.match})
        return Response(SearchResultSerializer({"q": q, "results": results}).data)
