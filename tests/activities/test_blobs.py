"""The filesystem blob store and the offload/resolve helpers."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.blobs import BlobActivities, FileBlobStore, encode, load, offload, resolve_refs
from activities.pure import PureActivities
from auterity.graph.contracts import BLOB_KEY, BlobSliceInput, PureNodeInput, is_blob_ref
from auterity.graph.pure import ITEMS


async def test_small_values_stay_inline(blobs: FileBlobStore) -> None:
    value = {"ok": True, "items": [1, 2, 3]}
    assert await offload(blobs, "acme", value, threshold=1024) is value
    assert not blobs.root.exists()


async def test_large_values_are_stored_once_by_content(blobs: FileBlobStore) -> None:
    value = {"text": "x" * 5000}
    first = await offload(blobs, "acme", value, threshold=1024)
    second = await offload(blobs, "acme", json.loads(json.dumps(value)), threshold=1024)

    digest = hashlib.sha256(encode(value)).hexdigest()
    assert (
        first
        == second
        == {BLOB_KEY: f"acme/{digest}", "size": len(encode(value)), "sha256": digest}
    )
    assert is_blob_ref(first)
    assert [p.name for p in blobs.root.rglob("*") if p.is_file()] == [digest]
    assert await load(blobs, "acme", first) == value


async def test_refs_inside_values_are_resolved(blobs: FileBlobStore) -> None:
    big = ["row"] * 1000
    ref = await offload(blobs, "acme", big, threshold=1024)
    nested = {"nodes": {"a": {"output": ref, "status": "completed"}}, "plain": [ref, 1]}
    assert await resolve_refs(blobs, "acme", nested) == {
        "nodes": {"a": {"output": big, "status": "completed"}},
        "plain": [big, 1],
    }


@pytest.mark.parametrize(
    "key",
    [
        "../etc/" + "a" * 64,
        "acme/../../" + "a" * 58,
        "acme/" + "A" * 64,
        "acme/short",
        "/" + "a" * 64,
    ],
)
async def test_malformed_keys_are_refused(blobs: FileBlobStore, key: str) -> None:
    ref = {BLOB_KEY: key, "size": 1, "sha256": key.rpartition("/")[2]}
    with pytest.raises(ApplicationError) as caught:
        await load(blobs, "acme", ref)
    assert caught.value.non_retryable
    assert caught.value.type in {"BlobRefInvalid", "BlobNotFound"}


async def test_tampered_blobs_are_detected(blobs: FileBlobStore) -> None:
    ref = await offload(blobs, "acme", "y" * 4000, threshold=1024)
    path = next(p for p in blobs.root.rglob("*") if p.is_file())
    path.write_bytes(b'"tampered"')
    with pytest.raises(ApplicationError) as caught:
        await load(blobs, "acme", ref)
    assert caught.value.type == "BlobCorrupt"


async def test_missing_blobs_are_not_retried(blobs: FileBlobStore) -> None:
    digest = "0" * 64
    with pytest.raises(ApplicationError) as caught:
        await load(blobs, "acme", {BLOB_KEY: f"acme/{digest}", "size": 2, "sha256": digest})
    assert caught.value.type == "BlobNotFound" and caught.value.non_retryable


async def test_a_slice_is_one_part_of_a_stored_list(
    blobs: FileBlobStore, activity_env: ActivityEnvironment
) -> None:
    items = [f"item-{i}" for i in range(500)]
    ref = await offload(blobs, "acme", items, threshold=1024)
    request = BlobSliceInput(tenant="acme", ref=ref, offset=490, size=10)
    assert await activity_env.run(BlobActivities(blobs).slice, request) == items[490:]


@pytest.mark.parametrize(
    ("tenant", "offset", "size", "kind"),
    [
        ("intruder", 0, 10, "BlobNotFound"),
        ("acme", 495, 10, "BlobSliceInvalid"),
        ("acme", 500, 1, "BlobSliceInvalid"),
        ("acme", -1, 5, "BlobSliceInvalid"),
        ("acme", 0, 0, "BlobSliceInvalid"),
    ],
)
async def test_a_slice_outside_the_list_or_the_tenant_is_refused(
    blobs: FileBlobStore,
    activity_env: ActivityEnvironment,
    tenant: str,
    offset: int,
    size: int,
    kind: str,
) -> None:
    ref = await offload(blobs, "acme", [f"item-{i}" for i in range(500)], threshold=1024)
    request = BlobSliceInput(tenant=tenant, ref=ref, offset=offset, size=size)
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(BlobActivities(blobs).slice, request)
    assert caught.value.type == kind and caught.value.non_retryable


async def test_a_slice_of_what_is_not_a_list_is_refused(
    blobs: FileBlobStore, activity_env: ActivityEnvironment
) -> None:
    ref = await offload(blobs, "acme", {"rows": "x" * 5000}, threshold=1024)
    request = BlobSliceInput(tenant="acme", ref=ref, offset=0, size=1)
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(BlobActivities(blobs).slice, request)
    assert caught.value.type == "BlobSliceInvalid"
    assert caught.value.message.endswith("holds dict, not a list")


class CountingStore(FileBlobStore):
    """The filesystem store, counting the reads of each key."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()

    async def get(self, key: str) -> bytes:
        self.reads[key] += 1
        return await super().get(key)


