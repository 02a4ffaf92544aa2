"""Search and Library page latency on PostgreSQL at 100k repositories / 1M tags.

Index rows are generated directly (COPY) into the bench database, spread over
four registry entries the way an organisation has them: a global registry, a
global mirror, a project's namespace entry on the first registry, another
project's own registry and a disabled one (the last two invisible to the
person searching). Then a varied mix of searches — exact names, prefixes,
typos, several words, label, os/arch, tag and digest-prefix filters, namespace
and registry filters, sorting and later pages — runs through the real search
selector (``library.selectors.search_repositories``) as a project member, and
through the real Library page (Django's test client, full page and the HTMX
fragment the search box asks for), counting the page's queries.

    BENCH_SEARCH_REPOS=100000 BENCH_SEARCH_TAGS=1000000 python -m bench.search
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from bench.common import (
    OUT_DIR,
    BenchError,
    Report,
    Stopwatch,
    bench_admin,
    database_url,
    drop_database,
    env_int,
    percentile,
    portal_environment,
    postgres_version,
    recreate_database,
    scratch_dir,
    setup_django,
    without_docker_hub,
)
from bench.seed import NAMESPACES, TIERS, WORDS

TARGET_SEARCH_P95_MS = 25.0
TARGET_PAGE_P95_MS = 150.0
SYLLABLES = (
    "ka lo ra vin tex mo du ser pi no zen tor qua lin bel cor fa gi hu jo "
    "mar nel os pra quin rus sol tav ul ver wex yar zo bri cal dor"
).split()
MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


# -- generating the index ----------------------------------------------------------


def pseudo_words(count: int, rng: random.Random) -> list[str]:
    """Return ``count`` distinct made-up product names (kalovin, sertor, ...)."""
    words: dict[str, None] = {}
    while len(words) < count:
        parts = rng.randint(2, 3)
        words["".join(rng.choice(SYLLABLES) for _ in range(parts))] = None
    return list(words)


class Generator:
    """Deterministic repositories and tags that look like a real organisation's."""

    def __init__(self, repositories: int, tags: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.repositories = repositories
        self.mean_tags = max(1.0, tags / repositories)
        self.rare = pseudo_words(3000, self.rng)
        self.namespaces = NAMESPACES + [f"team-{w}" for w in self.rare[:300]]
        # Remembered for building queries that match something.
        self.samples: dict[str, list] = defaultdict(list)

    def name(self, namespace: str | None = None) -> str:
        rng = self.rng
        namespace = namespace or rng.choice(self.namespaces)
        first = rng.choice(WORDS) if rng.random() < 0.3 else rng.choice(self.rare)
        second = rng.choice(WORDS) if rng.random() < 0.5 else rng.choice(self.rare)
        shape = rng.random()
        if shape < 0.2:
            return f"{namespace}/{first}"
        if shape < 0.3:
            return f"{namespace}/{first}/{second}"
        return f"{namespace}/{first}-{second}"

    def names(
        self, count: int, taken: set[str], namespace: str | None = None
    ) -> list[str]:
        names = []
        while len(names) < count:
            name = self.name(namespace)
            if name in taken:
                name = f"{name}-{self.rng.randint(2, 99)}"
            if name not in taken:
                taken.add(name)
                names.append(name)
        return names

    def tag_count(self) -> int:
        if self.mean_tags <= 1:
            return 1
        count = 1 + round(self.rng.expovariate(1 / (self.mean_tags - 1)))
        return min(count, int(self.mean_tags * 20))

    def tags(self, name: str, namespace: str, position: int) -> list[dict]:
        """Return the tag rows of one repository: ``latest`` and versions."""
        rng = self.rng
        count = self.tag_count()
        tier = TIERS[position % len(TIERS)]
        multiarch = rng.random() < 0.15
        arm_only = not multiarch and rng.random() < 0.05
        if multiarch:
            platforms, os_arch = (
                ["linux/amd64", "linux/arm64/v8"],
                [
                    "linux/amd64",
                    "linux/arm64",
                ],
            )
        elif arm_only:
            platforms, os_arch = ["linux/arm64/v8"], ["linux/arm64"]
        else:
            platforms, os_arch = ["linux/amd64"], ["linux/amd64"]
        start = EPOCH + timedelta(minutes=rng.randint(0, 60 * 24 * 700))
        short = name.rsplit("/", 1)[-1]
        rows = []
        major = rng.randint(0, 4)
        for index in range(count):
            tag = (
                "latest"
                if index == count - 1
                else f"{major}.{index // 10}.{index % 10}"
            )
            labels = {
                "org.opencontainers.image.title": short,
                "org.opencontainers.image.version": tag,
                "team": namespace,
                "tier": tier,
            }
            if position % 3 == 0:
                labels["maintainer"] = f"{namespace}@corp.example"
            rows.append(
                {
                    "name": tag,
                    "digest": f"sha256:{rng.getrandbits(256):064x}",
                    "media_type": INDEX_TYPE if multiarch else rng.choice(MEDIA_TYPES),
                    "size": rng.randint(2_000_000, 900_000_000),
                    "created": start + timedelta(hours=index * 7),
                    "platforms": platforms,
                    "os_arch": os_arch,
                    "labels": labels,
                }
            )
        if rng.random() < 0.002:
            self.samples["digest"].append(rows[0]["digest"])
        return rows


def _copy(cursor, model, rows: Iterable[dict], *, with_id: bool) -> int:
    """COPY ``rows`` (field attname -> value) into ``model``'s table."""
    from django.db.models import JSONField

    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in ("id",)}
    count = 0
    with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = []
            for f in fields:
                value = row[f.attname] if f.attname in row else defaults[f.attname]
                if isinstance(f, JSONField):
                    value = json.dumps(value)
                values.append(value)
            copy.write_row(values)
            count += 1
    return count


