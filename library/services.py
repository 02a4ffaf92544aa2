"""Every write to the index: crawls, notification updates and their bookkeeping.

A crawl walks catalog → tags → manifest HEADs → details, describing only tags
whose digest changed. Network calls run on a bounded thread pool; every
database write happens on the calling thread, one transaction per repository,
so search always sees each repository either as it was or as it is now.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import islice

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from library.models import (
    ACTIVE_STATUSES,
    Crawl,
    CrawlSource,
    CrawlStatus,
    CrawlTrigger,
    NotificationEvent,
    Repository,
    Tag,
)
from portal.services import audit_record
from registries.addresses import in_namespace, is_repository_path
from registries.clients import errors
from registries.clients.types import RepositoryInfo, TagDetails
from registries.connect import client_config, hub_urls, open_adapter
from registries.models import Flavour, Registry, VerifyStatus

log = logging.getLogger(__name__)

# Tags per unit of work: small enough that a repository with many tags still
# spreads over the pool, large enough to keep scheduling overhead low.
TAG_CHUNK = 16
CATALOG_BATCH = 100
MAX_ATTEMPTS = 3
SEARCH_TEXT_LIMIT = 4000


class CrawlRetry(Exception):
    """The crawl failed in a way that may pass; run it again after ``countdown``."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


class _LostCrawl(Exception):
    """Another worker took this crawl over; stop without writing more."""


# -- sources: which entries share an index ------------------------------------------


def account_key(username: str, password: str) -> str:
    """Return a keyed hash of the credentials (never the credentials themselves)."""
    return salted_hmac(
        "portolan.library.account", f"{username}\x00{password}", algorithm="sha256"
    ).hexdigest()


def source_key(registry: Registry) -> tuple[str, str] | None:
    """Return ``(address, account_key)`` of an entry, or None if unreadable."""
    try:
        password = registry.password if registry.username else ""
    except ValueError:
        log.warning("Credentials of registry %s cannot be decrypted.", registry.pk)
        return None
    return registry.address, account_key(registry.username, password)


def is_live_entry(registry: Registry) -> bool:
    """Return whether the entry is searched live instead of crawled (no catalog)."""
    return registry.is_docker_hub


def source_for_entry(registry: Registry) -> CrawlSource | None:
    """Return (creating it if needed) the source an entry reads from."""
    key = source_key(registry)
    if key is None:
        return None
    source, _created = CrawlSource.objects.get_or_create(
        address=key[0],
        account_key=key[1],
        defaults={"username": registry.username, "live_only": is_live_entry(registry)},
    )
    return source


def entries_for_source(source: CrawlSource) -> list[Registry]:
    """Return every entry (enabled or not) that reads from ``source``."""
    candidates = Registry.objects.filter(
        address=source.address, username=source.username
    )
    return [
        e for e in candidates if source_key(e) == (source.address, source.account_key)
    ]


def sources_sync() -> dict[CrawlSource, list[Registry]]:
    """Create a source for every entry and drop sources no entry reads any more."""
    groups: dict[tuple[str, str], list[Registry]] = {}
    for registry in Registry.objects.all():
        key = source_key(registry)
        if key is not None:
            groups.setdefault(key, []).append(registry)
    existing = {(s.address, s.account_key): s for s in CrawlSource.objects.all()}
    result: dict[CrawlSource, list[Registry]] = {}
    for key, entries in groups.items():
        source = existing.pop(key, None)
        if source is None:
            source, _created = CrawlSource.objects.get_or_create(
                address=key[0],
                account_key=key[1],
                defaults={
                    "username": entries[0].username,
                    "live_only": any(is_live_entry(e) for e in entries),
                },
            )
        result[source] = entries
    if existing:
        # Deleting a source deletes its index (on cascade).
        CrawlSource.objects.filter(pk__in=[s.pk for s in existing.values()]).delete()
    return result


def crawl_prefixes(entries: Iterable[Registry]) -> list[str]:
    """Return the namespaces to crawl: the union of the entries', minimal.

    Disabled entries count too: their namespaces stay indexed (reads filter them
    out), so enabling one again shows its images at once instead of after the
    next crawl, and a crawl for another entry never deletes them.
    """
    namespaces = sorted({e.namespace for e in entries})
    if not namespaces or "" in namespaces:
        return [""] if namespaces else []
    kept: list[str] = []
    for namespace in namespaces:
        if not any(in_namespace(namespace, other) for other in kept):
            kept.append(namespace)
    return kept


def connection_entry(entries: Iterable[Registry]) -> Registry | None:
    """Pick the entry whose connection settings a crawl uses (enabled, healthy)."""
    ranked = sorted(
        entries,
        key=lambda e: (
            not e.enabled,
            e.verify_status != VerifyStatus.OK,
            -(e.updated_at.timestamp() if e.updated_at else 0),
        ),
    )
    return ranked[0] if ranked else None


