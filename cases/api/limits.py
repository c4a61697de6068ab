"""A request rate per client (429)."""

from rest_framework.throttling import SimpleRateThrottle


class ClientRateThrottle(SimpleRateThrottle):
    """One budget per client: its token, else its signed-in user, else its address."""

    scope = "client"

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if hasattr(token, "can_write"):
            ident = f"token-{token.pk}"
        elif request.user and request.user.is_authenticated and request.user.pk:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
