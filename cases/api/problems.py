"""Errors as RFC 9457 problem details (application/problem+json), every problem at once.

Every 4xx and 5xx the application answers is a problem document with ``type``, ``title``,
``status``, ``detail`` and ``instance`` (the path asked for): from DRF views through
``problem_exception_handler``, from Django itself through the handlers named in
``caseregister/urls.py`` (400, 403, 404, 500) and ``CSRF_FAILURE_VIEW``, and whatever else
(a 405 from a method decorator, a static file) through ``ProblemResponseMiddleware``. The one
exception is the admin seen by a person (``for_people``): a browser asking for an admin page
gets an HTML page in the admin's language, as people read it.

A database outage (PostgreSQL down, restarting, unreachable, a connection cut mid-request) is
a 503 with ``Retry-After``: the client did nothing wrong and should retry, unlike a 500.
"""

import sys
from http import HTTPStatus

from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler

from cases import policies

from .renderers import FastJSONRenderer

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Seconds a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5
# What the database driver raises when there is no usable connection (refused, reset, shut
# down, "connection already closed"). psycopg also counts a cancelled statement and a
# deadlock as operational errors: transient too, and a retry is the right advice for them.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class ProblemJSONRenderer(FastJSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE
    format = "problem+json"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = gettext_lazy("The request body is too large.")


class InvalidParameters(exceptions.ValidationError):
    """Raised with a mapping of query parameter -> list of reasons."""

    default_detail = gettext_lazy("One or more query parameters are invalid.")


# Title and default detail of every status the service answers with, translatable: a problem
# is in the request's language as a whole (cases.api.middleware.SurfaceLanguageMiddleware),
# not an English title over Swedish reasons. The English words are the standard library's.
PHRASES = {
    400: (gettext_lazy("Bad Request"),
          gettext_lazy("Bad request syntax or unsupported method")),
    401: (gettext_lazy("Unauthorized"),
          gettext_lazy("No permission -- see authorization schemes")),
    403: (gettext_lazy("Forbidden"),
          gettext_lazy("Request forbidden -- authorization will not help")),
    404: (gettext_lazy("Not Found"), gettext_lazy("Nothing matches the given URI")),
    405: (gettext_lazy("Method Not Allowed"),
          gettext_lazy("Specified method is invalid for this resource")),
    406: (gettext_lazy("Not Acceptable"),
          gettext_lazy("URI not available in preferred format")),
    409: (gettext_lazy("Conflict"), gettext_lazy("Request conflict")),
    412: (gettext_lazy("Precondition Failed"),
          gettext_lazy("Precondition in headers is false")),
    413: (gettext_lazy("Request Entity Too Large"), gettext_lazy("Entity is too large")),
    414: (gettext_lazy("Request-URI Too Long"), gettext_lazy("URI is too long")),
    415: (gettext_lazy("Unsupported Media Type"),
          gettext_lazy("Entity body in unsupported format")),
    428: (gettext_lazy("Precondition Required"),
          gettext_lazy("The origin server requires the request to be conditional")),
    429: (gettext_lazy("Too Many Requests"),
          gettext_lazy("The user has sent too many requests in a given amount of time "
                       "(\"rate limiting\")")),
    500: (gettext_lazy("Internal Server Error"),
          gettext_lazy("Server got itself in trouble")),
    503: (gettext_lazy("Service Unavailable"),
          gettext_lazy("The server cannot process the request due to a high load")),
}


def _phrase(status: int) -> tuple[str, str]:
    if status in PHRASES:
        return tuple(str(text) for text in PHRASES[status])
    try:
        return HTTPStatus(status).phrase, HTTPStatus(status).description
    except ValueError:  # a status the standard library does not name
        return f"HTTP {status}", ""


def problem(status: int, detail: str = "", invalid_params=None, instance: str = "",
            **extra) -> dict:
    title, description = _phrase(status)
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail or description or title,
        "instance": instance,
    }
    if invalid_params:
        body["invalid_params"] = invalid_params
    body.update(extra)
    return body


def instance_of(request) -> str:
    """The problem's ``instance``: the path the client asked for (a URI reference)."""
    return getattr(request, "path", "") or ""


def for_people(request) -> bool:
    """Whether the answer is for a person in the admin: an admin path asked for by a client
    that names text/html in Accept. Browsers always name it; API clients, scripts and probes
    (Accept: */*, application/json or none) get problem+json, also under /admin/."""
    return request.path_info.startswith("/admin/") and any(
        t.main_type == "text" and t.sub_type == "html" for t in request.accepted_types)


