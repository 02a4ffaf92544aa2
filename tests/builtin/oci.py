"""Build a tiny OCI image layout directory for ``skopeo copy oci:<dir>:<tag>``."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from tests.support.images import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, make_layer


def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(layout: Path, tag: str = "1", *, label: str = "") -> str:
    """Write a one-layer image tagged ``tag`` into ``layout``; return its digest."""
    layout.mkdir(parents=True, exist_ok=True)
    layer = make_layer(400)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"test": label or tag}},
        "rootfs": {
            "type": "layers",
            "diff_ids": [
                "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
            ],
        },
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            **_blob(layout, json.dumps(config).encode()),
        },
        "layers": [{"mediaType": OCI_LAYER, **_blob(layout, layer)}],
    }
    descriptor = {
        "mediaType": OCI_MANIFEST,
        **_blob(layout, json.dumps(manifest).encode()),
    }
    descriptor["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index_path = layout / "index.json"
    index = (
        json.loads(index_path.read_text())
        if index_path.exists()
        else {"schemaVersion": 2, "manifests": []}
    )
    index["manifests"].append(descriptor)
    index_path.write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return descriptor["digest"]