async def test_the_batches_of_a_stored_list_read_it_once(
    tmp_path: Path, activity_env: ActivityEnvironment
) -> None:
    """A foreach over 10,000 stored items in batches of 100 read and parsed the whole list
    for every batch; now the worker reads it once, concurrent batches included, and an
    intruder's slice of it is refused all the same."""
    store = CountingStore(tmp_path / "blobs")
    items = [f"item-{i}" for i in range(10_000)]
    ref = await offload(store, "acme", items, threshold=1024)
    blobs = BlobActivities(store)

    def batch(offset: int, tenant: str = "acme") -> BlobSliceInput:
        return BlobSliceInput(tenant=tenant, ref=ref, offset=offset, size=100)

    batches = [await activity_env.run(blobs.slice, batch(offset)) for offset in range(0, 5000, 100)]
    batches += await asyncio.gather(
        *(activity_env.run(blobs.slice, batch(offset)) for offset in range(5000, 10_000, 100))
    )
    assert [item for part in batches for item in part] == items
    assert store.reads == {ref[BLOB_KEY]: 1}
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(blobs.slice, batch(0, tenant="intruder"))
    assert caught.value.type == "BlobNotFound"


async def test_stored_lists_are_kept_within_bounds_and_failed_reads_not_at_all(
    tmp_path: Path, activity_env: ActivityEnvironment
) -> None:
    store = CountingStore(tmp_path / "blobs")
    first = await offload(store, "acme", ["a"] * 1000, threshold=1024)
    second = await offload(store, "acme", ["b"] * 1000, threshold=1024)
    blobs = BlobActivities(store, kept_lists=1)
    for ref in (first, second, first):
        await activity_env.run(
            blobs.slice, BlobSliceInput(tenant="acme", ref=ref, offset=0, size=1)
        )
    assert store.reads == {first[BLOB_KEY]: 2, second[BLOB_KEY]: 1}  # one kept at a time

    by_size = BlobActivities(store, kept_bytes=first["size"])
    for ref in (first, second, first):
        await activity_env.run(
            by_size.slice, BlobSliceInput(tenant="acme", ref=ref, offset=0, size=1)
        )
    assert store.reads == {first[BLOB_KEY]: 4, second[BLOB_KEY]: 2}

    items = [f"late-{i}" for i in range(500)]
    missing = await offload(store, "acme", items, threshold=1024)
    path = next(p for p in store.root.rglob(missing["sha256"]))
    payload = path.read_bytes()
    path.unlink()
    request = BlobSliceInput(tenant="acme", ref=missing, offset=0, size=2)
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(blobs.slice, request)
    assert caught.value.type == "BlobNotFound"
    path.write_bytes(payload)  # another worker's put lands: the next batch finds it
    assert await activity_env.run(blobs.slice, request) == items[:2]


async def test_items_over_stored_values_are_bounded_outside_the_workflow_too(
    blobs: FileBlobStore,
) -> None:
    """`node.pure` lets a foreach's items be larger than a value in a workflow, not without
    bound: 17 stored strings of a million characters are refused, naming the bound; the same
    items in a transform are refused at the workflow's million."""
    rows = await offload(blobs, "acme", ["x" * 1_000_000] * 17, threshold=1024)
    pure = PureActivities(blobs, threshold=1024)
    environment = ActivityEnvironment()

    async def computed(kind: Any, config: dict[str, str]) -> ApplicationError:
        request = PureNodeInput(
            tenant="acme", node_id="each", kind=kind, config=config, scope={"rows": rows}
        )
        with pytest.raises(ApplicationError) as caught:
            await environment.run(pure.compute, request)
        return caught.value

    items = await computed(ITEMS, {"items": "rows"})
    assert items.type == "ExpressionError" and items.non_retryable
    assert "over 16,000,000 characters" in items.message
    value = await computed("transform", {"value": "{{ rows[:2] }}"})
    assert "over 1,000,000 characters" in value.message

    fits = await environment.run(
        pure.compute,
        PureNodeInput(tenant="acme", node_id="each", kind="items",
                      config={"items": "rows[:15]"}, scope={"rows": rows}),
    )  # fmt: skip
    assert fits.count == 15 and is_blob_ref(fits.output)
