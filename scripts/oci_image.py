#!/usr/bin/env python3
"""Writes a Wasm module as an OCI image layout, in the "compat" variant of the Wasm image
specification (solo-io/wasm, spec/spec-compat.md): the form that Istio's and Envoy
Gateway's image fetchers (pkg/wasm/imagefetcher.go, internal/wasm/imagefetcher.go) pull.

  - one layer, application/vnd.oci.image.layer.v1.tar+gzip, a tar of one file: plugin.wasm
  - an OCI image manifest (application/vnd.oci.image.manifest.v1+json) with the annotation
    module.wasm.image/variant=compat, and an application/vnd.oci.image.config.v1+json config
  - index.json names the manifest by tag (org.opencontainers.image.ref.name), so that
    `skopeo copy oci:DIR:TAG docker://REGISTRY/NAME:TAG` pushes it as is

Byte for byte reproducible: the tar header is fixed (name, mode 0644, uid/gid 0, no user
names, mtime = the epoch given), the gzip header carries no file name and no time, and the
JSON is written with sorted keys. The manifest digest is a function of the module, the
version and the epoch only.

usage: oci_image.py MODULE.wasm OUT_DIR VERSION EPOCH
Writes OUT_DIR (which must not exist) and prints the manifest digest (sha256:...).
"""
import datetime
import hashlib
import io
import json
import struct
import sys
import tarfile
import zlib
from pathlib import Path

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def reproducible_tar(name: str, data: bytes, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def reproducible_gzip(data: bytes) -> bytes:
    """RFC 1952 by hand: no file name, MTIME 0, XFL 2 (best compression), OS 255 (unknown),
    so the bytes do not depend on the Python version's gzip module defaults."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_image(module: bytes, out_dir: Path, version: str, epoch: int) -> str:
    blobs = out_dir / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes, media_type: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    tar = reproducible_tar("plugin.wasm", module, epoch)
    layer = blob(reproducible_gzip(tar), LAYER)
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = blob(canonical_json({
        "architecture": "wasm",
        "os": "wasip1",
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
    }), CONFIG)
    manifest = blob(canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config,
        "layers": [layer],
        "annotations": {
            "module.wasm.image/variant": "compat",
            "org.opencontainers.image.title": "oidc-gate",
            "org.opencontainers.image.version": version,
        },
    }), MANIFEST)
    (out_dir / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    (out_dir / "index.json").write_bytes(canonical_json({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [{**manifest, "annotations": {"org.opencontainers.image.ref.name": version}}],
    }))
    return manifest["digest"]


def main(argv) -> int:
    if len(argv) != 5:
        print("usage: oci_image.py MODULE.wasm OUT_DIR VERSION EPOCH", file=sys.stderr)
        return 2
    module_path, out_dir, version, epoch = Path(argv[1]), Path(argv[2]), argv[3], int(argv[4])
    module = module_path.read_bytes()
    if module[:4] != b"\x00asm":
        print(f"{module_path}: not a Wasm module", file=sys.stderr)
        return 1
    out_dir.mkdir(parents=True, exist_ok=False)
    print(write_image(module, out_dir, version, epoch))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
