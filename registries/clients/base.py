"""The one interface the crawler and the portal use for every kind of registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from .types import RepositoryInfo, TagDetails


@runtime_checkable
class RegistryAdapter(Protocol):
    """Read-only view of a registry; implementations raise ``errors.RegistryError``.

    ``can_list`` is false where the registry has no catalog (Docker Hub): such
    registries are searched live through ``search`` instead of being crawled.
    """

    can_list: bool
    can_search: bool

    def list_repositories(self, prefix: str = "") -> Iterator[RepositoryInfo]:
        """Yield repositories whose name starts with ``prefix``, page by page."""
        ...

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag of ``repository``."""
        ...

    def head_digest(self, repository: str, reference: str) -> str:
        """Return the manifest digest of ``reference`` as cheaply as possible."""
        ...

    def describe(self, repository: str, tag: str) -> TagDetails:
        """Resolve ``tag`` to its digest, size, platforms, creation time, labels."""
        ...

    def search(self, query: str, *, limit: int = 25) -> list[RepositoryInfo]:
        """Ask the registry itself to search; raise ``NotSupported`` if it can't."""
        ...
