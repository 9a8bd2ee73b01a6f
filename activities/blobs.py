"""Large node outputs live in a content-addressed blob store and travel as references.

A value whose JSON encoding exceeds the threshold is stored under
`<tenant>/<sha256>` and replaced by `{"$blob": key, "size": n, "sha256": digest}`
(see `auterity.graph.contracts.blob_ref`). Activities resolve refs found in their
scope. The workflow offloads large outputs it computed itself with the `blob.put`
local activity (its input never reaches history) and hands expressions over refs to
`node.pure` (activities/pure.py), so a stored value does not come back into history.

Where blobs live is `AUTERITY_BLOB_URL`: empty for files under `AUTERITY_HOME/blobs`
(one machine, development), `s3://bucket/prefix?endpoint=...&region=...` for an
S3-compatible store every worker shares (`blob_store`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from temporalio import activity
from temporalio.exceptions import ApplicationError

from auterity.errors import ConfigError
from auterity.graph.contracts import (
    BLOB_GET,
    BLOB_KEY,
    BLOB_PUT,
    BLOB_SLICE,
    BlobGetInput,
    BlobPutInput,
    BlobSliceInput,
    blob_ref,
    is_blob_ref,
)
from auterity.graph.errors import ErrorType

DEFAULT_THRESHOLD_BYTES = 64 * 1024

_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(Exception):
    """No blob is stored under the key."""


class BlobStore(Protocol):
    """Bytes by key; keys are `<tenant>/<sha256>`, so writes are idempotent."""

    async def put(self, key: str, payload: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class FileBlobStore:
    """Blobs as files under `root/<tenant>/<sha256[:2]>/<sha256>` (`AUTERITY_HOME/blobs`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, payload: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), payload)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def _path(self, key: str) -> Path:
        tenant, digest = split_key(key)
        return self.root / tenant / digest[:2] / digest

    @staticmethod
    def _write(path: Path, payload: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class S3BlobStore:
    """Blobs as objects `<prefix>/<tenant>/<sha256>` in an S3-compatible bucket, written with
    server-side encryption requested (`ServerSideEncryption: AES256`).

    Credentials come from boto3's usual chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
    a web identity, an instance role), never from the URL."""

    ENCRYPTION = "AES256"

    def __init__(
        self, bucket: str, prefix: str = "", *, endpoint: str | None = None, region: str | None
    ) -> None:
        import boto3  # the filesystem default does without it
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def object_key(self, key: str) -> str:
        tenant, digest = split_key(key)
        return f"{self.prefix}/{tenant}/{digest}" if self.prefix else f"{tenant}/{digest}"

    async def put(self, key: str, payload: bytes) -> None:
        await asyncio.to_thread(self._put, self.object_key(key), payload)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, self.object_key(key), key)

    def _put(self, name: str, payload: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=name,
            Body=payload,
            ContentType="application/json",
            ServerSideEncryption=self.ENCRYPTION,
        )

    def _get(self, name: str, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name)
        except self.client.exceptions.NoSuchKey:
            raise BlobNotFound(key) from None
        body = answer["Body"]
        try:
            payload: bytes = body.read()
        finally:
            body.close()
        return payload


def blob_store(url: str, directory: Path) -> BlobStore:
    """The store `AUTERITY_BLOB_URL` names: files under `directory` when empty, else
    `s3://bucket[/prefix][?endpoint=http://host:port][&region=name]`."""
    if not url:
        return FileBlobStore(directory)
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(
            f"AUTERITY_BLOB_URL: {url!r} is not s3://bucket/prefix (empty: the local directory)"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"endpoint", "region"})
    if unknown:
        raise ConfigError(
            f"AUTERITY_BLOB_URL: unknown parameter {', '.join(unknown)} (endpoint, region)"
        )
    endpoint = query.get("endpoint", [None])[-1] or None
    if endpoint and urlsplit(endpoint).scheme not in {"http", "https"}:
        raise ConfigError(f"AUTERITY_BLOB_URL: endpoint {endpoint!r} is not an http(s) URL")
    region = query.get("region", [None])[-1] or None
    return S3BlobStore(parts.netloc, parts.path, endpoint=endpoint, region=region)


def split_key(key: str) -> tuple[str, str]:
    """`<tenant>/<sha256>` -> (tenant, sha256); ValueError for anything else."""
    tenant, _, digest = key.partition("/")
    if not _SEGMENT.match(tenant) or tenant in {".", ".."} or not _DIGEST.match(digest):
        raise ValueError(f"not a blob key: {key!r}")
    return tenant, digest


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def offload(
    store: BlobStore, tenant: str, value: Any, threshold: int = DEFAULT_THRESHOLD_BYTES
) -> Any:
    """`value` itself when its JSON is at most `threshold` bytes, else a ref to the stored JSON."""
    payload = encode(value)
    if len(payload) <= threshold:
        return value
    digest = hashlib.sha256(payload).hexdigest()
    key = f"{tenant}/{digest}"
    await store.put(key, payload)
    return blob_ref(key, len(payload), digest)


