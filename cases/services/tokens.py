"""Issuing and checking API tokens. Keys are random; only their SHA-256 is kept."""

import hashlib
import secrets

from django.utils import timezone

from cases.models import ApiToken


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(*, name: str, can_write: bool = False, cleared: bool = False,
                created_by=None) -> tuple[ApiToken, str]:
    """Create a token for a client system; return it and its key (shown once only)."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name, key_prefix=key[:8], key_hash=_hash(key),
                                    can_write=can_write, cleared=cleared, created_by=created_by)
    return token, key


def set_key(token: ApiToken) -> str:
    """Give an unsaved token (from the admin form) a fresh key; return the key."""
    key = secrets.token_urlsafe(32)
    token.key_prefix, token.key_hash = key[:8], _hash(key)
    return key


def authenticate_key(key: str) -> ApiToken | None:
    """The active token with this key, or None."""
    token = ApiToken.objects.filter(key_hash=_hash(key), revoked_at__isnull=True).first()
    if token is not None:
        now = timezone.now()
        if token.last_used is None or (now - token.last_used).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token