def _search_indexes(cursor) -> list[tuple[str, str]]:
    """Return the library tables' indexes that no constraint owns."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename IN ('library_repository', 'library_tag')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """
    )
    return list(cursor.fetchall())


def generate(
    report: Report, repositories: int, tags: int, admin, project
) -> tuple[dict, Generator]:
    """Fill the index; return the entries by role and the generator's samples."""
    from django.db import connection

    from library.models import Repository, Tag
    from library.services import TagRow, search_text, source_for_entry
    from portal.services import project_create
    from registries.services import registry_create, registry_set_enabled

    other = project_create(acting_user=admin, name="Team B", slug="team-b")
    entries = {
        "corp": registry_create(
            acting_user=admin,
            name="Corp registry",
            address="https://registry.corp.example",
        ),
        "mirror": registry_create(
            acting_user=admin, name="Mirror", address="https://mirror.corp.example"
        ),
        "team_a": registry_create(
            acting_user=admin,
            project=project,
            name="Team A images",
            address="https://registry.corp.example",
            namespace="team-a",
        ),
        "team_b": registry_create(
            acting_user=admin,
            project=other,
            name="Team B registry",
            address="https://teamb.corp.example",
        ),
        "old": registry_create(
            acting_user=admin, name="Old registry", address="https://old.corp.example"
        ),
    }
    registry_set_enabled(acting_user=admin, registry=entries["old"], enabled=False)
    shares = {"corp": 0.55, "mirror": 0.25, "team_b": 0.15, "old": 0.05}
    sources = {key: source_for_entry(entries[key]) for key in shares}
    generator = Generator(repositories, tags)
    plan: list[tuple[int, str]] = []  # (source id, name)
    for key, share in shares.items():
        taken: set[str] = set()
        count = max(1, round(repositories * share))
        names = []
        if key == "corp":
            # The team-a namespace exists there, for the project's own entry.
            names = generator.names(min(400, count), taken, "team-a")
        names += generator.names(count - len(names), taken)
        plan += [(sources[key].pk, name) for name in names]
        if key in ("corp", "mirror"):
            generator.samples["visible"] += names[:2000]
        else:
            generator.samples["hidden"] += names[:200]
    now = datetime.now(UTC)
    tag_rows: list[tuple[int, list[dict]]] = []

    def repository_rows() -> Iterator[dict]:
        for position, (source_id, name) in enumerate(plan, start=1):
            namespace = name.split("/", 1)[0]
            rows = generator.tags(name, namespace, position)
            tag_rows.append((position, rows))
            description = (
                f"{name.rsplit('/', 1)[-1].replace('-', ' ')} service of {namespace}"
                if position % 5 == 0
                else ""
            )
            text = search_text(
                name,
                description,
                [
                    TagRow(
                        digest=r["digest"], labels=tuple(sorted(r["labels"].items()))
                    )
                    for r in rows
                ],
            )
            yield {
                "id": position,
                "source_id": source_id,
                "name": name,
                "short_name": name.rsplit("/", 1)[-1],
                "description": description,
                "is_official": False,
                "star_count": None,
                "pull_count": None,
                "tag_count": len(rows),
                "search_text": text,
                "last_modified": max(r["created"] for r in rows),
                "first_seen_at": now,
                "last_seen_at": now,
                "fetched_at": now,
                "seen_by_crawl": None,
            }

    def all_tag_rows() -> Iterator[dict]:
        for repository_id, rows in tag_rows:
            for row in rows:
                yield {
                    **row,
                    "repository_id": repository_id,
                    "first_seen_at": now,
                    "updated_at": now,
                }

    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        indexes = _search_indexes(cursor)
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        with Stopwatch() as watch:
            repo_count = _copy(cursor, Repository, repository_rows(), with_id=True)
            tag_count = _copy(cursor, Tag, all_tag_rows(), with_id=False)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('library_repository', 'id'), "
            "(SELECT max(id) FROM library_repository))"
        )
        report.add("load_seconds", "generate and COPY the rows", watch.seconds, "s")
        with Stopwatch() as watch:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")
        report.add(
            "index_seconds",
            f"build the {len(indexes)} search indexes",
            watch.seconds,
            "s",
        )
        with Stopwatch() as watch:
            cursor.execute("VACUUM ANALYZE library_repository")
            cursor.execute("VACUUM ANALYZE library_tag")
        report.add("vacuum_seconds", "VACUUM ANALYZE", watch.seconds, "s")
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('library_repository')), "
            "pg_size_pretty(pg_total_relation_size('library_tag'))"
        )
        repo_size, tag_size = cursor.fetchone()
    report.sizes.update(
        {
            "repositories": repo_count,
            "tags": tag_count,
            "visible_repositories": sum(
                1
                for source_id, _ in plan
                if source_id in (sources["corp"].pk, sources["mirror"].pk)
            ),
            "repository_table": repo_size,
            "tag_table": tag_size,
        }
    )
    tag_rows.clear()
    _record_crawls(sources.values(), plan)
    return entries, generator


