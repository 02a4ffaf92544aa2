"""Build small real images and push them over the V2 API with plain requests.

Layers are gzipped tarballs of random bytes, so every image has its own digests.
Nothing here uses the client under test: pushing is done the way ``docker push``
does it (monolithic blob uploads, then the manifest).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import requests

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"

# scope -> extra request headers (Authorization) for that scope
Authorizer = Callable[[str], dict[str, str]]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def rfc3339(when: datetime) -> str:
    """Format like Go's RFC3339Nano, which is what image configs carry."""
    when = when.astimezone(UTC)
    nanos = f"{when.microsecond:06d}123"  # nine digits, as buildkit writes them
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + nanos + "Z"


def make_layer(size: int = 512) -> bytes:
    """Return a gzipped tarball holding one file of ``size`` random bytes."""
    payload = os.urandom(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(f"data/{payload[:4].hex()}.bin")
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass(frozen=True)
class PushedImage:
    """A single-platform image as pushed."""

    repository: str
    tag: str | None
    digest: str
    media_type: str
    config_digest: str
    size: int  # layers + config, compressed
    created: datetime
    os: str
    architecture: str
    variant: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PushedIndex:
    """A multi-platform index or manifest list as pushed."""

    repository: str
    tag: str
    digest: str
    media_type: str
    children: tuple[PushedImage, ...]


class ImagePusher:
    """Push blobs, manifests, images and indexes to one registry."""

    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str = True,
        authorize: Authorizer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = verify
        self.authorize = authorize or (lambda scope: {})

    def _headers(self, repository: str, actions: str = "pull,push") -> dict:
        return self.authorize(f"repository:{repository}:{actions}")

    def blob(self, repository: str, data: bytes) -> str:
        """Upload ``data`` as a blob and return its digest."""
        digest = sha256(data)
        headers = self._headers(repository)
        start = self.session.post(
            f"{self.base_url}/v2/{repository}/blobs/uploads/",
            headers=headers,
            timeout=10,
        )
        start.raise_for_status()
        location = urljoin(start.url, start.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = self.session.put(
            f"{location}{separator}digest={digest}",
            data=data,
            headers={**headers, "Content-Type": "application/octet-stream"},
            timeout=10,
        )
        done.raise_for_status()
        return digest

    def manifest(
        self, repository: str, reference: str, body: bytes, media_type: str
    ) -> str:
        """PUT a manifest under a tag or digest and return its digest."""
        response = self.session.put(
            f"{self.base_url}/v2/{repository}/manifests/{reference}",
            data=body,
            headers={**self._headers(repository), "Content-Type": media_type},
            timeout=10,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"manifest PUT failed: {response.status_code} {response.text}"
            )
        digest = response.headers.get("Docker-Content-Digest") or sha256(body)
        assert digest == sha256(body), "registry digest differs from the body's"
        return digest

    def image(
        self,
        repository: str,
        tag: str | None = "latest",
        *,
        os_name: str = "linux",
        architecture: str = "amd64",
        variant: str = "",
        labels: dict[str, str] | None = None,
        created: datetime | None = None,
        layers: int = 2,
        oci: bool = False,
    ) -> PushedImage:
        """Push a runnable-looking image (by digest only when ``tag`` is None)."""
        created = created or datetime.now(UTC).replace(microsecond=123456)
        labels = dict(labels or {})
        layer_blobs = [make_layer(300 + 97 * i) for i in range(layers)]
        diff_ids = [sha256(gzip.decompress(blob)) for blob in layer_blobs]
        config: dict = {
            "created": rfc3339(created),
            "architecture": architecture,
            "os": os_name,
            "config": {"Labels": labels, "Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": rfc3339(created), "created_by": "portolan test"}],
        }
        if variant:
            config["variant"] = variant
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = self.blob(repository, config_bytes)
        layer_type = OCI_LAYER if oci else DOCKER_LAYER
        descriptors = [
            {
                "mediaType": layer_type,
                "size": len(blob),
                "digest": self.blob(repository, blob),
            }
            for blob in layer_blobs
        ]
        media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "size": len(config_bytes),
                "digest": config_digest,
            },
            "layers": descriptors,
        }
        body = json.dumps(manifest, indent=3).encode()
        digest = self.manifest(repository, tag or sha256(body), body, media_type)
        return PushedImage(
            repository=repository,
            tag=tag,
            digest=digest,
            media_type=media_type,
            config_digest=config_digest,
            size=len(config_bytes) + sum(len(blob) for blob in layer_blobs),
            created=created,
            os=os_name,
            architecture=architecture,
            variant=variant,
            labels=labels,
        )

    def attestation(self, repository: str, subject: str) -> tuple[str, int]:
        """Push a buildkit-style attestation manifest; return (digest, size)."""
        statement = json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "subject": [{"digest": {"sha256": subject[7:]}}],
            }
        )
        layer = statement.encode()
        config = b'{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers"}}'
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "size": len(config),
                "digest": self.blob(repository, config),
            },
            "layers": [
                {
                    "mediaType": IN_TOTO,
                    "size": len(layer),
                    "digest": self.blob(repository, layer),
                }
            ],
        }
        body = json.dumps(manifest).encode()
        return self.manifest(repository, sha256(body), body, OCI_MANIFEST), len(body)

    def index(
        self,
        repository: str,
        tag: str,
        platforms: Sequence[tuple[str, str, str]] = (
            ("linux", "amd64", ""),
            ("linux", "arm64", "v8"),
            ("linux", "arm", "v7"),
        ),
        *,
        oci: bool = True,
        attestations: bool = False,
        labels: dict[str, str] | None = None,
        created: datetime | None = None,
    ) -> PushedIndex:
        """Push one child image per platform, then the index (or Docker list)."""
        children = []
        descriptors = []
        for os_name, architecture, variant in platforms:
            child = self.image(
                repository,
                None,
                os_name=os_name,
                architecture=architecture,
                variant=variant,
                labels=labels,
                created=created,
                oci=oci,
            )
            children.append(child)
            platform = {"architecture": architecture, "os": os_name}
            if variant:
                platform["variant"] = variant
            body_size = self._manifest_size(repository, child.digest, child.media_type)
            descriptors.append(
                {
                    "mediaType": child.media_type,
                    "size": body_size,
                    "digest": child.digest,
                    "platform": platform,
                }
            )
        if attestations:
            for child in list(children):
                digest, size = self.attestation(repository, child.digest)
                descriptors.append(
                    {
                        "mediaType": OCI_MANIFEST,
                        "size": size,
                        "digest": digest,
                        "platform": {"architecture": "unknown", "os": "unknown"},
                        "annotations": {
                            "vnd.docker.reference.digest": child.digest,
                            "vnd.docker.reference.type": "attestation-manifest",
                        },
                    }
                )
        media_type = OCI_INDEX if oci else DOCKER_LIST
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": media_type, "manifests": descriptors},
            indent=3,
        ).encode()
        digest = self.manifest(repository, tag, body, media_type)
        return PushedIndex(repository, tag, digest, media_type, tuple(children))

    def _manifest_size(self, repository: str, digest: str, media_type: str) -> int:
        response = self.session.get(
            f"{self.base_url}/v2/{repository}/manifests/{digest}",
            headers={**self._headers(repository, "pull"), "Accept": media_type},
            timeout=10,
        )
        response.raise_for_status()
        return len(response.content)

    def tag(
        self, repository: str, source_digest: str, media_type: str, tag: str
    ) -> str:
        """Point ``tag`` at an existing manifest."""
        response = self.session.get(
            f"{self.base_url}/v2/{repository}/manifests/{source_digest}",
            headers={**self._headers(repository, "pull"), "Accept": media_type},
            timeout=10,
        )
        response.raise_for_status()
        return self.manifest(repository, tag, response.content, media_type)

    def delete(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (removes every tag that points at it)."""
        response = self.session.delete(
            f"{self.base_url}/v2/{repository}/manifests/{digest}",
            headers=self._headers(repository, "delete"),
            timeout=10,
        )
        response.raise_for_status()
