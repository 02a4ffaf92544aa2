"""Keep the benchmarks from rotting: seed a toy registry and run the crawl bench.

Figures at this size mean nothing; what is checked is that the seeder pushes
what it says it pushed and that ``bench.crawl`` runs the real crawler to an
index equal to the registry. Needs docker-registry and PostgreSQL on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.registry import RegistryServer, registry_binary

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://postgres@127.0.0.1:5432"

pytestmark = [pytest.mark.registry, pytest.mark.timeout(60)]


def require_registry() -> None:
    if registry_binary() is None:
        pytest.skip(
            "docker-registry (Debian package 'docker-registry') is not installed"
        )


def require_postgres() -> None:
    import psycopg

    try:
        psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=2).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc}")


def test_seed_pushes_what_it_reports(tmp_path):
    require_registry()
    from bench.seed import SeedPlan, seed

    with RegistryServer("http", workdir=tmp_path) as server:
        seeded = seed(
            server.pusher, SeedPlan(repositories=4, tags=3, multiarch_every=2)
        )
        catalog = requests.get(f"{server.url}/v2/_catalog", timeout=5).json()
        assert sorted(catalog["repositories"]) == sorted(seeded.tags)
        for name, tags in seeded.tags.items():
            listed = requests.get(f"{server.url}/v2/{name}/tags/list", timeout=5)
            assert (
                sorted(listed.json()["tags"])
                == sorted(tags)
                == [
                    "1.0.0",
                    "1.1.1",
                    "latest",
                ]
            )
            # latest is the newest version, not an image of its own.
            assert tags["latest"] == tags["1.1.1"] != tags["1.0.0"]
        # Repositories 1 and 3 of 4 hold multi-platform images (every second).
        assert seeded.indexes == 4


def test_crawl_bench_runs_the_real_crawler(tmp_path):
    require_registry()
    require_postgres()
    env = {
        **os.environ,
        "BENCH_REPOS": "3",
        "BENCH_TAGS": "2",
        "BENCH_CRAWL_ROUNDS": "1",
        "BENCH_DATABASE_URL": f"{POSTGRES}/portolan_bench_smoke_{os.getpid()}",
        "BENCH_OUT_DIR": str(tmp_path),
        "BENCH_TMPDIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench.crawl"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = {
        f["key"]: f
        for f in json.loads((tmp_path / "crawl.json").read_text())["figures"]
    }
    assert figures["index_matches"]["value"] == "yes"
    # Three repositories of one version and latest: three images, six tags (the
    # crawler may or may not describe an alias again; that is its business).
    assert 3 <= figures["crawl_tags_described"]["value"] <= 6
    assert figures["crawl_full_seconds"]["value"] > 0
    assert figures["crawl_peak_rss_mib"]["value"] > 0
