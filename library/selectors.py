"""Reads of the index, always scoped to what the user may see in a project.

This module is the only door to index rows. Every function takes the user and
the current project and starts from ``registries_available``: enabled entries,
global or the project's own, each limited to its namespace. Entries with the
same address and account share one source; a repository is visible when some
available entry's source holds it inside that entry's namespace.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from library.models import Crawl, CrawlSource, PopularImage, Repository, Tag
from library.services import is_live_entry, open_adapter, source_key
from portal.models import Project
from registries.addresses import in_namespace, is_repository_path
from registries.clients import errors
from registries.models import Registry
from registries.selectors import registries_available

PAGE_SIZE = 20
TAGS_PAGE_SIZE = 100
# Minimum word similarity (pg_trgm) for a typo-tolerant match.
FUZZY_THRESHOLD = 0.3  # set per connection in library.apps
SORTS = ("relevance", "name", "updated")


# -- scope -------------------------------------------------------------------------


@dataclass
class Scope:
    """The entries a user may read in a project, with the source each reads.

    ``limits`` narrows an entry further to some namespaces (the built-in
    registry: only the projects whose images the user may pull); an entry
    without a limit is read within its own namespace only.
    """

    entries: list[Registry]
    sources: dict[int, CrawlSource]  # entry pk -> source
    limits: dict[int, list[str]] = field(default_factory=dict)

    @property
    def indexed_entries(self) -> list[Registry]:
        return [e for e in self.entries if e.pk in self.sources and not self.is_live(e)]

    @property
    def live_entries(self) -> list[Registry]:
        return [e for e in self.entries if self.is_live(e)]

    def is_live(self, entry: Registry) -> bool:
        source = self.sources.get(entry.pk)
        return is_live_entry(entry) or bool(source and source.live_only)

    def allows(self, entry: Registry, name: str) -> bool:
        """Return whether ``name`` lies inside what ``entry`` lets this user read."""
        if not in_namespace(name, entry.namespace):
            return False
        limit = self.limits.get(entry.pk)
        return limit is None or any(in_namespace(name, ns) for ns in limit)

    def narrowed(
        self, *, registry_id: int | None = None, builtin: bool | None = None
    ) -> Scope:
        """Return this scope limited to one entry and/or to built-in entries."""
        entries = [
            e
            for e in self.entries
            if (registry_id is None or e.pk == registry_id)
            and (builtin is None or e.is_builtin == builtin)
        ]
        kept = {e.pk for e in entries}
        return Scope(
            entries=entries,
            sources={pk: s for pk, s in self.sources.items() if pk in kept},
            limits={pk: ns for pk, ns in self.limits.items() if pk in kept},
        )

    def condition(self) -> Q:
        """Return the filter on Repository rows this scope may read.

        A source that some entry reads whole (no namespace, no limit) is one
        ``source_id IN (...)``; other entries of that source would add nothing
        but work for the planner.
        """
        whole = sorted(
            {
                self.sources[entry.pk].pk
                for entry in self.indexed_entries
                if not entry.namespace and entry.pk not in self.limits
            }
        )
        condition = Q(source_id__in=whole) if whole else Q(pk__in=[])
        for entry in self.indexed_entries:
            if self.sources[entry.pk].pk in whole:
                continue
            part = Q(source_id=self.sources[entry.pk].pk) & _under(entry.namespace)
            limit = self.limits.get(entry.pk)
            if limit is not None:
                allowed = Q(pk__in=[])
                for namespace in limit:
                    allowed |= _under(namespace)
                part &= allowed
            condition |= part
        return condition

    def entry_for(self, source_id: int, name: str) -> Registry | None:
        """Return the entry to show a repository under (most specific namespace)."""
        best = None
        for entry in self.indexed_entries:
            if self.sources[entry.pk].pk != source_id or not self.allows(entry, name):
                continue
            if best is None or len(entry.namespace) > len(best.namespace):
                best = entry
        return best


def _under(namespace: str) -> Q:
    """Return the filter for repositories inside ``namespace`` ("" is all)."""
    if not namespace:
        return Q()
    return Q(name=namespace) | Q(name__startswith=namespace + "/")


def _builtin_limits(user, project, entries: list[Registry]) -> dict[int, list[str]]:
    """Limit the built-in registry to the current project's images the user may pull.

    The built-in entry is global, but its namespaces are projects and only a
    project's members may pull from them (portal admins may pull everything).
    """
    builtin = [e for e in entries if e.is_builtin]
    if not builtin:
        return {}
    from registries.builtin.selectors import builtin_namespaces

    readable = builtin_namespaces(user)
    if readable is None:
        return {}
    mine = [project.slug] if project is not None and project.slug in readable else []
    return {e.pk: mine for e in builtin}


def sources_for_entries(entries: list[Registry]) -> dict[int, CrawlSource]:
    """Return ``{entry pk: source}`` for entries whose source exists (one query)."""
    keys = {entry.pk: source_key(entry) for entry in entries}
    pairs = {key for key in keys.values() if key is not None}
    if not pairs:
        return {}
    condition = Q()
    for address, account in pairs:
        condition |= Q(address=address, account_key=account)
    found = {
        (s.address, s.account_key): s
        for s in CrawlSource.objects.filter(condition).select_related("latest_crawl")
    }
    return {pk: found[key] for pk, key in keys.items() if key in found}


def library_scope(
    user,
    project: Project | None,
    *,
    registry_id: int | None = None,
    builtin: bool | None = None,
) -> Scope:
    """Return what ``user`` may read in ``project``, optionally one entry only."""
    entries = registries_available(user, project)
    if registry_id is not None:
        entries = entries.filter(pk=registry_id)
    if builtin is not None:
        entries = entries.filter(is_builtin=builtin)
    entries = list(entries)
    return Scope(
        entries=entries,
        sources=sources_for_entries(entries),
        limits=_builtin_limits(user, project, entries),
    )


def repositories_visible(user, project: Project | None) -> QuerySet[Repository]:
    """Return every index row ``user`` may read in ``project`` (for other readers)."""
    return Repository.objects.filter(library_scope(user, project).condition())


# -- search --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchQuery:
    """A parsed search: free text, filters, sort and page (see ``forms``)."""

    text: str = ""
    registry_id: int | None = None
    namespace: str = ""
    tag: str = ""
    digest: str = ""
    label_key: str = ""
    label_value: str | None = None
    platform: str = ""
    sort: str = "relevance"
    page: int = 1
    page_size: int = PAGE_SIZE

    @property
    def tag_filters(self) -> bool:
        return bool(self.tag or self.digest or self.label_key or self.platform)

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.registry_id or self.namespace or self.tag_filters)


@dataclass
class Hit:
    """One search result: an indexed repository, or one found live."""

    registry: Registry
    name: str
    description: str = ""
    is_official: bool = False
    star_count: int | None = None
    pull_count: int | None = None
    tag_count: int | None = None
    last_modified: datetime | None = None
    live: bool = False
    rank: int = 4
    default_tag: str = "latest"

    @property
    def url(self) -> str:
        return reverse("library_repository", args=[self.registry.pk, self.name])

    @property
    def pull_command(self) -> str:
        tag = self.default_tag or "latest"
        return "docker pull " + self.registry.pull_reference(self.name, tag)


@dataclass
class SearchResults:
    """A page of hits and notices for the person searching.

    ``total`` is how many hits there are at least; ``total_capped`` says there
    are more (a next page).
    """

    hits: list[Hit]
    query: SearchQuery
    total: int = 0
    total_capped: bool = False
    has_next: bool = False
    notices: list[str] = field(default_factory=list)
    scope: Scope | None = None

    @property
    def page(self) -> int:
        return self.query.page

    @property
    def has_previous(self) -> bool:
        return self.query.page > 1


def _words(text: str) -> list[str]:
    return [w for w in text.lower().split() if w]


# Trigram indexes cannot serve a substring shorter than a trigram.
MIN_SUBSTRING = 3
# Candidates ranked per match class (see _relevance_page).
TIER_CAP = 300


def _rank(text: str) -> Case:
    """Rank by how the name matches: exact, prefix, substring, else text only.

    Only cheap comparisons: the expensive matches (full text, fuzzy) decide
    which rows qualify, never the order of every candidate.
    """
    q = text.lower()
    whens = [
        When(Q(name=q) | Q(short_name=q), then=Value(0)),
        When(Q(name__startswith=q) | Q(short_name__startswith=q), then=Value(1)),
    ]
    if len(q) >= MIN_SUBSTRING:
        whens.append(When(name__contains=q, then=Value(2)))
    return Case(*whens, default=Value(3), output_field=IntegerField())


class _SearchVectorMatch(Expression):
    """``search_vector @@ plainto_tsquery(text)`` on the query's own table alias.

    The column exists on PostgreSQL only (migration 0005, kept by a trigger) and
    is not a model field, so it is named here against whatever alias the
    repository table has (it is aliased inside subqueries).
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def as_sql(self, compiler, connection):
        table = compiler.quote_name(compiler.query.get_initial_alias())
        column = f"{table}.{connection.ops.quote_name('search_vector')}"
        return f"{column} @@ plainto_tsquery('simple'::regconfig, %s)", [self.text]


