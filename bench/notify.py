"""Push-to-searchable latency through real registry notifications.

A real distribution registry sends its notifications, configured as the
portal's crawl page tells an admin to, to the portal's webhook served by
gunicorn on loopback; the index update runs on a real Celery worker over Redis
(``BENCH_REDIS_URL``, default db 14) and, for comparison, on the web process's
own threads (the embedded default, no broker). For each push the clock starts
when the manifest PUT returns and stops when the real search selector, asked
as a portal user would ask it, returns the new tag's repository.

    BENCH_NOTIFY_PUSHES=50 BENCH_NOTIFY_MODES=celery,inprocess python -m bench.notify
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.common import (
    ROOT,
    BenchError,
    Report,
    bench_admin,
    database_url,
    drop_database,
    env_int,
    percentile,
    portal_environment,
    recreate_database,
    require_registry,
    scratch_dir,
    setup_django,
    without_docker_hub,
)

TARGET_P95 = 1.0
POLL_SECONDS = 0.01
GIVE_UP_SECONDS = 30.0
VENV_BIN = Path(sys.executable).parent


class Process:
    """A child process of the bench in its own session, stopped by its id."""

    def __init__(self, name: str, args: list[str], env: dict, log: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                args,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def start_portal(env: dict, port: int, log: Path) -> Process:
    """Serve the portal with gunicorn on loopback; return once it answers."""
    process = Process(
        "gunicorn",
        [
            str(VENV_BIN / "gunicorn"),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        env,
        log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not process.alive():
            raise BenchError(f"gunicorn stopped:\n{process.tail()}")
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1, allow_redirects=False)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.stop()
    raise BenchError(f"gunicorn did not answer:\n{process.tail()}")


def start_worker(env: dict, log: Path) -> Process:
    """Run a real Celery worker (two processes, as on a 2-core host)."""
    return Process(
        "celery",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "portal",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"bench-notify-{os.getpid()}@%h",
        ],
        env,
        log,
    )


def hook_config(port: int, registry) -> dict:
    """Return the registry's notifications config, as the crawl page shows it."""
    from django.urls import reverse

    return {
        "notifications": {
            "endpoints": [
                {
                    "name": "portolan",
                    "url": f"http://127.0.0.1:{port}"
                    + reverse("library_webhook", args=[registry.pk]),
                    "headers": {"Authorization": [f"Bearer {registry.webhook_secret}"]},
                    "timeout": "2s",
                    "threshold": 5,
                    "backoff": "5s",
                    "ignore": {"actions": ["pull"]},
                }
            ]
        }
    }


def searchable(user, name: str, tag: str) -> bool:
    """Return whether the search selector returns ``name`` for a search by tag."""
    from library.selectors import SearchQuery, search_repositories

    results = search_repositories(user, None, SearchQuery(text=name, tag=tag))
    return any(hit.name == name for hit in results.hits)


def measure(pusher, user, prefix: str, pushes: int, warmup: int) -> list[float]:
    """Push images one by one; return the seconds until each was searchable."""
    latencies = []
    repository = ""
    for number in range(-warmup, pushes):
        # Half the pushes create a repository, half add a tag to the last one.
        if number % 2 == 0 or not repository:
            repository = f"{prefix}/app-{number + warmup}"
        tag = f"v{number + warmup}"
        pusher.image(repository, tag, layers=1, labels={"bench": "notify"})
        pushed = time.perf_counter()
        deadline = pushed + GIVE_UP_SECONDS
        while not searchable(user, repository, tag):
            if time.perf_counter() > deadline:
                raise BenchError(
                    f"{repository}:{tag} was not searchable after "
                    f"{GIVE_UP_SECONDS:.0f} s"
                )
            time.sleep(POLL_SECONDS)
        if number >= 0:
            latencies.append(time.perf_counter() - pushed)
    return latencies


