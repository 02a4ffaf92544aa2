"""Background work of the Library: thin tasks, each one service call.

Task names are a public API (beat schedules and queued messages refer to them).
"""

from __future__ import annotations

from celery import shared_task

from library import services
from registries.clients import errors


@shared_task(name="library.crawl", bind=True, acks_late=True, max_retries=None)
def crawl(self, crawl_id: int) -> None:
    """Run a queued crawl; the service decides whether a failure is worth a retry.

    Attempts are bounded by ``LIBRARY_CRAWL_ATTEMPTS`` in the service, which
    records each one on the crawl. The time limits are Celery's global ones.
    """
    try:
        services.crawl_run(crawl_id=crawl_id, attempt=self.request.retries)
    except services.CrawlRetry as retry:
        raise self.retry(countdown=retry.countdown) from None


@shared_task(
    name="library.crawl_due", acks_late=True, soft_time_limit=120, time_limit=150
)
def crawl_due() -> None:
    """Queue the crawls whose interval has passed (run by Celery beat)."""
    services.crawl_schedule_due()


@shared_task(
    name="library.refresh_repository",
    bind=True,
    acks_late=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def refresh_repository(
    self,
    source_id: int,
    repository: str,
    tags: list[str],
    digests: list[str],
    expected: dict[str, str] | None = None,
) -> None:
    """Read the tags a notification named again and store what the registry says."""
    try:
        services.repository_refresh(
            source_id=source_id,
            repository=repository,
            tags=tags,
            digests=digests,
            expected=expected,
        )
    except errors.RegistryError as exc:
        if not exc.retryable:
            raise
        raise self.retry(countdown=min(60, 2**self.request.retries)) from exc