def _fts(text: str) -> _SearchVectorMatch:
    return _SearchVectorMatch(text)


def _fuzzy(word: str) -> Func:
    # pg_trgm's word similarity ("<%") against the short name, served by
    # library_repo_short_name_trgm; the threshold is set on each connection
    # (library.apps). "%%" is one "%".
    return Func(
        Value(word),
        F("short_name"),
        template="%(expressions)s",
        arg_joiner=" <%% ",
        output_field=BooleanField(),
    )


def _text_match(text: str, postgres: bool) -> Q:
    q = text.lower()
    if postgres:
        name = Q(name__startswith=q) | Q(short_name__startswith=q)
        if len(q) >= MIN_SUBSTRING:
            name = Q(name__contains=q)
        return name | Q(_fts(text))
    condition = Q()
    for word in _words(text):
        condition &= Q(search_text__icontains=word) | Q(name__icontains=word)
    return condition


def _tag_condition(query: SearchQuery, postgres: bool) -> Exists | None:
    if not query.tag_filters:
        return None
    tags = Tag.objects.filter(repository=OuterRef("pk"))
    if query.tag:
        tags = tags.filter(name=query.tag)
    if query.digest:
        tags = tags.filter(digest__startswith=query.digest)
    if query.label_key:
        if query.label_value is None:
            tags = tags.filter(labels__has_key=query.label_key)
        elif postgres:
            tags = tags.filter(labels__contains={query.label_key: query.label_value})
        else:
            # Cast: comparing a key transform directly would treat the value as JSON.
            label = Cast(KeyTextTransform(query.label_key, "labels"), TextField())
            tags = tags.annotate(_label=label).filter(_label=query.label_value)
    if query.platform:
        if postgres:
            tags = tags.filter(os_arch__contains=[query.platform])
        else:
            # SQLite keeps JSON as text: match the quoted element.
            tags = tags.annotate(_platforms=Cast("os_arch", TextField())).filter(
                _platforms__contains=f'"{query.platform}"'
            )
    return Exists(tags)


