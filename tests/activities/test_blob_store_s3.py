"""The S3 blob store (`AUTERITY_BLOB_URL=s3://...`) against an S3-compatible server."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.blobs import FileBlobStore, S3BlobStore, blob_store, encode, load, offload
from auterity.errors import ConfigError
from auterity.graph.contracts import BLOB_KEY
from tests.servers import S3Server


@pytest.fixture
def prefix() -> str:
    return f"runs-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(s3_server: S3Server, prefix: str, tmp_path: Path) -> S3BlobStore:
    built = blob_store(s3_server.url(prefix), tmp_path)
    assert isinstance(built, S3BlobStore)
    return built


async def test_large_values_are_objects_under_the_tenant_prefix_encrypted(
    store: S3BlobStore, s3_server: S3Server, prefix: str, tmp_path: Path
) -> None:
    value = {"rows": [f"row-{n}" for n in range(400)]}
    ref = await offload(store, "acme", value, threshold=1024)
    again = await offload(store, "acme", {"rows": list(value["rows"])}, threshold=1024)

    digest = hashlib.sha256(encode(value)).hexdigest()
    assert (
        ref == again == {BLOB_KEY: f"acme/{digest}", "size": len(encode(value)), "sha256": digest}
    )
    assert s3_server.objects(prefix) == [f"{prefix}/acme/{digest}"]
    head = s3_server.client().head_object(Bucket=s3_server.bucket, Key=f"{prefix}/acme/{digest}")
    assert head["ServerSideEncryption"] == "AES256"
    assert await load(store, "acme", ref) == value
    assert not any(tmp_path.iterdir())  # nothing on the local disk


async def test_another_store_on_the_same_bucket_reads_it(
    store: S3BlobStore, s3_server: S3Server, prefix: str, tmp_path: Path
) -> None:
    ref = await offload(store, "acme", "z" * 3000, threshold=1024)
    other = blob_store(s3_server.url(prefix), tmp_path / "elsewhere")
    assert await load(other, "acme", ref) == "z" * 3000


async def test_a_tenant_cannot_read_another_tenants_blob(store: S3BlobStore) -> None:
    ref = await offload(store, "acme", "secret " * 500, threshold=1024)
    with pytest.raises(ApplicationError) as caught:
        await load(store, "globex", ref)
    assert caught.value.type == "BlobNotFound" and caught.value.non_retryable
    forged = {**ref, BLOB_KEY: ref[BLOB_KEY].replace("acme/", "globex/")}
    with pytest.raises(ApplicationError) as caught:
        await load(store, "globex", forged)
    assert caught.value.type == "BlobNotFound"


async def test_missing_and_tampered_objects(
    store: S3BlobStore, s3_server: S3Server, prefix: str
) -> None:
    digest = "0" * 64
    with pytest.raises(ApplicationError) as caught:
        await load(store, "acme", {BLOB_KEY: f"acme/{digest}", "size": 2, "sha256": digest})
    assert caught.value.type == "BlobNotFound" and caught.value.non_retryable

    ref = await offload(store, "acme", "y" * 4000, threshold=1024)
    s3_server.client().put_object(
        Bucket=s3_server.bucket, Key=f"{prefix}/{ref[BLOB_KEY]}", Body=b'"tampered"'
    )
    with pytest.raises(ApplicationError) as caught:
        await load(store, "acme", ref)
    assert caught.value.type == "BlobCorrupt"


def test_an_empty_url_is_the_local_directory(tmp_path: Path) -> None:
    built = blob_store("", tmp_path)
    assert isinstance(built, FileBlobStore) and built.root == tmp_path


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://bucket/prefix", "is not s3://bucket/prefix"),
        ("s3:///prefix", "is not s3://bucket/prefix"),
        ("s3://bucket/p?endpoint=http://h:1&sse=off", "unknown parameter sse"),
        ("s3://bucket/p?endpoint=ftp://h", "is not an http(s) URL"),
    ],
)
def test_bad_urls_are_refused_with_what_is_wrong(url: str, named: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AUTERITY_BLOB_URL") as caught:
        blob_store(url, tmp_path)
    assert named in str(caught.value)
