"""Push N repositories × M tags of small real images into a real registry.

Realistic on purpose, yet fast: names under a dozen namespaces; one base layer
per namespace shared by all its repositories (uploaded once, then mounted
across repositories as ``docker push`` does); one small layer of each image's
own; labels; a multi-platform image in every tenth repository (an OCI index or
a Docker manifest list over two platforms); and ``latest`` pointing at the
newest version. Repositories are pushed concurrently, one
:class:`tests.support.images.ImagePusher` per thread.

With ``--tags M`` a repository holds M tags: M-1 versions and ``latest``.

    python -m bench.seed --repos 200 --tags 5 [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

from tests.support.images import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    ImagePusher,
    make_layer,
    rfc3339,
    sha256,
)

NAMESPACES = [
    "platform",
    "payments",
    "data",
    "web",
    "ml",
    "infra",
    "mirror",
    "tools",
    "team-a",
    "team-b",
    "observability",
    "security",
]
WORDS = [
    "api",
    "gateway",
    "worker",
    "scheduler",
    "ledger",
    "billing",
    "checkout",
    "search",
    "indexer",
    "postgres",
    "redis",
    "nginx",
    "grafana",
    "prometheus",
    "exporter",
    "backup",
    "ingest",
    "stream",
    "auth",
    "identity",
    "notifier",
    "mailer",
    "frontend",
    "webshop",
    "catalog",
    "inventory",
    "pricing",
    "reports",
    "etl",
    "trainer",
    "inference",
    "feature-store",
    "proxy",
    "dns",
    "vault",
    "scanner",
    "builder",
    "runner",
    "cache",
    "queue",
    "events",
    "audit",
    "console",
    "admin",
    "docs",
    "portal",
    "sync",
    "migrator",
]
TIERS = ["frontend", "backend", "batch", "tooling"]
PLATFORMS = (("linux", "amd64", ""), ("linux", "arm64", "v8"))
EPOCH = datetime(2024, 1, 1, 9, 0, 0, 123456, tzinfo=UTC)


@dataclass(frozen=True)
class SeedPlan:
    """What to push: ``repositories`` × ``tags`` (``latest`` included)."""

    repositories: int = 200
    tags: int = 5
    concurrency: int = 8
    multiarch_every: int = 10
    layer_bytes: int = 256


@dataclass
class Seeded:
    """What was pushed: ``{repository: {tag: digest}}`` and how long it took."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    manifests: int = 0  # every manifest PUT, index children included
    indexes: int = 0
    seconds: float = 0.0

    @property
    def repository_count(self) -> int:
        return len(self.tags)

    @property
    def tag_count(self) -> int:
        return sum(len(tags) for tags in self.tags.values())


def repository_names(count: int) -> list[str]:
    """Return ``count`` distinct, deterministic, plausible repository paths."""
    names: list[str] = []
    seen: set[str] = set()
    pairs = [(a, b) for a in WORDS for b in WORDS if a != b]
    rng = random.Random(4)
    rng.shuffle(pairs)
    i = 0
    while len(names) < count:
        namespace = NAMESPACES[i % len(NAMESPACES)]
        first, second = pairs[i % len(pairs)]
        lap = i // len(pairs)
        if i % 7 == 0:
            name = f"{namespace}/{first}"  # short names exist too
        elif i % 11 == 0:
            name = f"{namespace}/{first}/{second}"  # and nested ones
        else:
            name = f"{namespace}/{first}-{second}"
        if lap:
            name += f"-{lap}"
        if name not in seen:
            seen.add(name)
            names.append(name)
        i += 1
    return names


def versions(tags: int) -> list[str]:
    """Return the version tags of a repository holding ``tags`` tags."""
    return [f"1.{minor}.{minor % 3}" for minor in range(max(0, tags - 1))]


