"""Request body size limit (413), checked before the body is read."""

from django.conf import settings
from django.http import JsonResponse

from .problems import PROBLEM_CONTENT_TYPE, problem


class RequestSizeLimitMiddleware:
    """Refuse an API request whose declared body is larger than MAX_REQUEST_BYTES, before
    reading it. (Bodies without a length are cut by DATA_UPLOAD_MAX_MEMORY_SIZE.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.path.startswith("/api/") and length > settings.MAX_REQUEST_BYTES:
            return JsonResponse(
                problem(413, f"The body is larger than {settings.MAX_REQUEST_BYTES} bytes."),
                status=413, content_type=PROBLEM_CONTENT_TYPE)
        return self.get_response(request)
