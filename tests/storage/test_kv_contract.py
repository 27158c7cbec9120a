"""The KV contract: the same tests, unchanged, against memory, SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib

from apps.storage.config import KVMemoryBackend, KVPostgresBackend, KVRedisBackend, KVSqliteBackend
from apps.storage.kv import KVBackendError, build_kv_store
from tests.support.names import unique
from tests.support.postgres import drop_table
from tests.support.services import PG, REDIS, require_service

BACKENDS = ["memory", "sqlite", "postgres", "redis"]


def make_config(kind: str, tmp_path, table: str):
    if kind == "memory":
        return KVMemoryBackend(type="kv_memory")
    if kind == "sqlite":
        return KVSqliteBackend(type="kv_sqlite", db_path=str(tmp_path / "kv.db"))
    if kind == "postgres":
        require_service("postgres")
        return KVPostgresBackend(
            type="kv_postgres", host=PG["host"], port=PG["port"], db=PG["db"], user=PG["user"], table_name=table
        )
    require_service("redis")
    return KVRedisBackend(type="kv_redis", host=REDIS["host"], port=REDIS["port"])


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """(config, factory) where factory(namespace) builds another instance on the same backend."""
    table = unique("kv_contract_")
    config = make_config(request.param, tmp_path, table)
    built = []

    def factory(namespace):
        store = build_kv_store(config, namespace, backend_name=f"contract-{table}")
        built.append(store)
        return store

    yield config, factory
    for store in built:
        if store.namespace:  # a namespace-less store would range over everything on a shared server
            store.delete_range("", "\U0010ffff")
        store.close()
    if request.param == "postgres":
        drop_table(table)
    if request.param == "redis":
        client = redis_lib.Redis(host=REDIS["host"], port=REDIS["port"])
        client.delete(*{f"\x00kvindexed:{store.namespace}" for store in built if store.namespace})


@pytest.fixture
def kv(backend):
    _, factory = backend
    return factory(unique("ns"))


TRICKY_VALUES = [
    "",
    "plain",
    "unicode é ü 漢字 and emoji 🎉🧪",
    "quotes ' \" and backslash \\ and {{ braces }}",
    "multi\nline\r\nvalue\twith tabs",
    "x" * (1024 * 1024),
]


def test_get_missing_is_none(kv):
    assert kv.get("missing") is None


@pytest.mark.parametrize("value", TRICKY_VALUES, ids=["empty", "plain", "unicode", "quotes", "newlines", "1mb"])
def test_values_round_trip_unchanged(kv, value):
    kv.set("k", value)
    assert kv.get("k") == value
    assert kv.values_in_range("k", "l") == [value]


def test_set_overwrites_and_delete_removes(kv):
    kv.set("k", "one")
    kv.set("k", "two")
    assert kv.get("k") == "two"
    kv.delete("k")
    assert kv.get("k") is None
    kv.delete("k")  # deleting a missing key is not an error


def test_keys_are_namespaced_with_llama_stack_layout(backend):
    _, factory = backend
    ns = unique("ns")
    store, other, raw = factory(ns), factory(unique("ns")), factory(None)
    store.set("prompts:v1:a:1", "x")
    assert other.get("prompts:v1:a:1") is None
    assert other.keys_in_range("", "\U0010ffff") == []
    assert raw.get(f"{ns}:prompts:v1:a:1") == "x"
    assert raw.keys_in_range(f"{ns}:", f"{ns}:\xff") == [f"{ns}:prompts:v1:a:1"]
    raw.delete_range(f"{ns}:", f"{ns}:\xff")


def test_ranges_are_half_open_sorted_and_stripped(kv):
    for key in ["p:2", "p:10", "p:1", "p:1:x", "q", "p", "p;", "p:\u00e9", "p:default"]:
        kv.set(key, f"v-{key}")
    expected = sorted(["p:2", "p:10", "p:1", "p:1:x", "p:\u00e9", "p:default"])
    assert kv.keys_in_range("p:", "p:\xff") == expected
    assert kv.values_in_range("p:", "p:\xff") == [f"v-{k}" for k in expected]
    assert kv.items_in_range("p:", "p:\xff") == [(k, f"v-{k}") for k in expected]
    assert kv.keys_in_range("p:1", "p:2") == ["p:1", "p:10", "p:1:x"]  # code point order; end excluded
    assert kv.keys_in_range("p:2", "p:2") == []
    assert kv.keys_in_range("z", "a") == []


def test_expired_entries_are_invisible(kv):
    past = datetime.now(UTC) - timedelta(seconds=5)
    future = datetime.now(UTC) + timedelta(hours=1)
    kv.set("old", "gone", expiration=past)
    kv.set("new", "here", expiration=future)
    kv.set("forever", "here")
    assert kv.get("old") is None
    assert kv.get("new") == "here"
    assert kv.keys_in_range("", "\xff") == ["forever", "new"]


def test_naive_expiration_is_rejected(kv):
    with pytest.raises(ValueError, match="timezone-aware"):
        kv.set("k", "v", expiration=datetime.now())


def test_non_string_values_are_rejected(kv):
    with pytest.raises(TypeError):
        kv.set("k", 5)
    with pytest.raises(TypeError):
        kv.set("k", b"bytes")


def test_set_if_absent(kv):
    assert kv.set_if_absent("k", "first") is True
    assert kv.set_if_absent("k", "second") is False
    assert kv.get("k") == "first"
    kv.set("exp", "old", expiration=datetime.now(UTC) - timedelta(seconds=1))
    assert kv.set_if_absent("exp", "fresh") is True
    assert kv.get("exp") == "fresh"
    assert kv.keys_in_range("", "\xff") == ["exp", "k"]


def test_write_batch_is_all_or_nothing(kv):
    assert kv.write_batch({"a:1": "one", "a:default": "1"}, require_absent=["a:1"]) is True
    assert kv.items_in_range("a:", "a:\xff") == [("a:1", "one"), ("a:default", "1")]
    # a claimed key makes the whole batch a no-op
    assert kv.write_batch({"a:1": "other", "a:2": "two", "a:default": "2"}, require_absent=["a:1"]) is False
    assert kv.items_in_range("a:", "a:\xff") == [("a:1", "one"), ("a:default", "1")]
    # deletes apply with the sets
    assert kv.write_batch({"a:2": "two"}, require_absent=["a:2", "a:3"], deletes=["a:default"]) is True
    assert kv.items_in_range("a:", "a:\xff") == [("a:1", "one"), ("a:2", "two")]


def test_write_batch_can_require_keys_present(kv):
    kv.set("a:default", "1")
    kv.set("a:gone", "old", expiration=datetime.now(UTC) - timedelta(seconds=1))
    assert kv.write_batch({"a:2": "two"}, require_present=["a:default", "a:missing"]) is False
    assert kv.write_batch({"a:2": "two"}, require_present=["a:gone"]) is False  # expired is absent
    assert kv.keys_in_range("a:", "a:\xff") == ["a:default"]
    assert kv.write_batch({"a:2": "two"}, require_present=["a:default"], require_absent=["a:2"]) is True
    assert kv.items_in_range("a:", "a:\xff") == [("a:2", "two"), ("a:default", "1")]


def test_write_batch_can_require_values(kv):
    kv.set("a:default", "1")
    kv.set("a:gen", "x")
    kv.set("a:gone", "old", expiration=datetime.now(UTC) - timedelta(seconds=1))
    assert kv.write_batch({"a:2": "two"}, require_values={"a:default": "2"}) is False
    assert kv.write_batch({"a:2": "two"}, require_values={"a:default": "1", "a:gen": "y"}) is False
    assert kv.write_batch({"a:2": "two"}, require_values={"a:missing": "1"}) is False
    assert kv.write_batch({"a:2": "two"}, require_values={"a:gone": "old"}) is False  # expired holds nothing
    assert kv.keys_in_range("a:", "a:\xff") == ["a:default", "a:gen"]
    done = kv.write_batch(
        {"a:2": "two", "a:gen": "z"},
        require_values={"a:default": "1", "a:gen": "x"},
        require_present=["a:default"],
        require_absent=["a:2"],
        deletes=["a:none"],
        delete_ranges=[("b:", "b:\xff")],
    )
    assert done is True
    assert kv.items_in_range("a:", "a:\xff") == [("a:2", "two"), ("a:default", "1"), ("a:gen", "z")]


def test_write_batch_deletes_ranges_with_its_writes(kv):
    for key in ["p:1", "p:2", "p:default", "q:1"]:
        kv.set(key, "v")
    assert kv.write_batch({"gen": "b"}, require_present=["p:missing"], delete_ranges=[("p:", "p:\xff")]) is False
    assert kv.keys_in_range("", "\xff") == ["p:1", "p:2", "p:default", "q:1"]
    done = kv.write_batch({"gen": "c"}, require_present=["p:default"], delete_ranges=[("p:", "p:\xff"), ("z", "a")])
    assert done is True
    assert kv.items_in_range("", "\xff") == [("gen", "c"), ("q:1", "v")]


def test_delete_range(kv):
    for key in ["x:1", "x:2", "x:3", "y:1"]:
        kv.set(key, "v")
    assert kv.delete_range("x:", "x:\xff") == 3
    assert kv.keys_in_range("", "\xff") == ["y:1"]
    assert kv.delete_range("x:", "x:\xff") == 0


@pytest.mark.parametrize("rounds", [15])
def test_concurrent_set_if_absent_has_exactly_one_winner(backend, rounds):
    _, factory = backend
    namespace = unique("race")
    stores = [factory(namespace) for _ in range(4)]  # separate instances, like separate workers
    for round_no in range(rounds):
        key = f"prompts:v1:p:{round_no}"
        results: list[bool] = []
        lock = threading.Lock()
        barrier = threading.Barrier(12)

        def claim(i, key=key, results=results, lock=lock, barrier=barrier):
            barrier.wait()
            won = stores[i % len(stores)].set_if_absent(key, f"writer-{i}")
            with lock:
                results.append(won)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1, f"round {round_no}: {results.count(True)} winners"
        winner = results.index(True)
        assert stores[0].get(key) is not None
        assert stores[0].get(key).startswith("writer-"), winner


def test_concurrent_write_batch_has_exactly_one_winner(backend):
    _, factory = backend
    namespace = unique("race")
    stores = [factory(namespace) for _ in range(4)]
    for round_no in range(10):
        results: list[bool] = []
        lock = threading.Lock()
        barrier = threading.Barrier(10)

        def claim(i, round_no=round_no, results=results, lock=lock, barrier=barrier):
            barrier.wait()
            won = stores[i % len(stores)].write_batch(
                {f"v:{round_no}": f"writer-{i}", "default": str(i)}, require_absent=[f"v:{round_no}"]
            )
            with lock:
                results.append(won)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1
        winner = results.index(True)
        del winner  # thread order is not list order; check the stored pair instead
        stored = stores[0].get(f"v:{round_no}")
        assert stored is not None
        assert stores[0].get("default") == stored.removeprefix("writer-")


@pytest.mark.parametrize("delete", ["delete_range", "write_batch"])
def test_a_batch_requiring_a_key_never_outlives_a_concurrent_range_delete(backend, delete):
    """Writers add keys to a range on the condition that its marker key is present while the range is deleted:
    whichever order they run in, nothing they wrote is left behind (on PostgreSQL a DELETE that waited for a
    writer's lock would otherwise miss the rows that writer inserted)."""
    _, factory = backend
    namespace = unique("fence")
    stores = [factory(namespace) for _ in range(4)]
    writers = 8
    for round_no in range(15):
        prefix = f"p{round_no}:"
        stores[0].write_batch({f"{prefix}1": "one", f"{prefix}default": "1"})
        barrier = threading.Barrier(writers + 1)

        def write(i, prefix=prefix, barrier=barrier):
            barrier.wait()
            stores[i % len(stores)].write_batch(
                {f"{prefix}w{i}": "x", f"{prefix}default": str(i)}, require_present=[f"{prefix}default"]
            )

        def remove(prefix=prefix, barrier=barrier):
            barrier.wait()
            if delete == "delete_range":
                return stores[-1].delete_range(prefix, prefix + "\xff")
            whole = (prefix, prefix + "\xff")
            return stores[-1].write_batch({}, require_present=[f"{prefix}default"], delete_ranges=[whole])

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        threads.append(threading.Thread(target=remove))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert stores[0].keys_in_range(prefix, prefix + "\xff") == [], f"round {round_no}"


async def test_async_twins(kv):
    await kv.aset("a:1", "one")
    assert await kv.aget("a:1") == "one"
    assert await kv.aset_if_absent("a:1", "x") is False
    assert await kv.aset_if_absent("a:2", "two") is True
    assert await kv.akeys_in_range("a:", "a:\xff") == ["a:1", "a:2"]
    assert await kv.avalues_in_range("a:", "a:\xff") == ["one", "two"]
    assert await kv.awrite_batch({"a:3": "three"}, require_absent=["a:3"]) is True
    assert await kv.awrite_batch({}, require_present=["a:9"], delete_ranges=[("a:", "a:\xff")]) is False
    assert await kv.adelete_range("a:2", "a:\xff") == 2
    await kv.adelete("a:1")
    assert await kv.aitems_in_range("a:", "a:\xff") == []


def test_driver_errors_are_wrapped(tmp_path):
    unreachable = [
        KVPostgresBackend(type="kv_postgres", host="127.0.0.1", port=1, user="nobody"),
        KVRedisBackend(type="kv_redis", host="127.0.0.1", port=1),
        KVSqliteBackend(type="kv_sqlite", db_path="/proc/no-such-dir/kv.db"),
    ]
    for config in unreachable:
        store = build_kv_store(config, "ns")
        with pytest.raises(KVBackendError) as info:
            store.get("k")
        assert config.type in str(info.value)