def problem_response(request, status: int, detail: str = "", headers=None, *,
                     people_title: str = "", people_detail: str = "") -> HttpResponse:
    """A problem document; for a person in the admin a short page in their language (a
    template that reads nothing from the database, so that it also serves an outage)."""
    if for_people(request):
        response = HttpResponse(render_to_string("cases/error.html", {
            "status": status, "title": people_title or _phrase(status)[0],
            "message": people_detail or detail}), status=status)
    else:
        response = JsonResponse(problem(status, detail, instance=instance_of(request)),
                                status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def database_unavailable(request) -> HttpResponse:
    """503 with Retry-After: the database cannot be reached; nothing was changed."""
    return problem_response(
        request, 503,
        gettext("The register's database is unavailable for the moment; nothing was changed. "
                "Retry after %(seconds)s seconds.") % {"seconds": RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        people_title=gettext("The register is temporarily unavailable"),
        people_detail=gettext("Its database cannot be reached right now, so nothing was "
                              "saved. Try again in a moment."))


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


class PolicyRefused(exceptions.APIException):
    """A rule of ``cases.policies`` refused the write: 403 (not allowed), 409 (voided, or a
    step of the status flow skipped) or 412 (changed since read), with the rule's own words."""

    STATUS = ((policies.NotAllowed, 403), (policies.Frozen, 409), (policies.OutOfOrder, 409),
              (policies.Stale, 412))

    def __init__(self, error):
        super().__init__(error.message)
        self.status_code = next(code for kind, code in self.STATUS if isinstance(error, kind))


def _api_exception(exc):
    """The API's exception for errors of the layers below (rules, model validation)."""
    if isinstance(exc, policies.PolicyError):
        return PolicyRefused(exc)
    if isinstance(exc, DjangoValidationError):  # a service's full_clean (a race: the
        # serializer checked the same rules before)
        return exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    return exc


def problem_exception_handler(exc, context):
    """DRF exception handler: every error response becomes a problem document."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    exc = _api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        # Unexpected errors (a database outage too): Django's handler500, server_error.
        return None
    instance = instance_of(context.get("request"))
    if isinstance(exc, exceptions.ValidationError):
        detail = str(getattr(exc, "default_detail", "")) if isinstance(exc, InvalidParameters) \
            else gettext("The request is not valid.")
        body = problem(response.status_code, detail, invalid_params=_flatten(exc.detail),
                       instance=instance)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, str(detail), instance=instance)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


class ProblemSerializer(serializers.Serializer):
    """Schema of an RFC 9457 problem document, for the OpenAPI description."""

    type = serializers.CharField(help_text="A URI identifying the problem type.")
    title = serializers.CharField(help_text="Short summary of the problem type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong, in plain words.")
    instance = serializers.CharField(help_text="The path of the request that went wrong.")
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
    412: "The record changed since the version If-Match names (the ETag of your last GET): "
         "GET it again, then retry.",
    413: "The request body is too large.",
    415: "The body is not application/json.",
    428: "If-Match is missing or names no version (*, a weak tag, a list): send the ETag "
         "from your last GET of the record.",
    429: "Too many requests from this client: wait Retry-After seconds.",
    503: "The database is unavailable for the moment: retry after Retry-After seconds.",
}


def problem_responses(*statuses: int) -> dict:
    """OpenAPI responses of these statuses: problem documents (ProblemAutoSchema gives them
    their media type, application/problem+json)."""
    return {status: OpenApiResponse(ProblemSerializer, description=PROBLEM_DESCRIPTIONS[status])
            for status in statuses}


class ProblemAutoSchema(AutoSchema):
    """Errors as they are sent: every 4xx and 5xx response is a problem document in
    application/problem+json. Every operation documents the problems any request to it can
    get: invalid or unknown query parameters (400), a failed authentication (401), an Accept
    the API cannot answer (406), throttling (429) and a database outage (503); one on a
    record also a missing record (404)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        statuses = [400, 401, 406, 429, 503] + ([404] if "{" in self.path else [])
        for status, response in problem_responses(*statuses).items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    response, str(status), direction=direction)
        for status, response in responses.items():
            if status[0] in "45" and "content" in response:
                response["content"] = {
                    PROBLEM_CONTENT_TYPE: next(iter(response["content"].values()))}
        return dict(sorted(responses.items()))


def bad_request(request, exception=None):
    """handler400: a request Django refuses before any view (a Host not in ALLOWED_HOSTS, a
    body over the size limit, too many fields). The reason is said in fixed words: Django's
    messages would echo the client's input and name settings."""
    if isinstance(exception, RequestDataTooBig):
        return payload_too_large(request)
    if for_people(request):
        from django.views.defaults import bad_request as default

        return default(request, exception)
    if isinstance(exception, DisallowedHost):
        return problem_response(request, 400, gettext(
            "The Host header names no host this service answers for."))
    return problem_response(request, 400, gettext("The request is malformed."))


def payload_too_large(request, limit: int | None = None):
    from django.conf import settings

    limit = settings.MAX_REQUEST_BYTES if limit is None else limit
    return problem_response(
        request, 413, gettext("The body is larger than %(limit)s bytes.") % {"limit": limit},
        people_title=gettext("The form is too large"),
        people_detail=gettext("The form sent is larger than %(limit)s bytes.") % {
            "limit": limit})


def permission_denied(request, exception=None):
    """handler403 (PermissionDenied raised outside DRF, e.g. by the admin)."""
    if for_people(request):
        from django.views.defaults import permission_denied as default

        return default(request, exception)
    return problem_response(request, 403, gettext("You are not allowed to do this."))


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form or session request without a valid CSRF token."""
    if for_people(request):
        from django.views.csrf import csrf_failure as default

        return default(request, reason)
    return problem_response(
        request, 403,
        f"CSRF verification failed ({reason.rstrip('.')}). A browser session must send the "
        "CSRF token from the page or the csrftoken cookie; client systems authenticate with "
        "Authorization: Token <key>.")


def not_found(request, exception=None):
    """handler404: a problem document; for a person in the admin, Django's page."""
    if for_people(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return problem_response(request, 404, gettext("Nothing at %(path)s.") % {
        "path": request.path})


def server_error(request):
    """handler500: no stack trace ever reaches a client. A database outage, wherever it
    struck (a view, a middleware, saving the session), is a 503 with Retry-After: this runs
    inside Django's ``except`` clause, so the exception is at hand."""
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return database_unavailable(request)
    if for_people(request):
        from django.views.defaults import server_error as default

        return default(request)
    return problem_response(request, 500, gettext(
        "The server failed; the error has been logged."))