async def load(store: BlobStore, tenant: str, ref: dict[str, Any]) -> Any:
    """The JSON value behind `ref`, which must belong to `tenant` and match its digest."""
    if not is_blob_ref(ref):
        raise ApplicationError(
            "not a blob reference", type=ErrorType.BLOB_REF_INVALID, non_retryable=True
        )
    key = ref[BLOB_KEY]
    try:
        owner, digest = split_key(key)
    except ValueError as exc:
        raise ApplicationError(
            str(exc), type=ErrorType.BLOB_REF_INVALID, non_retryable=True
        ) from None
    if owner != tenant or digest != ref["sha256"]:
        raise ApplicationError(
            f"blob {key} is not available to this run",
            type=ErrorType.BLOB_NOT_FOUND,
            non_retryable=True,
        )
    try:
        payload = await store.get(key)
    except BlobNotFound:
        raise ApplicationError(
            f"blob {key} is not in the store", type=ErrorType.BLOB_NOT_FOUND, non_retryable=True
        ) from None
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ApplicationError(
            f"blob {key} is corrupt (digest mismatch)",
            type=ErrorType.BLOB_CORRUPT,
            non_retryable=True,
        )
    return json.loads(payload)


async def resolve_refs(store: BlobStore, tenant: str, value: Any) -> Any:
    """`value` with every blob ref inside it replaced by the value it points at."""
    if is_blob_ref(value):
        return await load(store, tenant, value)
    if isinstance(value, dict):
        return {key: await resolve_refs(store, tenant, item) for key, item in value.items()}
    if isinstance(value, list):
        return [await resolve_refs(store, tenant, item) for item in value]
    return value


class BlobActivities:
    """`blob.get` reads a stored value for the workflow (runs started before `node.pure`
    existed); `blob.put` stores a large output the workflow computed (a local activity, so
    the value is never written to history: only the ref is); `blob.slice` reads one foreach
    batch's items from a stored list, checked like `blob.get` (the tenant's own, intact).

    A foreach over a stored list runs one `blob.slice` per batch: the list is read,
    checked and parsed once per worker for all of them, and kept while it is among the
    `kept_lists` most recently sliced and within `kept_bytes` of stored JSON. A key names
    its content (its digest), so what is kept cannot go stale."""

    def __init__(
        self, store: BlobStore, *, kept_lists: int = 8, kept_bytes: int = 8 * 1024 * 1024
    ) -> None:
        self.store = store
        self.kept_lists, self.kept_bytes = kept_lists, kept_bytes
        self._lists: OrderedDict[tuple[str, str], tuple[asyncio.Future[Any], int]] = OrderedDict()

    @activity.defn(name=BLOB_GET)
    async def get(self, request: BlobGetInput) -> Any:
        return await load(self.store, request.tenant, request.ref)

    @activity.defn(name=BLOB_PUT)
    async def put(self, request: BlobPutInput) -> dict[str, Any]:
        payload = encode(request.value)
        digest = hashlib.sha256(payload).hexdigest()
        key = f"{request.tenant}/{digest}"
        try:
            split_key(key)
        except ValueError as exc:
            raise ApplicationError(
                str(exc), type=ErrorType.BLOB_REF_INVALID, non_retryable=True
            ) from None
        await self.store.put(key, payload)
        return blob_ref(key, len(payload), digest)

    @activity.defn(name=BLOB_SLICE)
    async def slice(self, request: BlobSliceInput) -> list[Any]:
        stored = await self._sliced(request.tenant, request.ref)
        key = request.ref[BLOB_KEY]
        if not isinstance(stored, list):
            raise ApplicationError(
                f"blob {key} holds {type(stored).__name__}, not a list",
                type=ErrorType.BLOB_SLICE_INVALID,
                non_retryable=True,
            )
        end = request.offset + request.size
        if request.offset < 0 or request.size < 1 or end > len(stored):
            raise ApplicationError(
                f"blob {key} holds {len(stored)} items: no items "
                f"{request.offset} to {end - 1} (offset {request.offset}, size {request.size})",
                type=ErrorType.BLOB_SLICE_INVALID,
                non_retryable=True,
            )
        return stored[request.offset : end]

    async def _sliced(self, tenant: str, ref: dict[str, Any]) -> Any:
        """The value behind `ref` as `load` gives it, read once for every batch that slices
        it (concurrent batches share one read); a failed read is not kept."""
        if not is_blob_ref(ref):
            return await load(self.store, tenant, ref)  # refused there, with its reason
        key = (tenant, str(ref[BLOB_KEY]))
        kept = self._lists.get(key)
        if kept is None:
            size = max(ref["size"], 0)
            kept = self._lists[key] = (asyncio.ensure_future(load(self.store, tenant, ref)), size)
            self._forget_beyond_bounds()
        else:
            self._lists.move_to_end(key)
        reading = kept[0]
        try:
            return await asyncio.shield(reading)  # one caller cancelled: the read goes on
        except BaseException:
            if reading.done() and self._lists.get(key, (None,))[0] is reading:
                del self._lists[key]
            raise

    def _forget_beyond_bounds(self) -> None:
        """Drop the least recently sliced beyond the bounds; the newest always stays."""
        while len(self._lists) > 1 and (
            len(self._lists) > self.kept_lists
            or sum(size for _reading, size in self._lists.values()) > self.kept_bytes
        ):
            del self._lists[next(iter(self._lists))]