def _filtered(scope: Scope, query: SearchQuery, postgres: bool):
    """Return the rows in scope that pass every filter except the free text."""
    rows = Repository.objects.filter(scope.condition())
    if query.namespace:
        rows = rows.filter(
            Q(name=query.namespace) | Q(name__startswith=query.namespace + "/")
        )
    tag_condition = _tag_condition(query, postgres)
    if tag_condition is not None:
        rows = rows.filter(tag_condition)
    return rows


_POPULAR_FIRST = (
    "-is_official",
    F("pull_count").desc(nulls_last=True),
    F("star_count").desc(nulls_last=True),
)


def _ordered(rows, query: SearchQuery):
    # Each order ends in the primary key, so pages never overlap; PostgreSQL has
    # an index for each (migration 0005).
    if query.sort == "name":
        return rows.order_by("name", "pk")
    if query.sort == "updated":
        return rows.order_by(F("last_modified").desc(nulls_last=True), "name", "pk")
    if query.text:
        rows = rows.annotate(rank=_rank(query.text))
        return rows.order_by("rank", *_POPULAR_FIRST, "name", "pk")
    return rows.order_by(*_POPULAR_FIRST, "name", "pk")


def _tiers(text: str) -> list[Q]:
    """Return the match classes in rank order, each excluding the ones before."""
    q = text.lower()
    exact = Q(name=q) | Q(short_name=q)
    prefix = Q(name__startswith=q) | Q(short_name__startswith=q)
    tiers = [exact, prefix & ~exact]
    named = prefix
    if len(q) >= MIN_SUBSTRING:
        # A short name is the end of the name, so this covers both prefixes.
        named = Q(name__contains=q)
        tiers.append(named & ~prefix)
    tiers.append(Q(_fts(text)) & ~named)
    return tiers


# The order among equals, on the columns every branch below selects.
_POPULAR_SQL = (
    "is_official DESC, COALESCE(pull_count, -1) DESC, "
    "COALESCE(star_count, -1) DESC, name, id"
)


def _typo_word(text: str) -> str:
    """Return the word a typo-tolerant match may look for ("" for none).

    Only a single word (the image's own name, its last path component) is
    worth it: full text already matches several words, and a common word among
    several makes the trigram match broad and slow.
    """
    words = text.lower().split()
    if len(words) != 1:
        return ""
    word = words[0].strip("/").rsplit("/", 1)[-1]
    return word if len(word) >= MIN_SUBSTRING else ""


