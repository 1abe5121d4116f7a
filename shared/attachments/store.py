"""Where an attachment's bytes live: a folder, or an S3-compatible bucket.

Both keep an attachment under its id (the SHA-256 of its bytes), so the same bytes are
stored once whoever uploads them and however often. Metadata (names, types, who uploaded,
which case) lives in PostgreSQL, never here; the bytes never live in a database row.

- :class:`FolderStore` (the default): ``<root>/ab/cd/<id>``. A write goes to a temporary
  file in ``<root>/.incoming`` (the same file system), is flushed to disk, then renamed
  into place: a reader sees the whole file or none, and a crash leaves only a temporary
  file behind (removed by the next write of the same bytes or by hand, never served).
- :class:`BucketStore` (``attachments_s3_endpoint`` set): one object per id under
  ``attachments_s3_prefix`` (a put is atomic in S3: an object appears whole), with the
  MinIO client, its blocking calls on a worker thread.

Only a valid id (64 lower-case hex digits) ever becomes a path or an object name: every
method checks it again, whatever its caller checked.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.exceptions import HTTPError

from shared.domain.attachments import is_attachment_id
from shared.settings import Settings

_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound"}
T = TypeVar("T")


class StoreUnavailable(Exception):
    """The store could not be written or read (disk full or unwritable, the S3 server
    unreachable or refusing): the route answers 503 and the client tries again."""


async def _guarded(work: Callable[[], T]) -> T:
    """Run a blocking store call on a worker thread; its failures as StoreUnavailable."""
    try:
        return await asyncio.to_thread(work)
    except ValueError:
        raise
    except (OSError, MinioException, HTTPError) as exc:
        raise StoreUnavailable(repr(exc)[:300]) from exc


class Storage(Protocol):
    """What the services need of a store of attachment bytes."""

    async def put(self, attachment_id: str, data: bytes, content_type: str) -> bool:
        """Store the bytes under their id; False when they were there already.
        Raises StoreUnavailable when the store cannot be written."""
        ...

    async def get(self, attachment_id: str) -> bytes | None:
        """The bytes, or None when nothing is stored under the id.
        Raises StoreUnavailable when the store cannot be read."""
        ...


def _checked(attachment_id: str) -> str:
    if not is_attachment_id(attachment_id):
        raise ValueError(f"not an attachment id: {attachment_id[:80]!r}")
    return attachment_id


class FolderStore:
    """Attachments in a local folder (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, attachment_id: str) -> Path:
        aid = _checked(attachment_id)
        return self.root / aid[:2] / aid[2:4] / aid

    async def put(self, attachment_id: str, data: bytes, content_type: str) -> bool:
        return await _guarded(lambda: self._put(attachment_id, data))

    async def get(self, attachment_id: str) -> bytes | None:
        return await _guarded(lambda: self._get(attachment_id))

    def _put(self, attachment_id: str, data: bytes) -> bool:
        final = self.path(attachment_id)
        if final.exists():
            return False
        incoming = self.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=incoming, prefix=attachment_id[:16])
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, final)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _sync_dir(final.parent)
        return True

    def _get(self, attachment_id: str) -> bytes | None:
        try:
            return self.path(attachment_id).read_bytes()
        except FileNotFoundError:
            return None


def _sync_dir(folder: Path) -> None:
    """Make the rename itself durable (the directory entry), where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class BucketStore:
    """Attachments in an S3-compatible bucket (module docstring). The bucket must exist:
    it is the operator's (its policy, versioning, lifecycle), not made here."""

    def __init__(self, client: Minio, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def name(self, attachment_id: str) -> str:
        return f"{self.prefix}{_checked(attachment_id)}"

    async def put(self, attachment_id: str, data: bytes, content_type: str) -> bool:
        return await _guarded(lambda: self._put(attachment_id, data, content_type))

    async def get(self, attachment_id: str) -> bytes | None:
        return await _guarded(lambda: self._get(attachment_id))

    def _put(self, attachment_id: str, data: bytes, content_type: str) -> bool:
        name = self.name(attachment_id)
        if self._exists(name):
            return False
        self.client.put_object(self.bucket, name, io.BytesIO(data), len(data), content_type)
        return True

    def _exists(self, name: str) -> bool:
        try:
            self.client.stat_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in _MISSING:
                return False
            raise
        return True

    def _get(self, attachment_id: str) -> bytes | None:
        try:
            response = self.client.get_object(self.bucket, self.name(attachment_id))
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()


def make_store(settings: Settings) -> Storage:
    """The store the settings name: a bucket when an S3 endpoint is set, else the folder."""
    if not settings.attachments_s3_endpoint:
        return FolderStore(settings.attachments_folder)
    client = Minio(
        settings.attachments_s3_endpoint,
        access_key=settings.attachments_s3_access_key.get_secret_value() or None,
        secret_key=settings.attachments_s3_secret_key.get_secret_value() or None,
        secure=settings.attachments_s3_secure,
        region=settings.attachments_s3_region or None,
    )
    return BucketStore(client, settings.attachments_s3_bucket, settings.attachments_s3_prefix)
