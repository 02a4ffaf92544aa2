"""Let the live server finish what a registry sent it before a test's teardown."""

from __future__ import annotations

import time


def wait_for_database_sessions_to_settle(timeout: float = 10.0) -> None:
    """Wait until no other session of the test database is busy (PostgreSQL).

    A real registry posts notifications to the live server on its own schedule
    (a delete emits several events): one may still be handled when the test
    ends, and its transaction would deadlock with the TRUNCATE that empties the
    database for the next test. Call this after stopping the registry.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    quiet = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and quiet < 3:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                " current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        quiet = 0 if busy else quiet + 1
        time.sleep(0.05)
