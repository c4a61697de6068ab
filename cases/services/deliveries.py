"""Delivering events to subscribers: signing, sending, retrying, giving up, sending again.

Each delivery is one procrastinate job (``cases.tasks.deliver_webhook``) with the lock
``webhook:<subscription>:<record>``. Procrastinate's fetch (``procrastinate_fetch_job_v2``)
skips a job while another job with the same lock is running *or waiting* ("todo", also when
scheduled for a later retry) with a smaller id: a delivery waiting for its retry holds back
the later deliveries of the same record to the same subscription, and nothing else. A record
is only changed by one transaction at a time (row lock), and its event's job is inserted
before that transaction commits, so job ids follow the record's commit order: delivery is in
order per record and subscription. Retries keep the job (and so its place); a delivery that
finally fails lets the next ones go.

Messages are signed per Standard Webhooks (the ``standardwebhooks`` library): webhook-id is
the event id (the same on every retry, for the receiver to drop duplicates; delivery is at
least once), and during a secret's rotation every message carries both signatures.
"""

import json
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from cases.models import Delivery, DeliveryAttempt, DeliveryStatus, Subscription

from . import callbacks

CONTENT_TYPE = "application/cloudevents+json"


def lock_of(delivery: Delivery) -> str:
    return f"webhook:{delivery.subscription_id}:{delivery.event.record_id}"


def schedule(delivery: Delivery) -> None:
    """Defer the delivery's job, in the caller's transaction (Django's connection)."""
    from cases.tasks import deliver_webhook

    deliver_webhook.configure(lock=lock_of(delivery)).defer(delivery_id=delivery.pk)


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): doubling."""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1)


def signing_secrets(subscription: Subscription, now=None) -> list[str]:
    """The current secret, and the previous one during its grace period."""
    now = now or timezone.now()
    secrets = [subscription.secret]
    if (subscription.previous_secret and subscription.previous_secret_expires
            and subscription.previous_secret_expires > now):
        secrets.append(subscription.previous_secret)
    return secrets


def body_of(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(subscription: Subscription, message_id: str, body: bytes) -> dict:
    now = datetime.now(UTC)
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(message_id, now, text)
                          for secret in signing_secrets(subscription))
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signatures, "Content-Type": CONTENT_TYPE}


def attempt(*, delivery_id: int, attempt: int) -> datetime | None:
    """Try delivery ``delivery_id`` once (``attempt``: the job's try, from 1); return when to
    try again, or None when done (delivered, finally failed, cancelled or gone)."""
    delivery = Delivery.objects.select_related("subscription", "event").filter(
        pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None
    subscription = delivery.subscription
    if not subscription.active:
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.CANCELLED,
                                                       next_attempt=None)
        return None
    body = body_of(delivery.event.message)
    started = time.monotonic()
    status_code, error = None, ""
    try:
        headers = signed_headers(subscription, str(delivery.event_id), body)
        if delivery.event.message.get("traceparent"):  # the trace goes on (DIGG SPA.02)
            headers["traceparent"] = delivery.event.message["traceparent"]
        status_code, answer = callbacks.post(subscription.callback_url, body, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {answer[:500]}"
    except (callbacks.CallbackRefused, OSError) as exc:
        error = str(exc) or type(exc).__name__
    duration = int((time.monotonic() - started) * 1000)
    return _record(delivery, attempt, status_code, error, duration)


@transaction.atomic
def _record(delivery: Delivery, attempt: int, status_code, error: str, duration: int):
    now = timezone.now()
    DeliveryAttempt.objects.create(delivery=delivery, status_code=status_code, error=error,
                                   duration_ms=duration)
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    retry_at = None
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_attempt = (
            DeliveryStatus.DELIVERED, now, None)
    elif attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt = DeliveryStatus.FAILED, None
        transaction.on_commit(lambda: notify_failure(delivery))
    else:
        retry_at = now + timedelta(seconds=backoff(attempt))
        delivery.next_attempt = retry_at
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status",
                                 "delivered_at", "next_attempt"])
    return retry_at


def notify_failure(delivery: Delivery) -> None:
    """Mail the subscription's contact that a message could not be delivered."""
    subscription = delivery.subscription
    if not subscription.contact_email:
        return
    event = delivery.event
    subject = _("Webhook delivery failed: %(name)s") % {"name": subscription.name}
    text = _(
        "The case register could not deliver an event to %(url)s after %(attempts)d "
        "attempts.\n\nSubscription: %(name)s\nEvent: %(event)s (%(type)s)\nRecord: "
        "%(record)s\nLast error: %(error)s\n\nFix the receiver, then send the message again "
        "(the admin's webhook deliveries, or POST "
        "/api/v1/subscriptions/<id>/deliveries/<delivery id>/redeliver/)."
    ) % {"url": subscription.callback_url, "attempts": delivery.attempts,
         "name": subscription.name, "event": event.id, "type": event.type,
         "record": event.message.get("data", {}).get("url") or event.record_id,
         "error": delivery.last_error[:500]}
    send_mail(subject, text, None, [subscription.contact_email], fail_silently=True)


@transaction.atomic
def redeliver(*, deliveries) -> int:
    """Send the given deliveries again (whatever their state), each with a fresh budget of
    attempts; return how many. The job queues behind the record's pending deliveries."""
    count = 0
    for delivery in deliveries.select_related("event").select_for_update(of=("self",)):
        delivery.status, delivery.next_attempt = DeliveryStatus.PENDING, timezone.now()
        delivery.full_clean()
        delivery.save(update_fields=["status", "next_attempt"])
        schedule(delivery)
        count += 1
    return count