def _relevance_page(
    base, text: str, need: int, typo: str = "", typo_limit: int = 0
) -> list[Repository]:
    """Return the first ``need`` matches in rank order, in one statement.

    One common table expression per match class (exact, prefix, substring,
    full text), each read from its own index, capped, then top-N sorted by
    popularity; ordering the table itself would let PostgreSQL walk the
    popularity index, which can mean reading all of it. A class runs only
    while the classes before it have not filled the page: its condition on
    their counts is uncorrelated, so PostgreSQL checks it once and skips the
    scan. A class with more than ``TIER_CAP`` matches is ranked among the first
    ``TIER_CAP`` its index yields: a word that broad needs refining anyway.
    Given ``typo``, a last expression looks for at most ``typo_limit`` near
    spellings of it, and runs only when no class matched.
    """
    ctes, params, names = [], [], []
    for rank, condition in enumerate(_tiers(text)):
        # No order inside the cap (the model's default would walk the name
        # index): the cap only bounds how many candidates are ranked.
        candidates = base.filter(condition).values("id", *_FIELDS).order_by()
        sql, candidate_params = candidates[
            : max(TIER_CAP, need)
        ].query.sql_with_params()
        gate = ""
        if names:
            found = " + ".join(f"(SELECT count(*) FROM {n})" for n in names)
            gate = f"WHERE {found} < %s "
        ctes.append(
            f"c{rank} AS MATERIALIZED (SELECT {rank} AS rank, "
            f"0.0::float8 AS similarity, m.* FROM ({sql}) AS m {gate}"
            f"ORDER BY {_POPULAR_SQL} LIMIT %s)"
        )
        params += [*candidate_params, *([need] if names else []), need]
        names.append(f"c{rank}")
    if typo:
        # Capped before scoring: a common letter group costs a bounded number
        # of rows, not a sort of all its matches.
        candidates = base.filter(_fuzzy(typo)).values("id", *_FIELDS).order_by()
        sql, candidate_params = candidates[:TIER_CAP].query.sql_with_params()
        nothing = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {n})" for n in names)
        ctes.append(
            "typo AS MATERIALIZED (SELECT 4 AS rank, "
            "word_similarity(%s, m.short_name) AS similarity, m.* "
            f"FROM ({sql}) AS m WHERE {nothing} "
            f"ORDER BY similarity DESC, {_POPULAR_SQL} LIMIT %s)"
        )
        params += [typo, *candidate_params, typo_limit]
        names.append("typo")
    union = " UNION ALL ".join(f"SELECT * FROM {n}" for n in names)
    rows = Repository.objects.raw(
        f"WITH {', '.join(ctes)} SELECT * FROM ({union}) AS page "
        f"ORDER BY rank, similarity DESC, {_POPULAR_SQL}",
        params,
    )
    return list(rows)


_FIELDS = (
    "source_id",
    "name",
    "short_name",
    "description",
    "is_official",
    "star_count",
    "pull_count",
    "tag_count",
    "default_tag",
    "last_modified",
)


def search_repositories(
    user,
    project: Project | None,
    query: SearchQuery,
    *,
    builtin: bool | None = None,
    scope: Scope | None = None,
) -> SearchResults:
    """Search the index (and live registries) as ``user`` may in ``project``.

    The same number of queries whatever is asked and whatever the page holds:
    entries, sources, then the page itself in one statement (on PostgreSQL with
    every match class and, when nothing matched as written, near spellings of a
    single word, see ``_relevance_page``). Totals are
    not counted (that would cost as much as the search): the results say how
    many there are at least, and whether a next page exists. ``builtin`` limits
    the search to the built-in registry (True) or to the others (False).
    ``scope`` is one that ``library_scope`` returned for the same user and
    project in this request.
    """
    if scope is None:
        scope = library_scope(
            user, project, registry_id=query.registry_id, builtin=builtin
        )
    else:
        scope = scope.narrowed(registry_id=query.registry_id, builtin=builtin)
    postgres = connection.vendor == "postgresql"
    results = SearchResults(hits=[], query=query, scope=scope)
    if query.registry_id is not None and not scope.entries:
        results.notices.append(_("That registry is not available to this project."))
        return results
    size = query.page_size
    offset = (query.page - 1) * size
    base = _filtered(scope, query, postgres)
    if not scope.indexed_entries:
        page = []  # only live registries: nothing to read from the index
    elif query.text and query.sort == "relevance" and postgres:
        # Near spellings only on the first page, and only when nothing matched
        # as written (decided inside the same statement).
        typo = _typo_word(query.text) if query.page == 1 else ""
        page = _relevance_page(
            base, query.text, offset + size + 1, typo, typo_limit=size
        )[offset:]
    else:
        rows = base.filter(_text_match(query.text, postgres)) if query.text else base
        page = list(_ordered(rows, query).only(*_FIELDS)[offset : offset + size + 1])
    results.has_next = len(page) > size
    page = page[:size]
    results.total = offset + len(page)
    results.total_capped = results.has_next
    for repository in page:
        entry = scope.entry_for(repository.source_id, repository.name)
        if entry is None:  # cannot happen: the scope filtered the rows
            continue
        results.hits.append(
            Hit(
                registry=entry,
                name=repository.name,
                description=repository.description,
                is_official=repository.is_official,
                star_count=repository.star_count,
                pull_count=repository.pull_count,
                tag_count=repository.tag_count,
                last_modified=repository.last_modified,
                rank=getattr(repository, "rank", 4),
                default_tag=repository.default_tag,
            )
        )
    if query.text and query.page == 1 and not query.tag_filters:
        _merge_live(results, scope, query)
    return results


