"""The per-process cache: expiry, per-tenant invalidation, and loads that raced a change."""

from __future__ import annotations

from auterity.cache import ALL, MISSING, TenantCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_until_its_ttl_passes() -> None:
    clock = Clock()
    cache = TenantCache(5, clock=clock)
    cache.put("t1", "k", "v", cache.generation())
    assert cache.get("t1", "k") == "v"
    clock.now += 4.9
    assert cache.get("t1", "k") == "v"
    clock.now += 0.2
    assert cache.get("t1", "k") is MISSING


def test_invalidating_a_tenant_forgets_only_its_entries() -> None:
    cache = TenantCache(60)
    cache.put("t1", "k", "one", cache.generation())
    cache.put("t2", "k", "two", cache.generation())
    cache.invalidate("t1")
    assert cache.get("t1", "k") is MISSING
    assert cache.get("t2", "k") == "two"
    cache.invalidate(ALL)
    assert cache.get("t2", "k") is MISSING


def test_a_load_that_raced_an_invalidation_is_not_kept() -> None:
    cache = TenantCache(60)
    before = cache.generation()  # a request starts reading the database…
    cache.invalidate("t1")  # …another commits a change…
    cache.put("t1", "k", "stale", before)  # …and the first one's (old) value comes back
    assert cache.get("t1", "k") is MISSING
    cache.put("t1", "k", "fresh", cache.generation())
    assert cache.get("t1", "k") == "fresh"


def test_load_reads_through_once() -> None:
    cache = TenantCache(60)
    calls = []

    def loader() -> str:
        calls.append(1)
        return "v"

    assert cache.load("t1", "k", loader) == "v"
    assert cache.load("t1", "k", loader) == "v"
    assert len(calls) == 1


def test_findable_entries_are_found_without_their_tenant_until_it_is_invalidated() -> None:
    cache = TenantCache(60)
    cache.put("t1", ("api_key", "h"), "principal", cache.generation(), findable=True)
    assert cache.find(("api_key", "h")) == "principal"
    cache.invalidate("t1")
    assert cache.find(("api_key", "h")) is MISSING


def test_a_disabled_cache_keeps_nothing_and_turning_it_off_forgets() -> None:
    cache = TenantCache(60, enabled=False)
    cache.put("t1", "k", "v", cache.generation())
    assert cache.get("t1", "k") is MISSING
    cache.enable(True)
    cache.put("t1", "k", "v", cache.generation())
    assert cache.get("t1", "k") == "v"
    cache.enable(False)
    assert cache.get("t1", "k") is MISSING
    assert not TenantCache(0).enabled  # ttl 0: off for good
