"""Run every benchmark (``make bench``), each in its own process, then summarise.

Knobs (environment):

- ``BENCH_ONLY=crawl,notify,search``: which benchmarks to run (default all);
- ``BENCH_REPOS`` / ``BENCH_TAGS`` (200 / 5): the seeded registry of the crawl;
- ``BENCH_CRAWL_ROUNDS`` (3), ``LIBRARY_CRAWL_CONCURRENCY`` (the setting's 8);
- ``BENCH_NOTIFY_PUSHES`` (50), ``BENCH_NOTIFY_MODES`` (``celery,inprocess``),
  ``BENCH_REDIS_URL`` (``redis://127.0.0.1:6379/14``, flushed before and after);
- ``BENCH_SEARCH_REPOS`` / ``BENCH_SEARCH_TAGS`` (100000 / 10 per repository),
  ``BENCH_SEARCH_ROUNDS`` (3);
- ``BENCH_DATABASE_URL`` (``postgres://postgres@127.0.0.1:5432/portolan_bench``;
  its name must contain "bench": it is dropped and created),
  ``BENCH_KEEP_DATABASE=1`` to keep it, ``BENCH_TMPDIR`` for scratch files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.common import OUT_DIR, ROOT, BenchError

BENCHMARKS = ("crawl", "notify", "search")


def main() -> int:
    only = os.environ.get("BENCH_ONLY", ",".join(BENCHMARKS))
    chosen = [name.strip() for name in only.split(",") if name.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        raise BenchError(f"Unknown BENCH_ONLY entries: {sorted(unknown)}")
    started = time.monotonic()
    failed = []
    for name in chosen:
        result = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT)
        if result.returncode != 0:
            failed.append(name)
    summarise(chosen, failed, time.monotonic() - started)
    return 1 if failed else 0


def summarise(chosen: list[str], failed: list[str], seconds: float) -> None:
    print(f"\n== Summary ({seconds / 60:.1f} min)")
    for name in chosen:
        if name in failed:
            print(f"  {name}: FAILED (see above)")
            continue
        path = OUT_DIR / f"{name}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            print(f"  {name}: no figures ({path})")
            continue
        for figure in data["figures"]:
            if figure["ok"] is None:
                continue
            value = figure["value"]
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            verdict = "met" if figure["ok"] else "MISSED"
            print(
                f"  {name:<7} {figure['label']:<40} {shown:>9} {figure['unit']:<4}"
                f" target {figure['target'] or '-':<24} {verdict}"
            )
    print(f"  (figures as JSON in {OUT_DIR})")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
