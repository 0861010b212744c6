"""Blob store for figure images: the filesystem (default) or an S3-compatible bucket (boto3, optional).

Keys are content-addressed: ``figures/<h[:2]>/<h>.png`` (display rendition), ``thumbs/<h[:2]>/<h>.png``,
``originals/<h[:2]>/<h>.<ext>`` (the file as received), ``features/<h[:2]>/<h>.orb`` (the drawing's local
features for geometric verification, backend/search/ranking/verification.py) and ``uploads/<h[:2]>/<h>.<token>`` (API
uploads waiting
for their job, one copy per request), where ``h`` is the SHA-256 of the original bytes. Writing the same key twice is
harmless.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[a-z]+/[0-9a-f]{2}/[0-9a-f]{64}(\.[a-z0-9]{1,5}|\.[0-9a-f]{32})?$")   # ext or upload token


def figure_key(h: str) -> str:
    return f"figures/{h[:2]}/{h}.png"


def thumb_key(h: str) -> str:
    return f"thumbs/{h[:2]}/{h}.png"


def original_key(h: str, ext: str) -> str:
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())[:5] or "bin"
    return f"originals/{h[:2]}/{h}.{ext}"


def features_key(h: str) -> str:
    return f"features/{h[:2]}/{h}.orb"


def hash_of_key(key: str) -> str | None:
    """The content hash a blob key is named by (None for a key that is not a blob key)."""
    return key.split("/")[2].split(".")[0] if _KEY.match(key or "") else None


def upload_key(h: str, token: str = "") -> str:
    """Where an API upload waits for its job; ``token`` (one per request) gives every job its own
    staged copy, so two jobs carrying the same drawing never delete each other's input."""
    return f"uploads/{h[:2]}/{h}" + (f".{token}" if token else "")


class BlobNotFound(KeyError):
    pass


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self) -> Iterator[tuple[str, dt.datetime]]: ...


def check_key(key: str) -> str:
    if not _KEY.match(key or ""):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class FileBlobStore:
    """Blobs as files under ``root``; writes are atomic (temporary file + rename)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        if path.exists() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self) -> Iterator[tuple[str, dt.datetime]]:
        """Every blob (key, last modified, UTC); temporary files and foreign files are not blobs."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if _KEY.match(key) and path.is_file():
                yield key, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)

    def path(self, key: str) -> Path:
        return self._path(key)


class S3BlobStore:
    """An S3-compatible bucket (MinIO, Ceph, AWS) through boto3 (the ``s3`` extra)."""

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str | None = None):
        try:
            import boto3
            from botocore.exceptions import ClientError
        except ImportError:
            raise RuntimeError("PRISM_BLOB_STORE=s3 needs the boto3 package "
                               "(pip install -e '.[s3]')") from None
        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
        self._client_error = ClientError

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"].read()
        except self._client_error as exc:
            if self._missing(exc):
                raise BlobNotFound(key) from None
            raise

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
            return True
        except self._client_error as exc:   # anything but "not there" (auth, network) is an error
            if self._missing(exc):
                return False
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def list(self) -> Iterator[tuple[str, dt.datetime]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                if _KEY.match(obj["Key"]):
                    yield obj["Key"], obj["LastModified"].astimezone(dt.UTC)


def get_blob_store(settings) -> BlobStore:
    """The store for ``settings``, one per configuration and process (an S3 client is costly to make
    and the figure-image endpoints ask for the store on every request)."""
    if settings.blob_store == "s3":
        return _s3_store(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    return FileBlobStore(settings.resolved_blob_dir)


@functools.lru_cache(maxsize=8)
def _s3_store(bucket: str, endpoint_url: str, region: str) -> S3BlobStore:
    return S3BlobStore(bucket, endpoint_url, region)
