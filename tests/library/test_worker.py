"""A real Celery worker on Redis crawls end to end, and survives being killed.

Needs PostgreSQL (the worker is another process on the same test database) and
Redis; skipped otherwise. The worker runs ``celery -A portal worker`` with this
test's ``DATABASE_URL`` pointing at pytest-django's test database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from library import services, tasks
from library.models import Crawl, CrawlStatus, Repository
from tests.library.conftest import index_view, skopeo_view

pytestmark = [
    pytest.mark.celery,
    pytest.mark.registry,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the worker shares the test database: needs DATABASE_URL=postgres://…",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 11  # this module's own Redis database, flushed before use


def redis_url() -> str:
    base = os.environ.get("LIBRARY_TEST_REDIS", "redis://127.0.0.1:6379")
    return f"{base.rstrip('/')}/{REDIS_DB}"


@pytest.fixture
def broker():
    """Return a Celery app that only sends to the test Redis database."""
    import redis
    from celery import Celery

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    sender = Celery("library-test-sender", broker=url)
    yield sender
    sender.close()


@pytest.fixture
def start_worker(transactional_db, broker, tmp_path):
    """Start ``celery -A portal worker`` processes on the test database."""
    started: list[subprocess.Popen] = []
    db = settings.DATABASES["default"]
    host = db["HOST"] or "127.0.0.1"
    database_url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )

    def start(**env) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url(),
                "PYTHONUNBUFFERED": "1",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
    connection.close()


@pytest.fixture
def enqueue_on_broker(monkeypatch, broker):
    """Send crawl tasks to the Redis broker instead of running them here."""
    monkeypatch.setattr(
        tasks.crawl,
        "delay",
        lambda crawl_id: broker.send_task("library.crawl", args=[crawl_id]),
    )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_real_worker_runs_a_crawl_end_to_end(
    fresh_registry, make_entry, start_worker, enqueue_on_broker, personas
):
    server = fresh_registry()
    pusher = server.pusher()
    pusher.image("svc/api", "1")
    pusher.image("svc/api", "2")
    pusher.index("svc/multi", "latest")
    entry = make_entry(server)
    start_worker()

    crawl = services.crawl_request_for_entry(
        acting_user=personas["portal_admin"], registry=entry
    )

    finished = wait_for(
        lambda: Crawl.objects.filter(pk=crawl.pk, finished_at__isnull=False).first(),
        60,
        "the worker to finish the crawl",
    )
    assert finished.status == CrawlStatus.SUCCEEDED, finished.error_message
    assert index_view(entry) == skopeo_view(server)


def test_killing_the_worker_mid_crawl_then_crawling_again_is_correct(
    fresh_registry, make_entry, start_worker, enqueue_on_broker, settings
):
    server = fresh_registry()

    def push(n: int) -> tuple[str, dict[str, str]]:
        pusher = server.pusher()  # one per thread: sessions are not shared
        name = f"bulk/repo-{n:03d}"
        return name, {t: pusher.image(name, t, layers=1).digest for t in ("a", "b")}

    # What was pushed is the truth here (skopeo agrees: see test_crawl.py).
    with ThreadPoolExecutor(4) as pool:
        truth = dict(pool.map(push, range(60)))
    entry = make_entry(server)
    worker = start_worker(LIBRARY_CRAWL_CONCURRENCY="1")
    source = services.source_for_entry(entry)

    crawl = services.crawl_request(source=source)
    wait_for(
        lambda: Repository.objects.filter(source=source).count() >= 3,
        60,
        "the crawl to index a few repositories",
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)

    crawl.refresh_from_db()
    assert crawl.status == CrawlStatus.RUNNING  # nobody is left to say otherwise
    partial = index_view(entry)
    assert 3 <= len(partial) < len(truth), "the kill did not land mid-crawl"
    # Each repository is in the index whole, or not at all.
    for name, tags in partial.items():
        assert tags == truth[name]

    settings.LIBRARY_CRAWL_STALE_SECONDS = 0
    again = services.crawl_request(source=source)
    assert again.pk != crawl.pk
    crawl.refresh_from_db()
    assert crawl.status == CrawlStatus.FAILED
    assert "interrupted" in crawl.error_message
    start_worker()
    finished = wait_for(
        lambda: Crawl.objects.filter(pk=again.pk, finished_at__isnull=False).first(),
        60,
        "the second crawl",
    )
    assert finished.status == CrawlStatus.SUCCEEDED, finished.error_message
    assert index_view(entry) == truth
    assert finished.tags_described == len(truth) * 2 - 2 * len(partial)
