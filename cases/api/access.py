"""Who may do what through the API: token authentication, permissions and clearance."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from cases import policies
from cases.roles import EDIT_OWN_CASES
from cases.services.tokens import authenticate_key

from .limits import FailedAuthentications


class TokenUser:
    """The DRF user of a request authenticated by an API token (a client system)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    pk = None

    def __init__(self, token):
        self.token = token

    def __str__(self):
        return f"token:{self.token.name}"

    def get_username(self):
        return str(self)

    def has_perm(self, perm, obj=None):
        return False


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>`` (or ``Bearer <key>``) for client systems."""

    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        failures = FailedAuthentications(request)  # 429 once an address fails too often
        failures.check()
        if len(header) != 2:
            failures.record()
            raise exceptions.AuthenticationFailed("Send: Authorization: Token <key>.")
        token = authenticate_key(header[1])
        if token is None:
            failures.record()
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        request._request.api_token = token  # seen by the audit trail
        return TokenUser(token), token

    def authenticate_header(self, request):
        return 'Token realm="api"'


def token_of(request):
    return request.auth if hasattr(request.auth, "can_write") else None


def is_cleared(request) -> bool:
    """May this request see the protected details of confidential records?"""
    return request is not None and policies.is_cleared(getattr(request, "user", None))


class RegisterPermission(permissions.BasePermission):
    """Reads: anyone (or any authenticated client with REQUIRE_TOKEN_FOR_READS). Writes: a
    token with the write scope, or a signed-in user with the model's add/change permission
    (voiding: the permission to void). A user who may edit only the cases they own (the
    case officer role, ``cases.roles.may_write``) writes only inside those cases: the record's
    case is checked here, the case a write puts it in by the services (``cases.policies``)
    once the body is validated."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            if getattr(view, "action", None) == "history":
                return bool(request.user and request.user.is_authenticated)
            if settings.REQUIRE_TOKEN_FOR_READS:
                return bool(request.user and request.user.is_authenticated)
            return True
        token = token_of(request)
        if token is not None:
            return token.can_write
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method == "DELETE":
            return user.has_perm(VOID)
        model = view.model._meta.model_name
        needed = "add" if request.method == "POST" else "change"
        if user.has_perm(f"cases.{needed}_{model}"):
            return True
        return model == "case" and needed == "change" and user.has_perm(EDIT_OWN_CASES)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS or token_of(request) is not None:
            return True
        return policies.may_change(user=request.user, record=obj, frozen=False)  # (409 later)


VOID = "cases.void_record"


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>`: a key issued to a client system in the admin."}