def _probed(entry: Registry) -> Registry:
    """Return ``entry``, or for one never verified an unsaved copy probed now."""
    if entry.api_version:
        return entry
    from registries.clients.probe import probe

    found = probe(client_config(entry), dockerhub_urls=hub_urls())
    clone = copy.copy(entry)
    clone.api_version = str(found.api_version or "v2")
    if clone.flavour in ("", Flavour.UNKNOWN):
        clone.flavour = str(found.flavour)
    return clone


def _close(adapter) -> None:
    close = getattr(adapter, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # closing must never hide the real outcome
            log.debug("Closing an adapter failed.", exc_info=True)


# -- values stored per tag ----------------------------------------------------------


@dataclass(frozen=True)
class TagRow:
    """What the index stores for one tag."""

    digest: str
    media_type: str = ""
    size: int | None = None
    created: datetime | None = None
    platforms: tuple[str, ...] = ()
    os_arch: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_details(cls, details: TagDetails) -> TagRow:
        platforms = tuple(str(p) for p in details.platforms)
        os_arch = tuple(
            dict.fromkeys(f"{p.os}/{p.architecture}" for p in details.platforms)
        )
        labels = tuple(sorted((str(k), str(v)) for k, v in details.labels.items()))
        return cls(
            digest=details.digest,
            media_type=details.media_type or "",
            size=details.size,
            created=details.created,
            platforms=platforms,
            os_arch=os_arch,
            labels=labels,
        )

    @classmethod
    def from_model(cls, tag: Tag) -> TagRow:
        return cls(
            digest=tag.digest,
            media_type=tag.media_type,
            size=tag.size,
            created=tag.created,
            platforms=tuple(tag.platforms or ()),
            os_arch=tuple(tag.os_arch or ()),
            labels=tuple(sorted((tag.labels or {}).items())),
        )

    def apply(self, tag: Tag) -> Tag:
        tag.digest = self.digest
        tag.media_type = self.media_type
        tag.size = self.size
        tag.created = self.created
        tag.platforms = list(self.platforms)
        tag.os_arch = list(self.os_arch)
        tag.labels = dict(self.labels)
        return tag


def search_text(name: str, description: str, rows: Iterable[TagRow]) -> str:
    """Return the words full-text search reads: name parts, description, labels."""
    words = name
    for separator in "/-_.":
        words = words.replace(separator, " ")
    values = sorted(
        {value for row in rows for _key, value in row.labels if 0 < len(value) < 200}
    )
    text = " ".join([name, words, description, *values])
    return text[:SEARCH_TEXT_LIMIT]


def _aggregates(name: str, info: RepositoryInfo, rows: dict[str, TagRow]) -> dict:
    created = [row.created for row in rows.values() if row.created is not None]
    return {
        "default_tag": default_tag(rows),
        "short_name": name.rsplit("/", 1)[-1],
        "description": info.description or "",
        "is_official": bool(info.is_official),
        "star_count": info.star_count,
        "pull_count": info.pull_count,
        "tag_count": len(rows),
        "last_modified": max(created) if created else None,
        "search_text": search_text(name, info.description or "", rows.values()),
    }


def default_tag(rows: dict[str, TagRow]) -> str:
    """Return ``latest`` if there is one, else the most recently created tag."""
    if not rows or "latest" in rows:
        return "latest" if rows else ""

    def newest(name: str) -> tuple[float, str]:
        created = rows[name].created
        return (created.timestamp() if created else float("-inf"), name)

    return max(rows, key=newest)


# Longest wait a crawl thread sleeps through; a registry asking for more
# (Retry-After) gets the whole crawl retried later instead.
MAX_INLINE_WAIT = 10.0


def _retrying(call: Callable, *args):
    """Run a registry call, retrying what may pass (timeouts, 5xx, 429) with backoff."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return call(*args)
        except errors.RegistryError as exc:
            if not exc.retryable or attempt == MAX_ATTEMPTS:
                raise
            delay = 0.25 * 4 ** (attempt - 1)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                if retry_after > MAX_INLINE_WAIT:
                    raise
                delay = max(delay, retry_after)
            time.sleep(delay)
    raise AssertionError("unreachable")


# -- writing one repository -----------------------------------------------------------


@dataclass
class _Stored:
    """A repository as the index holds it now (loaded in batches)."""

    repository: Repository
    tags: dict[str, TagRow]


def _load_stored(source: CrawlSource, names: list[str]) -> dict[str, _Stored]:
    """Return the stored repositories among ``names`` with their tags (2 queries)."""
    repositories = {
        r.name: _Stored(r, {})
        for r in Repository.objects.filter(source=source, name__in=names)
    }
    if repositories:
        by_id = {s.repository.pk: s for s in repositories.values()}
        for tag in Tag.objects.filter(repository_id__in=by_id).only(
            "repository_id", "name", *_TAG_VALUES
        ):
            by_id[tag.repository_id].tags[tag.name] = TagRow.from_model(tag)
    return repositories


@dataclass
class WriteOutcome:
    changed: bool = False
    deleted_repository: bool = False
    tags_deleted: int = 0
    stale: bool = False


# What the crawl stores per tag, and (with updated_at) what an upsert rewrites.
_TAG_VALUES = [field.name for field in dataclasses.fields(TagRow)]
_TAG_FIELDS = [*_TAG_VALUES, "updated_at"]


def _write_repository(
    *,
    source: CrawlSource,
    name: str,
    info: RepositoryInfo,
    rows: dict[str, TagRow],
    keep: set[str],
    fetched_at: datetime,
    crawl_id: int | None,
    complete: bool,
) -> WriteOutcome:
    """Swap in one repository's tags in one transaction.

    ``rows`` are the tags read now; ``keep`` names tags that could not be read
    this time and keep their stored values. With ``complete`` every other stored
    tag is gone from the registry; without it (a notification about some tags)
    only tags in ``rows`` change. A read older than the stored one is dropped.
    """
    now = timezone.now()
    outcome = WriteOutcome()
    with transaction.atomic():
        repository = (
            Repository.objects.select_for_update()
            .filter(source=source, name=name)
            .first()
        )
        if repository is not None and repository.fetched_at > fetched_at:
            outcome.stale = True
            return outcome
        stored = (
            {t.name: t for t in repository.tags.all()} if repository is not None else {}
        )
        merged = {n: TagRow.from_model(t) for n, t in stored.items()}
        if complete:
            merged = {n: r for n, r in merged.items() if n in keep}
        merged.update(rows)
        if not merged:
            if repository is not None:
                outcome.tags_deleted = len(stored)
                repository.delete()
                outcome.deleted_repository = True
                outcome.changed = True
            return outcome
        values = _aggregates(name, info, merged)
        if repository is None:
            repository = Repository(source=source, name=name, first_seen_at=now)
            outcome.changed = True
        for key, value in values.items():
            if getattr(repository, key) != value:
                setattr(repository, key, value)
                outcome.changed = True
        repository.last_seen_at = now
        repository.fetched_at = fetched_at
        if crawl_id is not None:
            repository.seen_by_crawl = crawl_id
        # The crawler holds ``source`` already: checking the foreign key would
        # cost one query per repository.
        repository.full_clean(
            exclude=["source"], validate_unique=False, validate_constraints=False
        )
        repository.save()
        upserts = []
        for tag_name, row in rows.items():
            old = stored.get(tag_name)
            if old is not None and TagRow.from_model(old) == row:
                continue
            tag = row.apply(
                Tag(repository=repository, name=tag_name, first_seen_at=now)
            )
            tag.updated_at = now
            upserts.append(tag)
        if upserts:
            Tag.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["repository", "name"],
                update_fields=_TAG_FIELDS,
            )
            outcome.changed = True
        gone = [n for n in stored if n not in merged]
        if gone:
            outcome.tags_deleted, _by_model = Tag.objects.filter(
                repository=repository, name__in=gone
            ).delete()
            outcome.changed = True
    return outcome


# -- the crawler ----------------------------------------------------------------------


@dataclass
class _RepoWork:
    info: RepositoryInfo
    stored: _Stored | None
    fetched_at: datetime = field(default_factory=timezone.now)
    rows: dict[str, TagRow] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    pending: int = 0
    error: errors.RegistryError | None = None

    @property
    def name(self) -> str:
        return self.info.name


class Crawler:
    """Walk one source with a bounded pool of network threads.

    Only the calling thread touches the database. Each thread has its own
    adapter (transports are not thread-safe), made by ``adapter_factory``.
    """

    def __init__(
        self,
        *,
        crawl: Crawl,
        adapter_factory: Callable[[], object],
        prefixes: list[str],
        concurrency: int,
        heartbeat_seconds: float = 1.0,
    ) -> None:
        self.crawl = crawl
        self.source = crawl.source
        self.adapter_factory = adapter_factory
        self.prefixes = prefixes
        self.concurrency = max(1, concurrency)
        self.heartbeat_seconds = heartbeat_seconds
        self._local = threading.local()
        self._adapters: list[object] = []
        self._adapters_lock = threading.Lock()
        self._last_beat = 0.0
        self._seen_ids: list[int] = []
        self._described = 0
        self._described_lock = threading.Lock()
        self.first_error: errors.RegistryError | None = None

    # threads ---------------------------------------------------------------------

    def _adapter(self):
        adapter = getattr(self._local, "adapter", None)
        if adapter is None:
            adapter = self.adapter_factory()
            self._local.adapter = adapter
            with self._adapters_lock:
                self._adapters.append(adapter)
        return adapter

    def _list_tags(self, name: str) -> list[str] | None:
        try:
            return _retrying(self._adapter().list_tags, name)
        except errors.NotFound:
            return None

    def _resolve(self, name: str, tags: list[str], known: dict[str, TagRow]):
        """Return ``(rows, failed, first_error)`` for some tags of one repository."""
        adapter = self._adapter()
        by_digest = {row.digest: row for row in known.values()}
        rows: dict[str, TagRow] = {}
        failed: set[str] = set()
        first_error = None
        for tag in tags:
            try:
                # With nothing stored for the repository a HEAD would only
                # precede the GET that describing needs anyway: skip it.
                row = None
                if known:
                    row = by_digest.get(_retrying(adapter.head_digest, name, tag))
                if row is None:
                    row = TagRow.from_details(_retrying(adapter.describe, name, tag))
                    by_digest[row.digest] = row
                    self._count_described()
            except errors.NotFound:
                continue  # deleted between the tag list and now
            except errors.RegistryError as exc:
                failed.add(tag)
                first_error = first_error or exc
                continue
            rows[tag] = row
        return rows, failed, first_error

    def _count_described(self) -> None:
        with self._described_lock:
            self._described += 1

    # the walk ----------------------------------------------------------------------

    def _catalog(self) -> Iterator[RepositoryInfo]:
        adapter = self._adapter()
        for prefix in self.prefixes:
            for info in adapter.list_repositories(prefix):
                if in_namespace(info.name, prefix):
                    yield info

    def run(self) -> None:
        crawl = self.crawl
        catalog = self._catalog()
        exhausted = False
        inflight: dict[Future, tuple[str, _RepoWork]] = {}
        max_inflight = self.concurrency * 4
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="crawl")
        try:
            while True:
                while not exhausted and len(inflight) < max_inflight:
                    batch = list(islice(catalog, CATALOG_BATCH))
                    if len(batch) < CATALOG_BATCH:
                        exhausted = True
                    if not batch:
                        break
                    stored = _load_stored(self.source, [info.name for info in batch])
                    crawl.repositories_found += len(batch)
                    for info in batch:
                        work = _RepoWork(info=info, stored=stored.get(info.name))
                        future = pool.submit(self._list_tags, info.name)
                        inflight[future] = ("list", work)
                if exhausted and not crawl.catalog_done:
                    crawl.catalog_done = True
                if not inflight:
                    break
                done, _pending = wait(
                    inflight,
                    timeout=self.heartbeat_seconds,
                    return_when=FIRST_COMPLETED,
                )
                for future in done:
                    kind, work = inflight.pop(future)
                    if kind == "list":
                        self._listed(pool, inflight, work, future)
                    else:
                        self._resolved(work, future)
                self._beat()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for adapter in self._adapters:
                _close(adapter)
        self._flush_seen()
        self._finish_walk()

    def _listed(self, pool, inflight, work: _RepoWork, future: Future) -> None:
        try:
            tags = future.result()
        except errors.RegistryError as exc:
            self._repository_failed(work, exc)
            return
        tags = tags or []
        self.crawl.tags_found += len(tags)
        if not tags:
            self._finalize(work)
            return
        known = work.stored.tags if work.stored else {}
        for start in range(0, len(tags), TAG_CHUNK):
            chunk = tags[start : start + TAG_CHUNK]
            future = pool.submit(self._resolve, work.name, chunk, known)
            inflight[future] = ("tags", work)
            work.pending += 1

    def _resolved(self, work: _RepoWork, future: Future) -> None:
        rows, failed, first_error = future.result()
        work.rows.update(rows)
        work.failed |= failed
        if first_error is not None:
            work.error = work.error or first_error
        work.pending -= 1
        if work.pending == 0:
            self._finalize(work)

    def _repository_failed(self, work: _RepoWork, exc: errors.RegistryError) -> None:
        """Keep what is stored for a repository that could not be read this time."""
        self.crawl.errors += 1
        self.first_error = self.first_error or exc
        self.crawl.repositories_done += 1
        if work.stored is not None:
            self._seen(work.stored.repository.pk)

    def _finalize(self, work: _RepoWork) -> None:
        crawl = self.crawl
        crawl.repositories_done += 1
        if work.error is not None:
            crawl.errors += 1
            self.first_error = self.first_error or work.error
        stored = work.stored
        unchanged = (
            stored is not None
            and not work.failed
            and work.rows == stored.tags
            and all(
                getattr(stored.repository, key) == value
                for key, value in _aggregates(work.name, work.info, work.rows).items()
            )
        )
        if unchanged:
            self._seen(stored.repository.pk)
            return
        if stored is None and not work.rows:
            return
        outcome = _write_repository(
            source=self.source,
            name=work.name,
            info=work.info,
            rows=work.rows,
            keep=work.failed,
            fetched_at=work.fetched_at,
            crawl_id=crawl.pk,
            complete=True,
        )
        if outcome.stale and stored is not None:
            self._seen(stored.repository.pk)
        if outcome.changed:
            crawl.repositories_changed += 1
        crawl.tags_deleted += outcome.tags_deleted
        if outcome.deleted_repository:
            crawl.repositories_deleted += 1

    def _seen(self, repository_id: int) -> None:
        self._seen_ids.append(repository_id)
        if len(self._seen_ids) >= 500:
            self._flush_seen()

    def _flush_seen(self) -> None:
        if self._seen_ids:
            Repository.objects.filter(pk__in=self._seen_ids).update(
                last_seen_at=timezone.now(), seen_by_crawl=self.crawl.pk
            )
            self._seen_ids = []

    def _finish_walk(self) -> None:
        """Drop repositories the complete catalog no longer lists."""
        crawl = self.crawl
        # A repository stored after the crawl started came from a notification.
        gone = Repository.objects.filter(
            source=self.source, fetched_at__lt=crawl.started_at
        ).exclude(seen_by_crawl=crawl.pk)
        _total, by_model = gone.delete()
        crawl.repositories_deleted += by_model.get(Repository._meta.label, 0)
        crawl.tags_deleted += by_model.get(Tag._meta.label, 0)

    def _beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < self.heartbeat_seconds:
            return
        self._last_beat = now
        self._flush_seen()
        crawl = self.crawl
        crawl.tags_described = self._described
        updated = Crawl.objects.filter(pk=crawl.pk, owner=crawl.owner).update(
            heartbeat_at=timezone.now(),
            **{name: getattr(crawl, name) for name in _COUNTERS},
        )
        if not updated:
            raise _LostCrawl


_COUNTERS = (
    "catalog_done",
    "repositories_found",
    "repositories_done",
    "repositories_changed",
    "repositories_deleted",
    "tags_found",
    "tags_described",
    "tags_deleted",
    "errors",
)


# -- crawl life cycle -----------------------------------------------------------------


def _stale(crawl: Crawl, now: datetime | None = None) -> bool:
    """Return whether an active crawl's worker seems gone.

    A queued crawl counts from when it is due: its creation, or for a retry
    the end of its countdown (kept in ``heartbeat_at``), so a crawl waiting
    out a registry's Retry-After is not taken for lost.
    """
    now = now or timezone.now()
    if crawl.status == CrawlStatus.RUNNING:
        beat = crawl.heartbeat_at or crawl.started_at or crawl.created_at
        return now - beat > timedelta(seconds=settings.LIBRARY_CRAWL_STALE_SECONDS)
    due = max(crawl.created_at, crawl.heartbeat_at or crawl.created_at)
    return now - due > timedelta(seconds=settings.LIBRARY_CRAWL_QUEUED_STALE_SECONDS)


def _enqueue(crawl_id: int) -> None:
    from library import tasks

    tasks.crawl.delay_on_commit(crawl_id)


def crawl_request(
    *,
    source: CrawlSource,
    trigger: str = CrawlTrigger.SCHEDULE,
    acting_user=None,
) -> Crawl:
    """Queue a crawl of ``source`` unless one is queued or running; return it."""
    with transaction.atomic():
        source = CrawlSource.objects.select_for_update().get(pk=source.pk)
        active = source.crawls.filter(status__in=ACTIVE_STATUSES).first()
        if active is not None:
            if not _stale(active):
                if (
                    trigger == CrawlTrigger.MANUAL
                    and active.status == CrawlStatus.QUEUED
                ):
                    # The task may have been lost (broker flushed): send it again;
                    # a crawl runs once however often its task arrives.
                    _enqueue(active.pk)
                return active
            _finish(
                active,
                CrawlStatus.FAILED,
                code="interrupted",
                message=_(
                    "The crawl was interrupted: its worker stopped before finishing. "
                    "What it had indexed is kept; this crawl replaces it."
                ),
            )
        crawl = Crawl.objects.create(
            source=source,
            trigger=trigger,
            requested_by=acting_user
            if getattr(acting_user, "is_authenticated", False)
            else None,
        )
        source.latest_crawl = crawl
        source.save(update_fields=["latest_crawl"])
        _enqueue(crawl.pk)
    return crawl


def crawl_request_for_entry(*, acting_user, registry: Registry) -> Crawl | None:
    """Queue a crawl of the source behind an entry ("Crawl now"), audited."""
    with transaction.atomic():
        source = source_for_entry(registry)
        if source is None:
            return None
        crawl = crawl_request(
            source=source, trigger=CrawlTrigger.MANUAL, acting_user=acting_user
        )
        audit_record(
            actor=acting_user,
            action="registry.crawl",
            obj=registry,
            project=registry.project,
            changes={"crawl": [None, crawl.pk]},
        )
    return crawl


def _finish(crawl: Crawl, status: str, *, code: str = "", message: str = "") -> None:
    """Record the end of a crawl, unless another worker has taken it over."""
    crawl.status = status
    crawl.finished_at = timezone.now()
    crawl.error_code = code[:50]
    crawl.error_message = message
    _save_state(crawl, "status", "finished_at", "error_code", "error_message")


def _save_state(crawl: Crawl, *fields: str) -> None:
    values = {name: getattr(crawl, name) for name in (*fields, *_COUNTERS)}
    Crawl.objects.filter(pk=crawl.pk, owner=crawl.owner).update(**values)


def _claim(crawl_id: int, attempt: int) -> Crawl | None:
    """Mark the crawl running for this worker; None if it is not ours to run."""
    with transaction.atomic():
        crawl = (
            Crawl.objects.select_for_update()
            .select_related("source")
            .filter(pk=crawl_id)
            .first()
        )
        if crawl is None or crawl.status not in ACTIVE_STATUSES:
            return None
        if crawl.status == CrawlStatus.RUNNING and not _stale(crawl):
            return None
        now = timezone.now()
        crawl.status = CrawlStatus.RUNNING
        crawl.owner = str(uuid.uuid4())
        crawl.attempt = attempt
        crawl.started_at = now
        crawl.heartbeat_at = now
        crawl.finished_at = None
        for name in _COUNTERS:
            setattr(crawl, name, False if name == "catalog_done" else 0)
        crawl.save()
        return crawl


def crawl_run(
    *, crawl_id: int, attempt: int = 0, adapter_factory: Callable | None = None
) -> Crawl | None:
    """Run a queued crawl to the end and record how it went.

    Raises :class:`CrawlRetry` when the registry failed in a way that may pass
    and attempts are left; the crawl is then queued again with the reason.
    """
    crawl = _claim(crawl_id, attempt)
    if crawl is None:
        return None
    source = crawl.source
    entries = entries_for_source(source)
    enabled = [e for e in entries if e.enabled]
    if not enabled:
        _finish(
            crawl,
            CrawlStatus.SUCCEEDED,
            message=_("No enabled entry uses this registry; nothing was crawled."),
        )
        return crawl
    entry = connection_entry(enabled)
    try:
        factory = adapter_factory or partial(open_adapter, _probed(entry))
        probe_adapter = factory()
        can_list = getattr(probe_adapter, "can_list", True)
        _close(probe_adapter)
        if not can_list or is_live_entry(entry):
            CrawlSource.objects.filter(pk=source.pk).update(live_only=True)
            _finish(
                crawl,
                CrawlStatus.SUCCEEDED,
                message=_(
                    "This registry has no catalog to crawl; it is searched live."
                ),
            )
            return crawl
        crawler = Crawler(
            crawl=crawl,
            adapter_factory=factory,
            prefixes=crawl_prefixes(entries),
            concurrency=settings.LIBRARY_CRAWL_CONCURRENCY,
        )
        crawler.run()
    except _LostCrawl:
        log.info("Crawl %s was taken over by another worker.", crawl_id)
        return None
    except errors.RegistryError as exc:
        _save_counters(crawl)
        if exc.retryable and attempt + 1 < settings.LIBRARY_CRAWL_ATTEMPTS:
            countdown = min(600, 30 * 2**attempt)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                # Honour the registry's Retry-After (a rate limit), up to an hour.
                countdown = min(3600, max(countdown, math.ceil(retry_after)))
            crawl.status = CrawlStatus.QUEUED
            crawl.heartbeat_at = timezone.now() + timedelta(seconds=countdown)
            crawl.error_code = exc.code
            crawl.error_message = _(
                "Attempt %(n)s failed: %(error)s Trying again in %(s)s seconds."
            ) % {"n": attempt + 1, "error": _sentence(exc.message), "s": countdown}
            _save_state(crawl, "status", "heartbeat_at", "error_code", "error_message")
            raise CrawlRetry(countdown) from exc
        _finish(
            crawl, CrawlStatus.FAILED, code=exc.code, message=_sentence(exc.message)
        )
        return crawl
    except Exception as exc:
        # Celery's soft time limit and any bug end here: record it in words.
        _save_counters(crawl)
        if type(exc).__name__ == "SoftTimeLimitExceeded":
            message = _(
                "The crawl took longer than the time limit and was stopped. What it "
                "indexed so far is kept."
            )
            code = "time_limit"
        else:
            log.exception("Crawl %s failed.", crawl_id)
            message = _("The crawl failed on the portal's side: %(error)s") % {
                "error": exc
            }
            code = "internal_error"
        _finish(crawl, CrawlStatus.FAILED, code=code, message=message)
        return crawl
    crawl.tags_described = crawler._described
    if crawler.first_error is not None:
        _finish(
            crawl,
            CrawlStatus.PARTIAL,
            code=crawler.first_error.code,
            message=_(
                "%(n)s repositories could not be read completely; they keep what "
                "was indexed before. First error: %(error)s"
            )
            % {"n": crawl.errors, "error": _sentence(crawler.first_error.message)},
        )
    else:
        _finish(crawl, CrawlStatus.SUCCEEDED)
    return crawl


def _sentence(text: str) -> str:
    text = (text or "").strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _save_counters(crawl: Crawl) -> None:
    _save_state(crawl)


def crawl_schedule_due(*, now: datetime | None = None) -> list[Crawl]:
    """Queue crawls of sources whose interval has passed; prune old events."""
    now = now or timezone.now()
    queued = []
    for source, entries in sources_sync().items():
        enabled = [e for e in entries if e.enabled]
        intervals = [
            e.crawl_interval_minutes for e in enabled if e.crawl_interval_minutes
        ]
        if not intervals or any(is_live_entry(e) for e in enabled) or source.live_only:
            continue
        latest = source.crawls.first()
        if latest is not None:
            if latest.is_active and not _stale(latest, now):
                continue
            due = latest.created_at + timedelta(minutes=min(intervals))
            # An enabled entry added or edited since (a wider namespace, say)
            # is read at the next tick rather than after the interval.
            changed = any(e.updated_at > latest.created_at for e in enabled)
            if latest.is_active is False and due > now and not changed:
                continue
        queued.append(crawl_request(source=source, trigger=CrawlTrigger.SCHEDULE))
    cutoff = now - timedelta(days=settings.LIBRARY_EVENT_RETENTION_DAYS)
    NotificationEvent.objects.filter(received_at__lt=cutoff).delete()
    return queued


def schedule_in_process() -> None:
    """Without a broker there is no Celery beat: look for due crawls now and then.

    Called from the Library's pages; at most once per beat interval (a cache
    key), and only where tasks run on the web process's own threads.
    """
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    if getattr(settings, "PORTAL_INPROCESS_THREADS", 0) <= 0:
        return
    interval = settings.CELERY_BEAT_SCHEDULE["library-crawl-due"]["schedule"]
    if cache.add("library:schedule-tick", True, timeout=int(interval)):
        from library import tasks

        tasks.crawl_due.delay()


# -- notifications ------------------------------------------------------------------

EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"


class BadNotification(ValueError):
    """The body is not a notification envelope; the message says why."""


def parse_envelope(data: object) -> list[dict]:
    """Return the events of an envelope, or raise ``BadNotification``."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise BadNotification(_('Expected a JSON object with an "events" list.'))
    events = data["events"]
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadNotification(_("Event %(i)s is not an object.") % {"i": index})
        if not isinstance(event.get("id"), str) or not event["id"]:
            raise BadNotification(_("Event %(i)s has no id.") % {"i": index})
        if not isinstance(event.get("action"), str):
            raise BadNotification(_("Event %(i)s has no action.") % {"i": index})
        target = event.get("target")
        if not isinstance(target, dict) or not isinstance(
            target.get("repository", ""), str
        ):
            raise BadNotification(_("Event %(i)s has no target.") % {"i": index})
        for key in ("tag", "digest"):
            if not isinstance(target.get(key, ""), str):
                raise BadNotification(
                    _("Event %(i)s has a malformed target %(key)s.")
                    % {"i": index, "key": key}
                )
    return events