def _record_crawls(sources, plan) -> None:
    """Record the crawl each source's rows stand for, finished just now.

    Without it the embedded scheduler (run from the Library page when there is
    no broker) would find the made-up registries due and crawl them mid-bench.
    """
    from django.utils import timezone

    from library.models import Crawl, CrawlStatus

    now = timezone.now()
    for source in sources:
        count = sum(1 for source_id, _name in plan if source_id == source.pk)
        crawl = Crawl.objects.create(
            source=source,
            status=CrawlStatus.SUCCEEDED,
            started_at=now,
            finished_at=now,
            heartbeat_at=now,
            catalog_done=True,
            repositories_found=count,
            repositories_done=count,
        )
        source.latest_crawl = crawl
        source.save(update_fields=["latest_crawl"])


# -- the query mix --------------------------------------------------------------------


def query_mix(generator: Generator, entries: dict) -> list[tuple[str, dict]]:
    """Return ``(kind, query-string parameters)`` pairs, as the page receives them."""
    rng = random.Random(11)
    visible = generator.samples["visible"]
    picks = rng.sample(visible, 12)
    mix: list[tuple[str, dict]] = []
    for name in picks[:4]:
        mix.append(("exact path", {"q": name}))
    for name in picks[4:8]:
        mix.append(("exact name", {"q": name.rsplit("/", 1)[-1]}))
    for word in rng.sample(generator.rare[:2000], 3) + ["postg", "graf"]:
        mix.append(("prefix", {"q": word[: max(3, len(word) - 2)]}))
    for word in rng.sample(generator.rare[:2000], 3) + ["prometheus", "inventory"]:
        position = rng.randrange(1, len(word) - 1)
        typo = (
            word[:position] + word[position + 1] + word[position] + word[position + 2 :]
        )
        mix.append(("typo", {"q": typo}))
    mix.append(("several words", {"q": "billing api"}))
    mix.append(("several words", {"q": f"{rng.choice(generator.rare)} worker"}))
    mix.append(("common word", {"q": "api"}))
    mix.append(("no match", {"q": "zzqxv"}))
    mix.append(("label", {"label": "tier=backend"}))
    mix.append(("label", {"q": "gateway", "label": "tier=frontend"}))
    mix.append(("label", {"label": f"team={rng.choice(generator.namespaces[12:])}"}))
    mix.append(("label key", {"label": "maintainer"}))
    mix.append(("os/arch", {"platform": "linux/arm64"}))
    mix.append(("os/arch", {"q": "worker", "platform": "linux/arm64"}))
    for digest in generator.samples["digest"][:3]:
        mix.append(("digest prefix", {"digest": digest[:19]}))
    mix.append(("tag", {"tag": "1.0.3"}))
    mix.append(("tag", {"q": "search", "tag": "latest"}))
    mix.append(("namespace", {"namespace": "team-a"}))
    mix.append(("namespace", {"namespace": "payments", "q": "ledger"}))
    mix.append(("registry", {"registry": str(entries["mirror"].pk), "q": "cache"}))
    mix.append(("sort", {"sort": "name"}))
    mix.append(("sort", {"sort": "updated", "namespace": "data"}))
    mix.append(("sort", {"q": "proxy", "sort": "updated"}))
    mix.append(("later page", {"q": "api", "page": "5"}))
    mix.append(("later page", {"sort": "name", "page": "40"}))
    mix.append(("empty", {}))
    return mix


