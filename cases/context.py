"""Who is acting, through which request: read by the audit trail wherever a change happens."""

import re
import secrets
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str  # user name, "token:<client system>", or a system process such as "loader"
    via: str  # api, admin, loader, command
    user_id: int | None = None
    token_id: int | None = None
    request_id: str = ""
    traceparent: str = ""


SYSTEM = Actor(label="system", via="command")
_request = ContextVar("request", default=None)
_actor = ContextVar("actor", default=None)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# W3C Trace Context, version 00: trace id, the caller's span id, flags (all-zero ids invalid).
TRACEPARENT = re.compile(r"^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-([0-9a-f]{2})$")


def traceparent(incoming: str) -> str:
    """This request's ``traceparent``: the caller's trace continued by a span of our own, or
    a new trace when the caller sent none (or one that is not well formed, which W3C Trace
    Context says to ignore). DIGG's REST API profile, SPA.02 and SPA.04."""
    match = TRACEPARENT.match(incoming.strip())
    trace, flags = match.groups() if match else (uuid.uuid4().hex, "00")
    return f"00-{trace}-{secrets.token_hex(8)}-{flags}"


def current_actor() -> Actor:
    """The explicit actor, else the one behind the current request, else the system."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    if request is None:
        return SYSTEM
    via = "admin" if request.path.startswith("/admin/") else "api"
    token = getattr(request, "api_token", None)
    if token is not None:
        return Actor(label=f"token:{token.name}", via=via, token_id=token.pk,
                     request_id=request.request_id, traceparent=request.traceparent)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(label=user.get_username(), via=via, user_id=user.pk,
                     request_id=request.request_id, traceparent=request.traceparent)
    return Actor(label="anonymous", via=via, request_id=request.request_id,
                 traceparent=request.traceparent)


@contextmanager
def acting_as(actor: Actor):
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID, taken from the caller when well-formed) and a
    place in a trace (``traceparent``, answered in the response and carried by the events the
    request causes to webhook receivers), and make the request visible to the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.traceparent = traceparent(request.headers.get("traceparent", ""))
        token = _request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        response["X-Request-ID"] = request.request_id
        response["traceparent"] = request.traceparent
        return response
