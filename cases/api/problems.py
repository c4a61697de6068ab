"""Errors as RFC 9457 problem details (application/problem+json), every problem at once."""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler

from .renderers import FastJSONRenderer

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemJSONRenderer(FastJSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE
    format = "problem+json"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."


class InvalidParameters(exceptions.ValidationError):
    """Raised with a mapping of query parameter -> list of reasons."""

    default_detail = "One or more query parameters are invalid."


def problem(status: int, detail: str = "", invalid_params=None, **extra) -> dict:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if invalid_params:
        body["invalid_params"] = invalid_params
    body.update(extra)
    return body


def _flatten(detail, prefix="") -> list[dict]:
    """DRF's nested error detail as a flat list of {name, reason}."""
    if isinstance(detail, dict):
        return [item for key, value in detail.items()
                for item in _flatten(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            name = "non_field_errors" if prefix in ("", "__all__") else prefix
            return [{"name": name, "reason": str(v)} for v in detail]
        return [item for i, v in enumerate(detail) for item in _flatten(v, f"{prefix}[{i}]")]
    return [{"name": prefix or "non_field_errors", "reason": str(detail)}]


def problem_exception_handler(exc, context):
    """DRF exception handler: every error response becomes a problem document."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        return None  # unexpected errors: Django's handler500 answers with a problem document
    if isinstance(exc, exceptions.ValidationError):
        detail = str(getattr(exc, "default_detail", "")) if isinstance(exc, InvalidParameters) \
            else "The request is not valid."
        body = problem(response.status_code, detail, invalid_params=_flatten(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, str(detail))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


class ProblemSerializer(serializers.Serializer):
    """Schema of an RFC 9457 problem document, for the OpenAPI description."""

    type = serializers.CharField(help_text="A URI identifying the problem type.")
    title = serializers.CharField(help_text="Short summary of the problem type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong, in plain words.")
    invalid_params = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()), required=False,
        help_text="Every invalid parameter or field: {name, reason}.",
    )


PROBLEM_DESCRIPTIONS = {
    400: "Invalid query parameters or body: every problem is listed in invalid_params.",
    401: "Not authenticated: an unknown or revoked token, or none where one is needed.",
    403: "Not allowed: the token lacks the write scope, or the user the permission.",
    404: "No record with this id.",
    406: "The Accept header names no media type this API sends (application/json).",
    409: "The record is voided and can no longer be changed.",
    412: "If-Match does not match the record's current ETag: GET it again, then retry.",
    413: "The request body is too large.",
    415: "The body is not application/json.",
    428: "If-Match is missing: send the ETag from your last GET of the record.",
    429: "Too many requests from this client: wait Retry-After seconds.",
}


def problem_responses(*statuses: int) -> dict:
    """OpenAPI responses of these statuses: problem documents (ProblemAutoSchema gives them
    their media type, application/problem+json)."""
    return {status: OpenApiResponse(ProblemSerializer, description=PROBLEM_DESCRIPTIONS[status])
            for status in statuses}


class ProblemAutoSchema(AutoSchema):
    """Errors as they are sent: every 4xx response is a problem document in
    application/problem+json. Every operation documents the problems any request to it can
    get: invalid or unknown query parameters (400), a failed authentication (401), an Accept
    the API cannot answer (406) and throttling (429); one on a record also a missing record
    (404)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        statuses = [400, 401, 406, 429] + ([404] if "{" in self.path else [])
        for status, response in problem_responses(*statuses).items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    response, str(status), direction=direction)
        for status, response in responses.items():
            if status.startswith("4") and "content" in response:
                response["content"] = {
                    PROBLEM_CONTENT_TYPE: next(iter(response["content"].values()))}
        return dict(sorted(responses.items()))


def not_found(request, exception=None):
    """handler404: problem+json under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(problem(404, f"Nothing at {request.path}."), status=404,
                            content_type=PROBLEM_CONTENT_TYPE)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    """handler500: no stack trace ever reaches a client."""
    if request.path.startswith("/api/"):
        return JsonResponse(problem(500, "The server failed; the error has been logged."),
                            status=500, content_type=PROBLEM_CONTENT_TYPE)
    from django.views.defaults import server_error as default

    return default(request)