def builtin_repositories(
    user, project: Project | None, query: SearchQuery | None = None
) -> SearchResults:
    """Return what the built-in registry holds that ``user`` may see in ``project``."""
    return search_repositories(
        user, project, query or SearchQuery(sort="name"), builtin=True
    )


# -- live search (registries without a catalog) ------------------------------------


def _rank_name(name: str, text: str) -> int:
    q = text.lower()
    short = name.rsplit("/", 1)[-1]
    if q in (name, short):
        return 0
    if name.startswith(q) or short.startswith(q):
        return 1
    if q in name:
        return 2
    return 3


# After a failure a live registry is left alone this long, for every query.
LIVE_FAILURE_SECONDS = 30


def live_search(entry: Registry, text: str, *, limit: int) -> list[dict]:
    """Ask a registry without a catalog to search; cached. Raise RegistryError.

    A failure is remembered for the registry, not only for the query, so a
    registry that does not answer costs one timeout, not one per keystroke.
    """
    registry_key = hashlib.sha256(repr(source_key(entry)).encode()).hexdigest()
    down_key = f"library:live-down:{registry_key}"
    cache_key = (
        "library:live:"
        + hashlib.sha256(
            f"{registry_key}\x00{entry.namespace}\x00{text.lower()}\x00{limit}".encode()
        ).hexdigest()
    )
    cached = cache.get(cache_key)
    if isinstance(cached, list):
        return cached
    failure = cache.get(down_key)
    if failure:
        raise errors.RegistryError(failure)
    adapter = open_adapter(entry, read_timeout=settings.LIBRARY_LIVE_SEARCH_TIMEOUT)
    try:
        found = adapter.search(text, limit=limit)
    except errors.RegistryError as exc:
        cache.set(down_key, exc.message, LIVE_FAILURE_SECONDS)
        raise
    finally:
        close = getattr(adapter, "close", None)
        if close:
            close()
    items = []
    for info in found:
        name = info.name if "/" in info.name else f"library/{info.name}"
        if not in_namespace(name, entry.namespace):
            continue
        items.append(
            {
                "name": name,
                "description": info.description or "",
                "is_official": bool(info.is_official),
                "star_count": info.star_count,
                "pull_count": info.pull_count,
            }
        )
    cache.set(cache_key, items, settings.LIBRARY_LIVE_SEARCH_CACHE_SECONDS)
    return items


def _merge_live(results: SearchResults, scope: Scope, query: SearchQuery) -> None:
    live = scope.live_entries
    if query.namespace:
        live = [e for e in live if in_namespace(query.namespace, e.namespace)]
    seen = {(hit.registry.pk, hit.name) for hit in results.hits}
    extra: list[Hit] = []
    for entry in live:
        try:
            items = live_search(entry, query.text, limit=query.page_size)
        except errors.RegistryError as exc:
            results.notices.append(
                _("%(registry)s could not be searched just now: %(error)s")
                % {"registry": entry.name, "error": exc.message}
            )
            continue
        for item in items:
            if query.namespace and not in_namespace(item["name"], query.namespace):
                continue
            if (entry.pk, item["name"]) in seen:
                continue
            seen.add((entry.pk, item["name"]))
            extra.append(
                Hit(
                    registry=entry,
                    live=True,
                    rank=_rank_name(item["name"], query.text),
                    **item,
                )
            )
    if not extra:
        return
    results.total += len(extra)
    merged = results.hits + extra
    if query.sort == "relevance":
        merged.sort(
            key=lambda h: (
                h.rank,
                not h.is_official,
                -(h.pull_count or 0),
                -(h.star_count or 0),
                h.name,
            )
        )
    elif query.sort == "name":
        merged.sort(key=lambda h: h.name)
    results.hits = merged


# -- popular images ------------------------------------------------------------------


# The suggestions are the same for everyone and rarely edited: kept in the cache
# so that the empty query costs no more queries than any other search. Edits
# forget them at once (and again on commit); the timeout bounds what another
# process's local cache may still show.
POPULAR_CACHE_KEY = "library:popular-images"
POPULAR_CACHE_SECONDS = 60


def popular_images() -> list[PopularImage]:
    """Return the suggestions shown with an empty query (shown to everyone)."""
    images = cache.get(POPULAR_CACHE_KEY)
    if not isinstance(images, list):
        images = list(PopularImage.objects.filter(enabled=True))
        cache.set(POPULAR_CACHE_KEY, images, POPULAR_CACHE_SECONDS)
    return images


