"""The embedded default's background work: tasks on in-process threads.

These run for real on the thread pool (the autouse fixture's inline mode is
switched off per test), so countdowns and retries are timed as a user sees them.
"""

from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest

from portal.celery import app

RUNS: list[tuple[str, int, float]] = []
DONE = threading.Event()


@app.task(bind=True, name="tests.portal.record_and_retry", max_retries=2)
def record_and_retry(self, key: str, countdown: float) -> None:
    RUNS.append((key, self.request.retries, time.monotonic()))
    if self.request.retries < 2:
        raise self.retry(countdown=countdown)
    DONE.set()


@pytest.fixture
def in_process(settings):
    settings.PORTAL_INPROCESS_THREADS = 2
    RUNS.clear()
    DONE.clear()


def test_a_countdown_waits_before_the_task_runs(in_process):
    started = time.monotonic()
    record_and_retry.apply_async(("first", 0.05), countdown=1.0)
    time.sleep(0.2)
    assert RUNS == []  # still waiting for its countdown
    assert DONE.wait(5)
    assert RUNS[0][2] - started >= 1.0


def test_retries_wait_their_countdown_instead_of_looping(in_process):
    record_and_retry.apply_async(("retry", 0.3))
    assert DONE.wait(5)
    assert [(key, retries) for key, retries, _ in RUNS] == [
        ("retry", 0),
        ("retry", 1),
        ("retry", 2),
    ]
    gaps = [later[2] - earlier[2] for earlier, later in pairwise(RUNS)]
    assert all(gap >= 0.3 for gap in gaps), gaps


def test_inline_mode_still_runs_at_once(settings):
    """With no threads (the tests' mode), retries run synchronously as before."""
    RUNS.clear()
    settings.PORTAL_INPROCESS_THREADS = 0
    record_and_retry.apply_async(("inline", 30))
    assert [retries for _, retries, _ in RUNS] == [0, 1, 2]
