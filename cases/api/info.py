"""The API's own description (``/api-info``, DIGG's REST API profile VER.06) and its root,
which links everything a client needs: every collection, search, api-info, the OpenAPI
document and its two readers."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import APIRootView
from rest_framework.views import APIView

from .problems import ProblemAutoSchema

# Beside the collections, what the root links: name in the root -> URL name.
DOORS = {"search": "search", "api-info": "api-info", "schema": "schema", "docs": "docs",
         "redoc": "redoc"}


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Who answers for the API.")
    email = serializers.EmailField(allow_blank=True, help_text="Where to write.")
    url = serializers.URLField(allow_blank=True, help_text="Where to read more or ask.")


class ApiInfoSerializer(serializers.Serializer):
    api_name = serializers.CharField(help_text="The API's name.")
    api_version = serializers.CharField(help_text="Its version (semantic versioning); the "
                                                  "major version is in the path.")
    api_released = serializers.DateField(help_text="When this version was released.")
    api_status = serializers.ChoiceField(
        choices=["active", "deprecated", "retired"],
        help_text="active: supported; deprecated: still served, with a successor; retired: "
                  "no longer served.")
    api_documentation = serializers.URLField(help_text="The documentation (Swagger UI).")
    api_specification = serializers.URLField(help_text="The OpenAPI document.")
    contact = ContactSerializer(help_text="Who to ask about the API.")


class ApiInfoView(APIView):
    """What this API is: name, version, status, contact and documentation."""

    schema = ProblemAutoSchema()
    # Declared public, as the schema and its documentation are: it describes the API and
    # holds no record, so a client finds out how to authenticate (also with
    # REQUIRE_TOKEN_FOR_READS).
    permission_classes = [AllowAny]

    @extend_schema(operation_id="api_info", summary="Describe the API",
                   responses=ApiInfoSerializer, tags=["api-info"])
    def get(self, request):
        contact = settings.API_CONTACT
        return Response(ApiInfoSerializer({
            "api_name": settings.SPECTACULAR_SETTINGS["TITLE"],
            "api_version": settings.SPECTACULAR_SETTINGS["VERSION"],
            "api_released": settings.API_RELEASED,
            "api_status": "active",
            "api_documentation": reverse("api:docs", request=request),
            "api_specification": reverse("api:schema", request=request),
            "contact": contact,
        }).data)


class RootView(APIRootView):
    """The API's root: a link to every collection and to every other door."""

    def get(self, request, *args, **kwargs):
        links = super().get(request, *args, **kwargs).data
        for name, url_name in DOORS.items():
            links[name] = reverse(f"api:{url_name}", request=request)
        return Response(links)
