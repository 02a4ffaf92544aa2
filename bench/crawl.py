"""Crawl a seeded registry with the real crawler and compare it with its floor.

In one run, on one seeded registry (``bench.seed``):

- **floor, full crawl**: a bare concurrent fetch of exactly the requests a full
  crawl needs — catalog pages, every ``tags/list``, a manifest GET per tag (and
  the first child of an index), the config blob of every distinct image — with
  ``requests`` on a thread pool as large as the crawler's
  (``LIBRARY_CRAWL_CONCURRENCY``), parsing only what leads to the next request;
- **full crawl**: ``library.services`` queueing and running a crawl of an empty
  index into a PostgreSQL database of the bench's own, in a child process whose
  peak RSS (VmHWM, reset before the crawl) is reported;
- **floor, re-crawl**: catalog pages, tags and a manifest HEAD per tag;
- **no-change re-crawl**: the crawler again over the same, unchanged registry.

Rounds alternate floor and crawl (``BENCH_CRAWL_ROUNDS``, default 3) and the
medians are compared; the registry's access log counts what each one sent.

    python -m bench.crawl            # BENCH_REPOS=200 BENCH_TAGS=5 by default
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import (
    BenchError,
    Report,
    Stopwatch,
    bench_admin,
    database_url,
    drop_database,
    env_int,
    portal_environment,
    proc_status_kb,
    recreate_database,
    require_registry,
    reset_peak_rss,
    scratch_dir,
    setup_django,
    verified_entry,
    without_docker_hub,
)
from bench.seed import SeedPlan, seed

# What the V2 client sends; the floor must get the same answers.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
    ]
)
ACCESS_LINE = re.compile(r'"(GET|HEAD) /v2/')
TARGET_FULL = 1.25
TARGET_RECRAWL = 1.5


# -- the floor ---------------------------------------------------------------------


class _Tasks:
    """Run work on a pool where work may submit more work; wait for all of it."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.pending = 0
        self.done = threading.Condition()
        self.error: BaseException | None = None

    def submit(self, function, *args) -> None:
        with self.done:
            self.pending += 1
        self.pool.submit(self._run, function, args)

    def _run(self, function, args) -> None:
        try:
            function(*args)
        except BaseException as exc:  # reported by wait()
            self.error = self.error or exc
        finally:
            with self.done:
                self.pending -= 1
                if not self.pending:
                    self.done.notify_all()

    def wait(self) -> None:
        with self.done:
            while self.pending:
                self.done.wait()
        if self.error is not None:
            raise self.error


class Floor:
    """The least a crawl must ask the registry, asked as fast as the pool allows."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests = 0

    def _request(self, method: str, path: str, **headers: str) -> requests.Response:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
            with self._lock:
                self._sessions.append(session)
        response = session.request(
            method, self.base_url + path, headers=headers, timeout=30
        )
        response.raise_for_status()
        with self._lock:
            self.requests += 1
        return response

    def _catalog(self, tasks: _Tasks, then) -> None:
        path = "/v2/_catalog?n=1000"
        while path:
            response = self._request("GET", path)
            for name in response.json()["repositories"]:
                tasks.submit(then, tasks, name)
            following = response.links.get("next", {}).get("url")
            path = following if following and following.startswith("/") else None

    def _tags(self, name: str) -> list[str]:
        return self._request("GET", f"/v2/{name}/tags/list").json()["tags"] or []

    def _describe(self, name: str, tag: str, described: set, lock) -> None:
        response = self._request(
            "GET", f"/v2/{name}/manifests/{tag}", Accept=MANIFEST_ACCEPT
        )
        digest = response.headers["Docker-Content-Digest"]
        with lock:
            if digest in described:
                return  # another tag of the same manifest: nothing more to fetch
            described.add(digest)
        manifest = response.json()
        if "manifests" in manifest:
            child = manifest["manifests"][0]["digest"]
            manifest = self._request(
                "GET", f"/v2/{name}/manifests/{child}", Accept=MANIFEST_ACCEPT
            ).json()
        self._request("GET", f"/v2/{name}/blobs/{manifest['config']['digest']}").json()

    def _head(self, name: str, tag: str) -> None:
        self._request("HEAD", f"/v2/{name}/manifests/{tag}", Accept=MANIFEST_ACCEPT)

    def full(self) -> Stopwatch:
        """Fetch what a full crawl needs; return how long it took."""

        def repository(tasks: _Tasks, name: str) -> None:
            described: set[str] = set()
            lock = threading.Lock()
            for tag in self._tags(name):
                tasks.submit(self._describe, name, tag, described, lock)

        return self._run(repository)

    def recrawl(self) -> Stopwatch:
        """Fetch what a re-crawl needs (catalog, tags, HEADs); return how long."""

        def repository(tasks: _Tasks, name: str) -> None:
            for tag in self._tags(name):
                tasks.submit(self._head, name, tag)

        return self._run(repository)

    def _run(self, repository) -> Stopwatch:
        with Stopwatch() as watch:
            with ThreadPoolExecutor(self.concurrency) as pool:
                tasks = _Tasks(pool)
                self._catalog(tasks, repository)
                tasks.wait()
        return watch

    def close(self) -> None:
        for session in self._sessions:
            session.close()


# -- the crawler, in a child process ------------------------------------------------


def child(registry_id: int) -> None:
    """Queue and run one crawl of the entry's source; print its figures as JSON."""
    setup_django(None)
    from library import services
    from library.models import Crawl, CrawlStatus, CrawlTrigger
    from registries.models import Registry

    entry = Registry.objects.get(pk=registry_id)
    source = services.source_for_entry(entry)
    baseline = proc_status_kb("VmRSS")
    reset = reset_peak_rss()
    with Stopwatch() as watch:
        # Background work runs inline here (PORTAL_INPROCESS_THREADS=0): the
        # crawl task runs when crawl_request commits, as a worker would run it.
        crawl = services.crawl_request(source=source, trigger=CrawlTrigger.MANUAL)
        crawl.refresh_from_db()
        if crawl.status == CrawlStatus.QUEUED:
            services.crawl_run(crawl_id=crawl.pk)
    crawl = Crawl.objects.get(pk=crawl.pk)
    peak = proc_status_kb("VmHWM") if reset else None
    if peak is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": watch.seconds,
                "cpu_seconds": watch.cpu,
                "recorded_seconds": crawl.duration.total_seconds()
                if crawl.duration
                else None,
                "status": crawl.status,
                "error": crawl.error_message,
                "baseline_kb": baseline,
                "peak_kb": peak,
                "repositories_found": crawl.repositories_found,
                "repositories_changed": crawl.repositories_changed,
                "tags_found": crawl.tags_found,
                "tags_described": crawl.tags_described,
            }
        )
    )