def run_mode(mode: str, tmp: Path, env: dict, admin, pushes: int) -> list[float]:
    """Measure one way of running background work; return the latencies."""
    from registries.connect import verify
    from registries.services import (
        registry_create,
        registry_record_verification,
        registry_update,
    )
    from tests.support.registry import RegistryServer, free_port

    port = free_port()
    portal_env = dict(env)
    if mode == "celery":
        portal_env["REDIS_URL"] = os.environ.get(
            "BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"
        )
    else:
        portal_env.pop("REDIS_URL", None)
        portal_env["PORTAL_INPROCESS_THREADS"] = "2"
    full_env = {**os.environ, **portal_env}
    if mode != "celery":
        full_env.pop("REDIS_URL", None)
    # The webhook URL names the entry, and the entry names the registry's
    # address: create the entry first, then give it the address.
    entry = registry_create(
        acting_user=admin,
        name=f"bench notify {mode}",
        address="http://127.0.0.1:9",
        allow_plain_http=True,
    )
    processes: list[Process] = []
    server = None
    try:
        if mode == "celery":
            processes.append(start_worker(full_env, tmp / f"celery-{mode}.log"))
        processes.append(start_portal(full_env, port, tmp / f"gunicorn-{mode}.log"))
        server = RegistryServer(
            "http",
            workdir=tmp / f"registry-{mode}",
            extra_config=hook_config(port, entry),
        ).start()
        entry = registry_update(acting_user=admin, registry=entry, address=server.url)
        outcome = verify(entry)
        entry = registry_record_verification(
            registry=entry,
            ok=outcome.ok,
            message=outcome.message,
            api_version=outcome.api_version,
            flavour=outcome.flavour,
        )
        try:
            return measure(server.pusher(), admin, f"notify-{mode}", pushes, warmup=3)
        except BenchError as exc:
            logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in processes)
            tail = server.log_tail()
            raise BenchError(f"{exc}\n{logs}\n--- registry\n{tail}") from None
    finally:
        if server is not None:
            server.stop()
        for process in reversed(processes):
            process.stop()


def _flush_redis() -> None:
    import redis

    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        redis.Redis.from_url(url, socket_timeout=3).flushdb()
    except redis.RedisError as exc:
        raise BenchError(f"Redis is not usable at {url}: {exc}") from exc


def main() -> Report:
    require_registry()
    pushes = env_int("BENCH_NOTIFY_PUSHES", 50)
    modes = [
        m.strip()
        for m in os.environ.get("BENCH_NOTIFY_MODES", "celery,inprocess").split(",")
        if m.strip()
    ]
    unknown = set(modes) - {"celery", "inprocess"}
    if unknown:
        raise BenchError(f"Unknown BENCH_NOTIFY_MODES: {sorted(unknown)}")
    report = Report("notify", sizes={"pushes": pushes, "modes": modes})
    report.heading(f"Push to searchable: {pushes} pushes per mode")
    url = database_url()
    with scratch_dir("portolan-bench-notify-") as tmp:
        tmp = Path(tmp)
        recreate_database(url)
        env = portal_environment(url, tmp / "portal")
        setup_django(env, migrate=True)
        try:
            admin = bench_admin()
            without_docker_hub(admin)
            for mode in modes:
                if mode == "celery":
                    _flush_redis()
                latencies = run_mode(mode, tmp, env, admin, pushes)
                p50 = percentile(latencies, 50)
                p95 = percentile(latencies, 95)
                label = {
                    "celery": "Celery worker on Redis",
                    "inprocess": "in-process threads",
                }[mode]
                report.add(f"notify_{mode}_p50", f"{label}: p50", p50 * 1000, "ms")
                report.add(
                    f"notify_{mode}_p95",
                    f"{label}: p95",
                    p95 * 1000,
                    "ms",
                    target=f"<= {TARGET_P95 * 1000:.0f} ms",
                    ok=p95 <= TARGET_P95,
                    note=f"max {max(latencies) * 1000:.0f} ms, mean "
                    f"{statistics.mean(latencies) * 1000:.0f} ms",
                )
                if mode == "celery":
                    _flush_redis()
        finally:
            drop_database(url)
    report.save()
    return report


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"bench.notify: {exc}")
