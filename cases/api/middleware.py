"""Request body size limit (413), the guarantee that every error is a problem document, and
the language of each surface (the API English unless asked for Swedish, the admin Swedish)."""

import orjson
from django.conf import settings
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from .problems import PROBLEM_CONTENT_TYPE, for_people, instance_of, payload_too_large, problem

# Headers that describe the body replaced by a problem document.
CONTENT_HEADERS = {"content-type", "content-length", "content-encoding", "content-disposition",
                   "content-range", "content-language", "etag", "last-modified",
                   "accept-ranges"}


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than MAX_REQUEST_BYTES, before reading
    it: 413 (a problem document; for a person in the admin a page). Bodies without a length
    are cut by DATA_UPLOAD_MAX_MEMORY_SIZE (and DRF reads no body without one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            return payload_too_large(request)
        return self.get_response(request)


class ProblemResponseMiddleware:
    """The outermost middleware: whatever produced an error response, the client gets a
    problem document with all five RFC 9457 members.

    The application's own errors are problem documents already (cases.api.problems); this
    catches the rest: a 405 from a Django method decorator or class-based view, WhiteNoise's
    405 on a static file, a problem document built without ``instance``. The status and the
    headers (Allow, Retry-After, WWW-Authenticate ...) are kept. Admin pages asked for by a
    person (``for_people``) are left as Django renders them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE) \
                and not response.streaming:
            body = self._complete(request, response)
        elif for_people(request):
            return response
        else:
            body = problem(response.status_code, instance=instance_of(request))
        if body is None:
            return response
        if response.streaming:  # (WhiteNoise's 405): a new response, with the same headers
            return self._replace(response, body)
        response.content = orjson.dumps(body)
        response["Content-Type"] = PROBLEM_CONTENT_TYPE
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response

    @staticmethod
    def _replace(response, body):
        new = HttpResponse(orjson.dumps(body), status=response.status_code,
                           content_type=PROBLEM_CONTENT_TYPE)
        for name, value in response.items():
            if name.lower() not in CONTENT_HEADERS:
                new[name] = value
        new.cookies = response.cookies
        response.close()
        return new

    @staticmethod
    def _complete(request, response):
        """A problem document missing members, completed; None when nothing is missing."""
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return problem(response.status_code, instance=instance_of(request))
        if not isinstance(body, dict):
            return problem(response.status_code, instance=instance_of(request))
        complete = {**problem(response.status_code), **body}
        complete["instance"] = complete["instance"] or instance_of(request)
        return None if complete == body else complete


API_LANGUAGES = ("en", "sv")


def api_language(accept_language: str) -> str:
    """The language of an API answer: Swedish when Accept-Language prefers it to English,
    English otherwise (also with no header, ``*`` or only other languages)."""
    for code, _quality in parse_accept_lang_header(accept_language or ""):
        base = code.split("-")[0].lower()
        if base in API_LANGUAGES:
            return base
        if code == "*":
            break
    return "en"


class SurfaceLanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware for the admin (Swedish, LANGUAGE_CODE, unless the person
    chose or asks for English); for every other path, the API's rule (``api_language``):
    English by default, Swedish as a whole (problem titles, details and every reason) when
    the request's Accept-Language prefers it. Neither the session's nor the cookie's choice
    reaches the API: a client system gets the same answer whoever used the browser before."""

    def process_request(self, request):
        if request.path_info.startswith("/admin/"):
            return super().process_request(request)
        language = api_language(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = language
        return None