@receiver(post_save, sender=PopularImage, dispatch_uid="library-popular-saved")
@receiver(post_delete, sender=PopularImage, dispatch_uid="library-popular-deleted")
def _forget_popular_images(sender, using=None, **kwargs) -> None:
    cache.delete(POPULAR_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(POPULAR_CACHE_KEY), using=using)


def docker_hub_entry(scope: Scope) -> Registry | None:
    """Return an available Docker Hub entry without a namespace, if any."""
    for entry in scope.entries:
        if is_live_entry(entry) and not entry.namespace:
            return entry
    return None


# -- repository page -----------------------------------------------------------------


@dataclass
class RepositoryPage:
    """A repository with one page of its tags, as the repository page shows it.

    ``default_tag`` is the tag the pull command offers when known beyond the
    tags shown (a live registry: ``latest`` when it exists, else the newest);
    ``missing`` says a live registry has no such repository.
    """

    registry: Registry
    name: str
    repository: Repository | None
    tags: list
    tag_page: int = 1
    has_next: bool = False
    live: bool = False
    notice: str = ""
    default_tag: str = ""
    tag_count: int | None = None
    missing: bool = False

    @property
    def insecure(self) -> bool:
        return self.registry.address.startswith("http://")

    @property
    def host(self) -> str:
        return self.registry.host

    def pull_command(self, tag: str = "latest") -> str:
        return "docker pull " + self.registry.pull_reference(self.name, tag)

    @property
    def default_pull(self) -> str:
        """Return the pull command for ``latest``, else for the newest tag shown."""
        if self.default_tag:
            return self.pull_command(self.default_tag)
        names = [tag.name for tag in self.tags]
        if "latest" in names or not names:
            return self.pull_command("latest")
        return self.pull_command(names[0])

    def __post_init__(self) -> None:
        for tag in self.tags:
            tag.pull_command = self.pull_command(tag.name)


def repository_detail(
    user, project: Project | None, registry_id: int, name: str, *, tag_page: int = 1
) -> RepositoryPage:
    """Return a repository with a page of its tags; 404 when out of reach."""
    scope = library_scope(user, project, registry_id=registry_id)
    if not scope.entries:
        raise Http404(_("This registry is not available to your current project."))
    entry = scope.entries[0]
    name = name.strip("/")
    if not is_repository_path(name):
        raise Http404(_("That is not a valid repository name."))
    if not scope.allows(entry, name):
        raise Http404(_("This repository is outside the registry's namespace."))
    if scope.is_live(entry):
        return _live_detail(entry, name, tag_page)
    source = scope.sources.get(entry.pk)
    repository = (
        Repository.objects.filter(source=source, name=name).first() if source else None
    )
    if repository is None:
        raise Http404(_("No such repository in the index."))
    offset = (tag_page - 1) * TAGS_PAGE_SIZE
    tags = list(
        repository.tags.order_by(F("created").desc(nulls_last=True), "name")[
            offset : offset + TAGS_PAGE_SIZE + 1
        ]
    )
    return RepositoryPage(
        registry=entry,
        name=name,
        repository=repository,
        tags=tags[:TAGS_PAGE_SIZE],
        tag_page=tag_page,
        has_next=len(tags) > TAGS_PAGE_SIZE,
    )


@dataclass
class LiveTag:
    """A tag listed live: what the registry's own listing says, nothing crawled."""

    name: str
    digest: str = ""
    size: int | None = None
    created: datetime | None = None
    updated: datetime | None = None
    platforms: tuple = ()
    labels: dict = field(default_factory=dict)

    @property
    def short_digest(self) -> str:
        algorithm, _sep, hexpart = self.digest.partition(":")
        return f"{algorithm}:{hexpart[:12]}" if hexpart else self.digest


def _live_key(kind: str, entry: Registry, *parts: object) -> str:
    """Return a cache key for live answers of ``entry``'s source (not its name)."""
    text = "\x00".join([repr(source_key(entry)), *map(str, parts)])
    return f"library:live-{kind}:" + hashlib.sha256(text.encode()).hexdigest()


class _LiveAdapter:
    """Open a registry adapter on first use only (cached pages need none)."""

    def __init__(self, entry: Registry) -> None:
        self.entry = entry
        self._adapter = None

    def __enter__(self) -> _LiveAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        close = getattr(self._adapter, "close", None)
        if close:
            close()

    def get(self):
        if self._adapter is None:
            self._adapter = open_adapter(
                self.entry, read_timeout=settings.LIBRARY_LIVE_SEARCH_TIMEOUT
            )
        return self._adapter