def _queries(mix, registries) -> list[tuple[str, dict, object]]:
    from library.forms import SearchForm
    from library.selectors import SearchQuery

    parsed = []
    for kind, params in mix:
        if not params:
            parsed.append((kind, params, SearchQuery()))
            continue
        form = SearchForm(params, registries=registries)
        if not form.is_valid():
            raise BenchError(f"The form refused {params}: {form.errors.as_text()}")
        parsed.append((kind, params, form.search_query()))
    return parsed


def measure(report: Report, member, project, entries, generator) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from library.selectors import search_repositories
    from registries.selectors import registries_available

    rounds = env_int("BENCH_SEARCH_ROUNDS", 3)
    # The embedded scheduler's "task succeeded" lines are not figures.
    logging.getLogger("celery").setLevel(logging.WARNING)
    registries = list(registries_available(member, project))
    queries = _queries(query_mix(generator, entries), registries)
    hidden = {entries["team_b"].pk, entries["old"].pk}
    by_kind: dict[str, list[float]] = defaultdict(list)
    timings: list[float] = []
    slowest: list[tuple[float, str, dict, list]] = []
    hits_seen = 0
    for number in range(rounds + 1):
        for kind, params, query in queries:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                results = search_repositories(member, project, query)
                elapsed = (time.perf_counter() - started) * 1000
            if any(hit.registry.pk in hidden for hit in results.hits):
                raise BenchError(f"{params} returned a hidden registry's rows")
            if number == 0:
                hits_seen += len(results.hits)
                continue  # the first round warms the caches
            timings.append(elapsed)
            by_kind[kind].append(elapsed)
            slowest.append((elapsed, kind, params, captured.captured_queries))
    report.add("search_p50_ms", "search selector: p50", percentile(timings, 50), "ms")
    p95 = percentile(timings, 95)
    report.add(
        "search_p95_ms",
        "search selector: p95",
        p95,
        "ms",
        target=f"<= {TARGET_SEARCH_P95_MS:.0f} ms",
        ok=p95 <= TARGET_SEARCH_P95_MS,
        note=f"{len(timings)} searches, max {max(timings):.1f} ms",
    )
    print("    by kind (p50 / max, ms):")
    for kind, values in sorted(by_kind.items(), key=lambda kv: -max(kv[1])):
        print(f"      {kind:<16} {statistics.median(values):8.1f} {max(values):8.1f}")
    report.sizes["search_by_kind_ms"] = {
        kind: {
            "p50": round(statistics.median(v), 2),
            "max": round(max(v), 2),
        }
        for kind, v in by_kind.items()
    }
    if not hits_seen:
        raise BenchError("No search found anything: the generated index is wrong.")

    slowest.sort(key=lambda item: -item[0])

    # The Library page, as the browser asks for it.
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(member)
    page_times: list[float] = []
    fragment_times: list[float] = []
    counts: dict[str, set[int]] = defaultdict(set)
    for number in range(rounds + 1):
        for _kind, params, query in queries:
            url = "/library/" + ("?" + urlencode(params) if params else "")
            for fragment in (False, True):
                headers = {"HX-Request": "true"} if fragment else {}
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url, headers=headers)
                    elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise BenchError(f"GET {url} answered {response.status_code}")
                if number == 0:
                    continue
                (fragment_times if fragment else page_times).append(elapsed)
                # Free text may add the typo query, an empty search the popular
                # images; nothing else may change the count, least of all hits.
                shape = (
                    "text"
                    if query.text
                    else "no query"
                    if query.is_empty
                    else "filters"
                ) + (", fragment" if fragment else ", page")
                counts[shape].add(len(captured.captured_queries))
    constant = all(len(values) == 1 for values in counts.values())
    most = max(c for values in counts.values() for c in values)
    p95 = percentile(page_times, 95)
    report.add("page_p50_ms", "Library page: p50", percentile(page_times, 50), "ms")
    report.add(
        "page_p95_ms",
        "Library page: p95",
        p95,
        "ms",
        target=f"<= {TARGET_PAGE_P95_MS:.0f} ms",
        ok=p95 <= TARGET_PAGE_P95_MS,
        note=f"{len(page_times)} pages, max {max(page_times):.1f} ms",
    )
    p95 = percentile(fragment_times, 95)
    report.add(
        "fragment_p95_ms",
        "Library results fragment (HTMX): p95",
        p95,
        "ms",
        target=f"<= {TARGET_PAGE_P95_MS:.0f} ms",
        ok=p95 <= TARGET_PAGE_P95_MS,
    )
    report.add(
        "page_queries",
        "queries per page (most)",
        most,
        target="constant",
        ok=constant,
        note="; ".join(
            f"{shape}: {'/'.join(str(c) for c in sorted(values))}"
            for shape, values in sorted(counts.items())
        ),
    )
    report.sizes["page_queries_by_shape"] = {k: sorted(v) for k, v in counts.items()}
    _explain_slowest(slowest)