def _event_key(event_id: str) -> str:
    """Return the stored de-duplication key: the id, or a hash of a long one."""
    if len(event_id) <= 100:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def notification_accept(*, registry: Registry, events: list[dict]) -> dict:
    """Record new push/delete events and queue the index updates they call for.

    Returns counts: ``accepted``, ``duplicates``, ``ignored``.
    """
    counts = {"accepted": 0, "duplicates": 0, "ignored": 0}
    changes: dict[str, tuple[set[str], set[str], dict[str, str]]] = {}
    with transaction.atomic():
        source = source_for_entry(registry)
        if source is None or not registry.enabled:
            counts["ignored"] = len(events)
            return counts
        for event in events:
            action = event["action"]
            target = event.get("target") or {}
            repository = (target.get("repository") or "").strip("/")
            tag = target.get("tag") or ""
            digest = target.get("digest") or ""
            # Pulls and mounts change nothing; a push by digest alone adds no
            # tag. An entry's secret speaks for its own namespace only.
            useful = (
                is_repository_path(repository)
                and in_namespace(repository, registry.namespace)
                and (
                    (action == "push" and tag)
                    or (action == "delete" and (tag or digest))
                )
            )
            if not useful:
                counts["ignored"] += 1
                continue
            try:
                with transaction.atomic():
                    NotificationEvent.objects.create(
                        source=source,
                        event_id=_event_key(event["id"]),
                        action=action[:20],
                        repository=repository[:255],
                        tag=tag[:128],
                        digest=digest[:135],
                    )
            except IntegrityError:
                counts["duplicates"] += 1
                continue
            counts["accepted"] += 1
            tags, digests, expected = changes.setdefault(repository, (set(), set(), {}))
            if tag:
                tags.add(tag)
                # What the event says the tag is now ("" once deleted): the
                # refresh waits briefly for the registry to agree.
                expected[tag] = digest if action == "push" else ""
            else:
                digests.add(digest)
        from library import tasks

        for repository, (tags, digests, expected) in changes.items():
            tasks.refresh_repository.delay_on_commit(
                source.pk, repository, sorted(tags), sorted(digests), expected
            )
    return counts