def _live_failure(entry: Registry, exc: errors.RegistryError) -> str:
    """Return what a person reads when a live registry fails; remember a pause.

    A rate limit is honoured for as long as the registry asked (up to an hour);
    another passing failure leaves the registry alone ``LIVE_FAILURE_SECONDS``,
    so a registry that does not answer costs one timeout, not one per click.
    """
    if isinstance(exc, errors.RateLimited):
        wait = min(max(exc.retry_after or LIVE_FAILURE_SECONDS, 1), 3600)
        cache.set(
            _live_key("tags-wait", entry),
            {"until": time.time() + wait, "rate_limited": True, "message": ""},
            int(wait) + 1,
        )
        return _rate_limited_message(entry, wait)
    if isinstance(exc, errors.Timeout):
        message = _(
            "%(registry)s did not answer within %(seconds)s seconds; "
            "try again in a moment."
        ) % {
            "registry": entry.name,
            "seconds": f"{settings.LIBRARY_LIVE_SEARCH_TIMEOUT:g}",
        }
    else:
        message = _("%(registry)s could not be asked for tags just now: %(error)s") % {
            "registry": entry.name,
            "error": exc.message,
        }
    if exc.retryable:
        cache.set(
            _live_key("tags-wait", entry),
            {
                "until": time.time() + LIVE_FAILURE_SECONDS,
                "rate_limited": False,
                "message": message,
            },
            LIVE_FAILURE_SECONDS,
        )
    return message


def _rate_limited_message(entry: Registry, seconds: float) -> str:
    return _(
        "%(registry)s is limiting requests just now; try again in %(seconds)s seconds."
    ) % {"registry": entry.name, "seconds": max(1, math.ceil(seconds))}


def _live_pause(entry: Registry) -> str:
    """Return the message of a pause still running for ``entry``, else ``""``."""
    wait = cache.get(_live_key("tags-wait", entry))
    if not isinstance(wait, dict) or wait.get("until", 0) <= time.time():
        return ""
    if wait.get("rate_limited"):
        return _rate_limited_message(entry, wait["until"] - time.time())
    return wait.get("message") or ""


def _cached_live(key: str, fetch):
    value = cache.get(key)
    if value is None:
        value = fetch()
        cache.set(key, value, settings.LIBRARY_LIVE_SEARCH_CACHE_SECONDS)
    return value


def _live_detail(entry: Registry, name: str, tag_page: int) -> RepositoryPage:
    page = RepositoryPage(
        registry=entry,
        name=name,
        repository=None,
        tags=[],
        tag_page=tag_page,
        live=True,
    )
    with _LiveAdapter(entry) as adapter:
        try:
            if entry.is_docker_hub:
                _hub_tags(page, adapter)
            else:
                _listed_tags(page, adapter)
        except _LivePaused as paused:
            page.notice = str(paused)
    for tag in page.tags:
        tag.pull_command = page.pull_command(tag.name)
    return page


class _LivePaused(Exception):
    """The registry is left alone for now (rate limited or failing)."""


def _live_call(entry: Registry, call):
    """Run ``call`` unless ``entry`` is paused; turn failures into ``_LivePaused``.

    ``NotFound`` passes through: it is an answer, not a failure.
    """
    paused = _live_pause(entry)
    if paused:
        raise _LivePaused(paused)
    try:
        return call()
    except errors.NotFound:
        raise
    except errors.RegistryError as exc:
        raise _LivePaused(_live_failure(entry, exc)) from exc


def _hub_tags(page: RepositoryPage, adapter: _LiveAdapter) -> None:
    """Fill ``page`` from one of Docker Hub's own tag pages (cached briefly).

    Only the page shown is read; the pull command offers ``latest`` when the
    hub has it (asked for directly), else the newest tag of the first page.
    """
    entry, name = page.registry, page.name

    def hub_page(number: int):
        return _cached_live(
            _live_key("hub-tags", entry, name, number, TAGS_PAGE_SIZE),
            lambda: _live_call(
                entry,
                lambda: adapter.get().tags_page(
                    name, page=number, page_size=TAGS_PAGE_SIZE
                ),
            ),
        )

    try:
        shown = hub_page(page.tag_page)
    except errors.NotFound:
        if page.tag_page == 1:
            page.missing = True
            page.notice = _("%(registry)s has no public repository named %(name)s.") % {
                "registry": entry.name,
                "name": name,
            }
        else:
            page.notice = _("%(registry)s lists no page %(page)s of tags.") % {
                "registry": entry.name,
                "page": page.tag_page,
            }
        return
    page.tags = [
        LiveTag(
            name=tag.name,
            digest=tag.digest,
            size=tag.size,
            updated=tag.last_updated,
            platforms=tuple(str(p) for p in tag.platforms),
        )
        for tag in shown.tags
    ]
    page.has_next = shown.has_next
    page.tag_count = shown.count
    if any(tag.name == "latest" for tag in shown.tags) or _hub_has_latest(
        entry, name, adapter
    ):
        page.default_tag = "latest"
        return
    first = shown
    if page.tag_page != 1:
        try:
            first = hub_page(1)
        except (errors.NotFound, _LivePaused):
            pass  # offer the newest tag of the page shown instead
    dated = [tag for tag in first.tags if tag.last_updated]
    if dated:
        page.default_tag = max(dated, key=lambda tag: tag.last_updated).name
    elif first.tags:
        page.default_tag = first.tags[0].name