class _Pusher:
    """Push the images of one repository with the thread's own ImagePusher."""

    def __init__(self, pusher: ImagePusher, plan: SeedPlan, bases: dict) -> None:
        self.pusher = pusher
        self.plan = plan
        # namespace -> (layer bytes, digest, origin repository, diff id)
        self.bases = bases
        self.manifests = 0

    def mount(self, repository: str, namespace: str) -> tuple[str, int, str]:
        """Make the namespace's base layer part of ``repository``; return it."""
        data, digest, origin, diff_id = self.bases[namespace]
        if repository != origin:
            pusher = self.pusher
            headers = pusher.authorize(f"repository:{repository}:pull,push")
            response = pusher.session.post(
                f"{pusher.base_url}/v2/{repository}/blobs/uploads/",
                params={"mount": digest, "from": origin},
                headers=headers,
                timeout=10,
            )
            if response.status_code == 202:
                # Not mounted (another registry's rules): finish the upload instead.
                location = urljoin(response.url, response.headers["Location"])
                separator = "&" if "?" in location else "?"
                done = pusher.session.put(
                    f"{location}{separator}digest={digest}",
                    data=data,
                    headers={**headers, "Content-Type": "application/octet-stream"},
                    timeout=10,
                )
                done.raise_for_status()
            elif response.status_code != 201:
                response.raise_for_status()
        return digest, len(data), diff_id

    def image(
        self,
        repository: str,
        reference: str | None,
        *,
        base: tuple[str, int, str],
        labels: dict[str, str],
        created: datetime,
        platform: tuple[str, str, str] = PLATFORMS[0],
        oci: bool = False,
    ) -> tuple[str, str, bytes]:
        """Push one image (by digest when ``reference`` is None); return it."""
        os_name, architecture, variant = platform
        own = make_layer(self.plan.layer_bytes)
        config = {
            "created": rfc3339(created),
            "architecture": architecture,
            "os": os_name,
            "config": {"Labels": labels, "Env": ["PATH=/usr/local/bin:/usr/bin"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": [base[2], sha256(gzip.decompress(own))],
            },
            "history": [{"created": rfc3339(created), "created_by": "bench seed"}],
        }
        if variant:
            config["variant"] = variant
        config_bytes = json.dumps(config, sort_keys=True).encode()
        layer_type = OCI_LAYER if oci else DOCKER_LAYER
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "size": len(config_bytes),
                "digest": self.pusher.blob(repository, config_bytes),
            },
            "layers": [
                {"mediaType": layer_type, "size": base[1], "digest": base[0]},
                {
                    "mediaType": layer_type,
                    "size": len(own),
                    "digest": self.pusher.blob(repository, own),
                },
            ],
        }
        body = json.dumps(manifest, indent=3).encode()
        media_type = manifest["mediaType"]
        digest = self.pusher.manifest(
            repository, reference or sha256(body), body, media_type
        )
        self.manifests += 1
        return digest, media_type, body

    def index(
        self,
        repository: str,
        tag: str,
        *,
        base: tuple[str, int, str],
        labels: dict[str, str],
        created: datetime,
        oci: bool,
    ) -> tuple[str, str, bytes]:
        """Push one image per platform and an index (or Docker list) over them."""
        descriptors = []
        for platform in PLATFORMS:
            digest, media_type, body = self.image(
                repository,
                None,
                base=base,
                labels=labels,
                created=created,
                platform=platform,
                oci=oci,
            )
            os_name, architecture, variant = platform
            described = {"architecture": architecture, "os": os_name}
            if variant:
                described["variant"] = variant
            descriptors.append(
                {
                    "mediaType": media_type,
                    "size": len(body),
                    "digest": digest,
                    "platform": described,
                }
            )
        media_type = OCI_INDEX if oci else DOCKER_LIST
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": media_type, "manifests": descriptors},
            indent=3,
        ).encode()
        digest = self.pusher.manifest(repository, tag, body, media_type)
        self.manifests += 1
        return digest, media_type, body

    def repository(self, position: int, name: str) -> tuple[dict[str, str], bool]:
        """Push every tag of one repository; return ``({tag: digest}, multiarch)``."""
        plan = self.plan
        namespace = name.split("/", 1)[0]
        base = self.mount(name, namespace)
        every = plan.multiarch_every
        multiarch = every > 0 and (position + 7) % every == 0
        lists = multiarch and (position // every) % 2 == 0
        oci = position % 4 == 1 or (multiarch and not lists)
        tier = TIERS[position % len(TIERS)]
        pushed: dict[str, str] = {}
        newest: tuple[str, str, bytes] | None = None
        tags = versions(plan.tags) or ["latest"]
        for minor, tag in enumerate(tags):
            labels = {
                "org.opencontainers.image.title": name.rsplit("/", 1)[-1],
                "org.opencontainers.image.version": tag,
                "team": namespace,
                "tier": tier,
            }
            if position % 5 == 0:
                labels["org.opencontainers.image.description"] = (
                    f"{name.rsplit('/', 1)[-1].replace('-', ' ')} for the "
                    f"{namespace} {tier}"
                )
            created = EPOCH + timedelta(days=position % 300, hours=minor)
            if multiarch:
                newest = self.index(
                    name, tag, base=base, labels=labels, created=created, oci=oci
                )
            else:
                newest = self.image(
                    name, tag, base=base, labels=labels, created=created, oci=oci
                )
            pushed[tag] = newest[0]
        if "latest" not in pushed and newest is not None:
            digest, media_type, body = newest
            pushed["latest"] = self.pusher.manifest(name, "latest", body, media_type)
        return pushed, multiarch


def seed(
    pusher_factory: Callable[[], ImagePusher],
    plan: SeedPlan,
    *,
    names: list[str] | None = None,
) -> Seeded:
    """Push ``plan`` with one pusher per thread; return what was pushed."""
    names = names or repository_names(plan.repositories)
    started = time.perf_counter()
    # The base layers go to the first repository of each namespace first, so
    # that concurrent pushes can mount them from there.
    bases: dict[str, tuple[bytes, str, str, str]] = {}
    first = pusher_factory()
    for name in names:
        namespace = name.split("/", 1)[0]
        if namespace not in bases:
            data = make_layer(2048)
            diff_id = sha256(gzip.decompress(data))
            bases[namespace] = (data, first.blob(name, data), name, diff_id)
    local = threading.local()
    workers: list[_Pusher] = []
    lock = threading.Lock()

    def push(item: tuple[int, str]):
        worker = getattr(local, "worker", None)
        if worker is None:
            worker = local.worker = _Pusher(pusher_factory(), plan, bases)
            with lock:
                workers.append(worker)
        return item[1], worker.repository(*item)

    seeded = Seeded()
    with ThreadPoolExecutor(max(1, plan.concurrency)) as pool:
        for name, (tags, multiarch) in pool.map(push, enumerate(names)):
            seeded.tags[name] = tags
            if multiarch:
                seeded.indexes += len(tags) - (1 if plan.tags > 1 else 0)
    seeded.manifests = sum(worker.manifests for worker in workers)
    for worker in workers:
        worker.pusher.session.close()
    first.session.close()
    seeded.seconds = time.perf_counter() - started
    return seeded


def main(argv: list[str] | None = None) -> None:
    from bench.common import env_int, require_registry, scratch_dir
    from tests.support.registry import RegistryServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=env_int("BENCH_REPOS", 200))
    parser.add_argument("--tags", type=int, default=env_int("BENCH_TAGS", 5))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--keep", action="store_true", help="keep the registry running until Ctrl-C"
    )
    args = parser.parse_args(argv)
    require_registry()
    plan = SeedPlan(args.repos, args.tags, args.concurrency)
    with scratch_dir("portolan-seed-") as tmp:
        with RegistryServer("http", workdir=Path(tmp)) as server:
            seeded = seed(server.pusher, plan)
            print(
                f"Pushed {seeded.repository_count} repositories, {seeded.tag_count} "
                f"tags ({seeded.manifests} manifests, {seeded.indexes} multi-platform "
                f"tags) to {server.url} in {seeded.seconds:.1f} s."
            )
            if args.keep:
                print("Press Ctrl-C to stop the registry.")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass


if __name__ == "__main__":
    main()
