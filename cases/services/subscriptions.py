"""Webhook subscriptions: creating, changing, rotating secrets (API and admin alike).

Secrets are Standard Webhooks secrets, ``whsec_`` and 32 random bytes in base64, made here
and returned once. Rotation never breaks a receiver: the old secret keeps signing, beside
the new one, for WEBHOOK_SECRET_GRACE_HOURS.
"""

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases.models import Subscription

from . import callbacks

SECRET_PREFIX = "whsec_"
FIELDS = ("name", "callback_url", "collections", "actions", "contact_email", "active")
RELATIONS = ("organisations", "municipalities")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_callback(url: str) -> None:
    """ValidationError unless the register may call ``url`` (see ``callbacks.check``)."""
    try:
        callbacks.check(url, unresolved_ok=True)
    except callbacks.CallbackRefused as exc:
        raise ValidationError({"callback_url": str(exc)}) from exc


def _save(subscription: Subscription, relations: dict) -> Subscription:
    check_callback(subscription.callback_url)
    subscription.collections = sorted(set(subscription.collections or []))
    subscription.actions = sorted(set(subscription.actions or []))
    subscription.full_clean()
    subscription.save()
    for name, values in relations.items():
        if values is not None:
            getattr(subscription, name).set(values)
    return subscription


@transaction.atomic
def create_subscription(*, token=None, organisations=(), municipalities=(),
                        **values) -> tuple[Subscription, str]:
    """A new subscription and its secret (shown to the caller once, never again)."""
    subscription = Subscription(token=token, **{k: v for k, v in values.items()
                                                if k in FIELDS})
    secret = add_subscription(subscription=subscription, organisations=organisations,
                              municipalities=municipalities)
    return subscription, secret


@transaction.atomic
def add_subscription(*, subscription: Subscription, organisations=(),
                     municipalities=()) -> str:
    """Save a new subscription built elsewhere (the admin's form); return its secret."""
    subscription.secret = new_secret()
    _save(subscription, {"organisations": organisations, "municipalities": municipalities})
    return subscription.secret


@transaction.atomic
def update_subscription(*, subscription: Subscription, organisations=None,
                        municipalities=None, **values) -> Subscription:
    for name, value in values.items():
        if name in FIELDS:
            setattr(subscription, name, value)
    return _save(subscription, {"organisations": organisations,
                                "municipalities": municipalities})


@transaction.atomic
def rotate_secret(*, subscription: Subscription) -> str:
    """A new secret; the current one keeps signing for the grace period. Return the new."""
    now = timezone.now()
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    secret = new_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires = now + timedelta(
        hours=settings.WEBHOOK_SECRET_GRACE_HOURS)
    subscription.secret, subscription.secret_rotated = secret, now
    subscription.full_clean()
    subscription.save()
    return secret