def _hub_has_latest(entry: Registry, name: str, adapter: _LiveAdapter) -> bool:
    """Ask the hub for the ``latest`` tag itself (cached); False when unknown."""
    key = _live_key("hub-latest", entry, name)
    known = cache.get(key)
    if isinstance(known, bool):
        return known
    try:
        _live_call(entry, lambda: adapter.get().tag(name, "latest"))
        known = True
    except errors.NotFound:
        known = False
    except _LivePaused:
        return False  # not remembered: the next view asks again
    cache.set(key, known, settings.LIBRARY_LIVE_SEARCH_CACHE_SECONDS)
    return known


def _listed_tags(page: RepositoryPage, adapter: _LiveAdapter) -> None:
    """Fill ``page`` from a registry's whole tag list (cached), one page of it."""
    entry, name = page.registry, page.name
    try:
        names = _cached_live(
            _live_key("tags", entry, name),
            lambda: sorted(_live_call(entry, lambda: adapter.get().list_tags(name))),
        )
    except errors.NotFound:
        raise Http404(_("No such repository on this registry.")) from None
    offset = (page.tag_page - 1) * TAGS_PAGE_SIZE
    page.tags = [LiveTag(name=t) for t in names[offset : offset + TAGS_PAGE_SIZE]]
    page.has_next = len(names) > offset + TAGS_PAGE_SIZE
    page.tag_count = len(names)
    if "latest" in names:
        page.default_tag = "latest"


# -- crawl page ----------------------------------------------------------------------


@dataclass
class CrawlPage:
    """The crawl state of one entry: latest crawls and its namespace's counts."""

    registry: Registry
    source: CrawlSource | None
    crawl: Crawl | None
    recent: list[Crawl]
    repositories: int
    tags: int
    live: bool
    show_counters: bool


def crawl_overview(
    registry: Registry, *, user=None, project: Project | None = None
) -> CrawlPage:
    """Return the crawl state of an entry the caller may read (``registry_for_read``).

    Counts are those of the entry's own namespace; a crawl's own counters cover
    the whole source and are shown only to entries without a namespace. Given
    the user, the built-in registry counts only what the user may read in
    ``project`` (its namespaces are projects).
    """
    sources = sources_for_entries([registry])
    source = sources.get(registry.pk)
    recent = list(source.crawls.all()[:5]) if source else []
    limit = (
        _builtin_limits(user, project, [registry]).get(registry.pk)
        if user is not None
        else None
    )
    counts = {"repositories": 0, "tags": 0}
    if source is not None:
        rows = Repository.objects.filter(source=source).filter(
            _under(registry.namespace)
        )
        if limit is not None:
            allowed = Q(pk__in=[])
            for namespace in limit:
                allowed |= _under(namespace)
            rows = rows.filter(allowed)
        counts = rows.aggregate(repositories=Count("pk"), tags=Sum("tag_count"))
    return CrawlPage(
        registry=registry,
        source=source,
        crawl=recent[0] if recent else None,
        recent=recent,
        repositories=counts["repositories"] or 0,
        tags=counts["tags"] or 0,
        live=is_live_entry(registry) or bool(source and source.live_only),
        show_counters=not registry.namespace and limit is None,
    )


def registry_for_webhook(pk: int, authorization: str) -> Registry | None:
    """Return the entry whose webhook secret ``authorization`` carries, else None.

    Notifications come from registries, not people: the per-entry secret in
    ``Authorization: Bearer <secret>`` is the only credential.
    """
    registry = Registry.objects.filter(pk=pk).first()
    scheme, _sep, secret = authorization.partition(" ")
    if registry is None or scheme.lower() != "bearer" or not secret.strip():
        return None
    if not hmac.compare_digest(
        secret.strip().encode(), registry.webhook_secret.encode()
    ):
        return None
    return registry


def crawl_states(registries: list[Registry]) -> dict[int, Crawl | None]:
    """Return the latest crawl per entry (two queries, for list pages)."""
    sources = sources_for_entries(registries)
    return {
        r.pk: (sources[r.pk].latest_crawl if r.pk in sources else None)
        for r in registries
    }
