"""Background jobs run by the worker (``manage.py procrastinate worker``, DESIGN §8).

Procrastinate keeps its queue in the register's PostgreSQL: no other server. Its Django
integration defers on Django's own connection, so a job deferred while a change is saved
commits or rolls back with the change.
"""

from datetime import datetime

from django.conf import settings
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app

from cases.services import deliveries


class RetryLater(Exception):
    """The delivery failed and is to be tried again at ``at``."""

    def __init__(self, at: datetime):
        super().__init__(f"retry at {at.isoformat()}")
        self.at = at


class DeliveryRetry(BaseRetryStrategy):
    """Retry when the delivery says so (its backoff, from the settings read now); an
    unexpected error (a database outage) is retried the same way, within the budget."""

    def get_retry_decision(self, *, exception, job):
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_at=exception.at)
        if job.attempts + 1 >= settings.WEBHOOK_MAX_ATTEMPTS:
            return None
        return RetryDecision(retry_in={"seconds": deliveries.backoff(job.attempts + 1)})


@app.task(name="cases.deliver_webhook", queue="webhooks", pass_context=True,
          retry=DeliveryRetry())
def deliver_webhook(context, delivery_id: int) -> None:
    retry_at = deliveries.attempt(delivery_id=delivery_id, attempt=context.job.attempts + 1)
    if retry_at is not None:
        raise RetryLater(retry_at)


@app.periodic(cron="*/5 * * * *")
@app.task(name="cases.retry_stalled_jobs", queue="webhooks",
          queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context, timestamp: int) -> None:
    """Put back the jobs of a worker that died mid-job (no heartbeat for 30 s): a delivery
    left "doing" would otherwise hold back every later delivery of its record for good."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs():
        await manager.retry_job(job)