def run_child(registry_id: int, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench.crawl", "--child", str(registry_id)],
        env={**os.environ, **env},
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise BenchError(f"The crawl child failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["status"] != "succeeded":
        raise BenchError(f"The crawl did not succeed: {figures}")
    return figures


# -- the run ---------------------------------------------------------------------------


def _access_count(log: Path) -> int:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if ACCESS_LINE.search(line))


def _index_view(entry) -> dict[str, dict[str, str]]:
    from library.models import Tag
    from library.services import source_for_entry

    view: dict[str, dict[str, str]] = {}
    rows = Tag.objects.filter(repository__source=source_for_entry(entry))
    for repository, tag, digest in rows.values_list(
        "repository__name", "name", "digest"
    ):
        view.setdefault(repository, {})[tag] = digest
    return view


def main() -> Report:
    from tests.support.registry import RegistryServer

    require_registry()
    plan = SeedPlan(
        repositories=env_int("BENCH_REPOS", 200),
        tags=env_int("BENCH_TAGS", 5),
        concurrency=env_int("BENCH_SEED_CONCURRENCY", 8),
    )
    rounds = env_int("BENCH_CRAWL_ROUNDS", 3)
    concurrency = env_int("LIBRARY_CRAWL_CONCURRENCY", 8)
    report = Report("crawl")
    url = database_url()
    with scratch_dir("portolan-bench-crawl-") as tmp:
        tmp = Path(tmp)
        # The access log lets the registry count what the floor and crawler send.
        server = RegistryServer(
            "http",
            workdir=tmp / "registry",
            extra_config={"log": {"accesslog": {"disabled": False}}},
        ).start()
        try:
            report.heading(
                f"Crawl: {plan.repositories} repositories x {plan.tags} tags, "
                f"concurrency {concurrency}, {rounds} rounds"
            )
            seeded = seed(server.pusher, plan)
            report.sizes = {
                "repositories": seeded.repository_count,
                "tags": seeded.tag_count,
                "manifests": seeded.manifests,
                "multi_platform_tags": seeded.indexes,
                "concurrency": concurrency,
                "rounds": rounds,
            }
            report.add(
                "seed_seconds",
                f"seed ({seeded.tag_count} tags, {seeded.manifests} manifests)",
                seeded.seconds,
                "s",
            )
            recreate_database(url)
            env = portal_environment(
                url,
                tmp / "portal",
                PORTAL_INPROCESS_THREADS="0",
                LIBRARY_CRAWL_CONCURRENCY=str(concurrency),
            )
            setup_django(env, migrate=True)
            try:
                _measure(report, server, seeded, env, concurrency, rounds)
            finally:
                drop_database(url)
        finally:
            server.stop()
    report.save()
    return report


def _measure(report: Report, server, seeded, env, concurrency: int, rounds: int):
    from library.models import Repository
    from library.services import source_for_entry

    admin = bench_admin()
    without_docker_hub(admin)
    entry = verified_entry(
        admin,
        name="bench registry",
        address=server.url,
        allow_plain_http=True,
    )
    floor = Floor(server.url, concurrency)
    log = server.log_path

    def counted(action) -> tuple[object, int]:
        before = _access_count(log)
        value = action()
        time.sleep(0.2)  # the access log is written after the response
        return value, _access_count(log) - before

    floor.recrawl()  # warm the registry's caches and the page cache for everyone
    results: dict[str, list] = {"floor": [], "full": [], "refloor": [], "recrawl": []}
    cpu: dict[str, list] = {key: [] for key in results}
    requests_sent: dict[str, int] = {}
    peak = baseline = None
    matched = None

    def record(key: str, seconds: float, cpu_seconds: float, sent: int) -> None:
        results[key].append(seconds)
        cpu[key].append(cpu_seconds)
        requests_sent.setdefault(key, sent)

    for number in range(rounds):
        Repository.objects.filter(source=source_for_entry(entry)).delete()
        watch, sent = counted(floor.full)
        record("floor", watch.seconds, watch.cpu, sent)
        figures, sent = counted(lambda: run_child(entry.pk, env))
        record("full", figures["seconds"], figures["cpu_seconds"], sent)
        if figures["tags_described"] == 0:
            raise BenchError("The full crawl described nothing: was the index empty?")
        peak = max(peak or 0, figures["peak_kb"])
        baseline = figures["baseline_kb"]
        if number == 0:
            matched = _index_view(entry) == seeded.tags
            full_figures = figures
        watch, sent = counted(floor.recrawl)
        record("refloor", watch.seconds, watch.cpu, sent)
        figures, sent = counted(lambda: run_child(entry.pk, env))
        record("recrawl", figures["seconds"], figures["cpu_seconds"], sent)
        if figures["tags_described"] or figures["repositories_changed"]:
            raise BenchError(f"The no-change re-crawl changed something: {figures}")
    floor.close()

    median = {key: statistics.median(values) for key, values in results.items()}
    cpu_median = {key: statistics.median(values) for key, values in cpu.items()}
    report.add(
        "index_matches",
        "index equals what was pushed",
        "yes" if matched else "NO",
        ok=bool(matched),
    )
    report.add(
        "crawl_tags_described",
        "tags described by the full crawl",
        full_figures["tags_described"],
        note=f"of {full_figures['tags_found']} found",
    )
    report.add(
        "floor_full_seconds",
        "floor, full crawl (median)",
        median["floor"],
        "s",
        note=f"{requests_sent['floor']} requests, {cpu_median['floor']:.2f} s CPU; "
        "runs " + ", ".join(f"{s:.2f}" for s in results["floor"]),
    )
    report.add(
        "crawl_full_seconds",
        "full crawl (median)",
        median["full"],
        "s",
        note=f"{requests_sent['full']} requests, {cpu_median['full']:.2f} s CPU; runs "
        + ", ".join(f"{s:.2f}" for s in results["full"]),
    )
    ratio = median["full"] / median["floor"]
    report.add(
        "crawl_full_ratio",
        "full crawl / floor",
        ratio,
        "x",
        target=f"<= {TARGET_FULL}x",
        ok=ratio <= TARGET_FULL,
    )
    report.add(
        "floor_recrawl_seconds",
        "floor, re-crawl (median)",
        median["refloor"],
        "s",
        note=f"{requests_sent['refloor']} requests, {cpu_median['refloor']:.2f} s CPU",
    )
    report.add(
        "crawl_recrawl_seconds",
        "no-change re-crawl (median)",
        median["recrawl"],
        "s",
        note=f"{requests_sent['recrawl']} requests, "
        f"{cpu_median['recrawl']:.2f} s CPU; runs "
        + ", ".join(f"{s:.2f}" for s in results["recrawl"]),
    )
    ratio = median["recrawl"] / median["refloor"]
    report.add(
        "crawl_recrawl_ratio",
        "no-change re-crawl / its floor",
        ratio,
        "x",
        target=f"close to 1 (<= {TARGET_RECRAWL}x)",
        ok=ratio <= TARGET_RECRAWL,
    )
    report.add(
        "crawl_peak_rss_mib",
        "crawler peak RSS (whole process)",
        round(peak / 1024, 1),
        "MiB",
        note=f"{round(baseline / 1024, 1)} MiB before the crawl",
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        try:
            main()
        except BenchError as exc:
            sys.exit(f"bench.crawl: {exc}")