# How often, and how long, to wait for a tag to match its notification.
SETTLE_ATTEMPTS = 8
SETTLE_PAUSE = 0.05


def _settled(adapter, repository: str, tag: str, want: str | None):
    """Describe ``tag``; None if it does not exist. Wait briefly for ``want``."""
    for attempt in range(SETTLE_ATTEMPTS):
        try:
            details = _retrying(adapter.describe, repository, tag)
        except errors.NotFound:
            details = None
        seen = details.digest if details is not None else ""
        if want is None or seen == want:
            break
        time.sleep(SETTLE_PAUSE * (attempt + 1))
    return details


def repository_refresh(
    *,
    source_id: int,
    repository: str,
    tags: Iterable[str] = (),
    digests: Iterable[str] = (),
    expected: dict[str, str] | None = None,
    adapter=None,
) -> WriteOutcome | None:
    """Read some tags of one repository again and store what the registry says now.

    Each tag is described afresh, so events handled out of order still leave the
    registry's current state. Tags indexed under one of ``digests`` are read too.
    ``expected`` maps tags to the digest a notification announced ("" for a
    deletion): the distribution registry notifies before it has moved the tag,
    so a tag that does not match yet is read again a few times, briefly; after
    that what the registry says wins.
    """
    source = CrawlSource.objects.filter(pk=source_id).first()
    if source is None:
        return None
    entries = entries_for_source(source)
    if not any(e.enabled for e in entries) or not any(
        in_namespace(repository, p) for p in crawl_prefixes(entries)
    ):
        return None
    targets = set(tags)
    digests = set(digests)
    if digests:
        targets |= set(
            Tag.objects.filter(
                repository__source=source,
                repository__name=repository,
                digest__in=digests,
            ).values_list("name", flat=True)
        )
    if not targets:
        return None
    own_adapter = adapter is None
    adapter = adapter or open_adapter(connection_entry(entries))
    fetched_at = timezone.now()
    rows: dict[str, TagRow] = {}
    removed: set[str] = set()
    try:
        for tag in sorted(targets):
            details = _settled(adapter, repository, tag, (expected or {}).get(tag))
            if details is None:
                removed.add(tag)
            else:
                rows[tag] = TagRow.from_details(details)
    finally:
        if own_adapter:
            _close(adapter)
    stored = Repository.objects.filter(source=source, name=repository).first()
    info = RepositoryInfo(
        name=repository,
        description=stored.description if stored else "",
        star_count=stored.star_count if stored else None,
        pull_count=stored.pull_count if stored else None,
        is_official=stored.is_official if stored else False,
    )
    existing = (
        set(stored.tags.values_list("name", flat=True)) if stored is not None else set()
    )
    return _write_repository(
        source=source,
        name=repository,
        info=info,
        rows=rows,
        keep=existing - removed,
        fetched_at=fetched_at,
        crawl_id=None,
        complete=True,
    )
