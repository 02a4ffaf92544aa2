"""The few calls the portal makes to its own registry with tokens it signs.

Django-free: base URL, trust (a CA file path or True) and a bearer token come in
as arguments. Deletes in distribution 2.8 take a digest, so a tag is resolved
to its digest first (with the full Accept list, or 2.8 converts to schema 1
and answers a different digest).
"""

from __future__ import annotations

from urllib.parse import quote

import requests

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    )
)


class RemoteError(Exception):
    """The registry refused or could not be reached; ``message`` says which."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RegistryAPI:
    """Resolve, list and delete manifests in one registry."""

    def __init__(self, base_url: str, *, verify: str | bool, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = verify
        self.timeout = timeout

    def _call(self, method: str, path: str, token: str, **headers) -> requests.Response:
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                headers={"Authorization": f"Bearer {token}", **headers},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise RemoteError(
                f"The built-in registry cannot be reached: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise RemoteError(self._explain(response), status=response.status_code)
        return response

    @staticmethod
    def _explain(response: requests.Response) -> str:
        try:
            errors = response.json().get("errors") or []
            detail = "; ".join(str(e.get("message") or e.get("code")) for e in errors)
        except (ValueError, AttributeError):
            detail = ""
        return f"The built-in registry answered {response.status_code}" + (
            f": {detail}" if detail else "."
        )

    @staticmethod
    def _repo(repository: str) -> str:
        return quote(repository, safe="/")

    def digest(self, repository: str, reference: str, token: str) -> str:
        """Return the digest ``reference`` (a tag) points at."""
        response = self._call(
            "HEAD",
            f"/v2/{self._repo(repository)}/manifests/{quote(reference, safe='')}",
            token,
            Accept=MANIFEST_TYPES,
        )
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest.startswith("sha256:"):
            raise RemoteError(
                "The built-in registry did not say the manifest's digest."
            )
        return digest

    def tags(self, repository: str, token: str) -> list[str]:
        """Return the repository's tags (2.8 answers them all at once)."""
        response = self._call("GET", f"/v2/{self._repo(repository)}/tags/list", token)
        try:
            return sorted(response.json().get("tags") or [])
        except (ValueError, AttributeError) as exc:
            raise RemoteError(
                "The built-in registry sent an unreadable tag list."
            ) from exc

    def delete_manifest(self, repository: str, digest: str, token: str) -> None:
        """Delete a manifest by digest (every tag pointing at it goes with it)."""
        self._call("DELETE", f"/v2/{self._repo(repository)}/manifests/{digest}", token)