def _explain_slowest(slowest, kinds: int = 6) -> None:
    """Write EXPLAIN ANALYZE of the slowest SQL of the slowest kinds of search."""
    from django.db import connection, transaction

    lines = []
    explained: set[str] = set()
    for elapsed, kind, params, captured in slowest:
        if kind in explained or len(explained) >= kinds:
            continue
        explained.add(kind)
        query = max(captured, key=lambda q: float(q["time"] or 0))
        sql = query["sql"]
        try:
            # Same connection, so the same settings (the fuzzy threshold).
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
        except Exception as exc:  # the logged SQL is not always re-runnable
            plan = f"(could not explain: {exc})"
        lines.append(
            f"### {kind} {params}: {elapsed:.1f} ms for the search, "
            f"{float(query['time']) * 1000:.1f} ms for this SQL\n{sql}\n\n{plan}\n"
        )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / "search-explain.txt"
    path.write_text("\n".join(lines))
    print(f"  (EXPLAIN ANALYZE of the slowest kinds: {path})")


def main() -> Report:
    repositories = env_int("BENCH_SEARCH_REPOS", 100_000)
    tags = env_int("BENCH_SEARCH_TAGS", repositories * 10)
    report = Report("search", sizes={"repositories_asked": repositories})
    report.heading(f"Search: {repositories} repositories, {tags} tags (PostgreSQL)")
    url = database_url()
    with scratch_dir("portolan-bench-search-") as tmp:
        recreate_database(url)
        setup_django(portal_environment(url, Path(tmp) / "portal"), migrate=True)
        try:
            from django.contrib.auth import get_user_model

            from portal.services import membership_add, project_create

            report.sizes["postgres"] = postgres_version()
            admin = bench_admin()
            without_docker_hub(admin)
            project = project_create(acting_user=admin, name="Team A", slug="team-a")
            member = get_user_model().objects.create_user("bench-member")
            membership_add(
                acting_user=admin, project=project, user=member, role="member"
            )
            entries, generator = generate(report, repositories, tags, admin, project)
            measure(report, member, project, entries, generator)
        finally:
            drop_database(url)
    report.save()
    return report


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"bench.search: {exc}")
