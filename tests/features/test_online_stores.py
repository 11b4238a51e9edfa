"""The online store conformance suite, run against SQLite and a real Redis server, plus the
feature store's materialize → online read flow on both giving the same values."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import pmle
from pmle.errors import InvalidInput, StoreUnavailable
from pmle.features.online import (
    OnlineStore,
    SqliteOnlineStore,
    entity_key,
    open_online_store,
)
from pmle.features.online_redis import RedisOnlineStore, redacted_url


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> OnlineStore:
    if kind == "sqlite":
        return SqliteOnlineStore(tmp_path / "online.sqlite")
    return RedisOnlineStore(request.getfixturevalue("redis_url"))


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    opened = _open(request.param, request, tmp_path)
    yield opened
    opened.close()


def test_round_trip_with_multi_part_keys(store: OnlineStore) -> None:
    k1 = entity_key([42, "eu-west"])
    k2 = entity_key([7.0, True])  # a whole float and a bool render like JSON's 7 and true
    assert k2 == entity_key(["7", "true"])
    data1 = '{"spend": 1.5, "note": "a|b ünïcode"}'.encode()
    assert store.write("v", [(k1, 1767225600.123456, data1), (k2, 5.0, b"{}")]) == 2
    assert store.read("v", [k1, k2]) == [(1767225600.123456, data1), (5.0, b"{}")]
    assert store.read("v", [k2]) == [(5.0, b"{}")]
    big = b'{"blob": "' + b"x\x00|" * 100_000 + b'"}'  # any bytes, over 64 KiB
    assert store.write("v", [("big", -1.5e-7, big)]) == 1
    assert store.read("v", ["big", k1]) == [(-1.5e-7, big), (1767225600.123456, data1)]


def test_newer_wins(store: OnlineStore) -> None:
    k = entity_key([1])
    assert store.write("v", [(k, 10.0, b"A")]) == 1
    assert store.write("v", [(k, 5.0, b"older")]) == 0
    assert store.read("v", [k]) == [(10.0, b"A")]
    assert store.write("v", [(k, 10.0, b"same time")]) == 1
    assert store.read("v", [k]) == [(10.0, b"same time")]
    assert store.write("v", [(k, 11.0, b"newer")]) == 1
    assert store.read("v", [k]) == [(11.0, b"newer")]
    # Within one batch too: records apply in order, an older one is skipped.
    k2 = entity_key([2])
    assert store.write("v", [(k2, 1.0, b"x"), (k2, 3.0, b"y"), (k2, 2.0, b"z")]) == 2
    assert store.read("v", [k2]) == [(3.0, b"y")]


def test_missing_keys_read_none_in_order(store: OnlineStore) -> None:
    assert store.read("never", ["a", "b"]) == [None, None]
    assert store.read("never", ["a"]) == [None]
    assert store.read("never", []) == []
    store.write("v", [("a", 1.0, b"1"), ("c", 3.0, b"3")])
    assert store.read("v", ["c", "missing", "a", "c"]) == [
        (3.0, b"3"),
        None,
        (1.0, b"1"),
        (3.0, b"3"),
    ]
    assert store.read("v", ["missing"]) == [None]
    assert store.read("v", []) == []
    assert store.write("v", []) == 0


def test_one_and_a_thousand_keys(store: OnlineStore) -> None:
    # 2,500 records cross both stores' internal batch sizes.
    records = [
        (entity_key([i, f"r{i % 7}"]), float(i), f'{{"x": {i}}}'.encode()) for i in range(2500)
    ]
    assert store.write("big", records) == 2500
    rng = random.Random(3)
    asked = [r[0] for r in rng.sample(records, 900)] + [f"absent{i}" for i in range(100)]
    rng.shuffle(asked)
    expected = {r[0]: (r[1], r[2]) for r in records}
    got = store.read("big", asked)
    assert len(got) == 1000
    assert got == [expected.get(k) for k in asked]
    assert store.read("big", [records[1234][0]]) == [(1234.0, b'{"x": 1234}')]


def test_count_and_drop(store: OnlineStore) -> None:
    assert store.count("v") == 0
    store.write("v", [(str(i), 1.0, b"{}") for i in range(10)])
    store.write("v", [(str(i), 2.0, b"{}") for i in range(5)])  # overwrites add nothing
    store.write("other", [("0", 1.0, b"kept")])
    assert store.count("v") == 10
    store.drop("v")
    assert store.count("v") == 0
    assert store.read("v", ["0", "1"]) == [None, None]
    assert store.read("other", ["0"]) == [(1.0, b"kept")]
    store.drop("v")  # dropping an empty view is fine
    store.drop("never")
    # A dropped view takes writes again, and any time is newer than nothing.
    assert store.write("v", [("0", 0.5, b"again")]) == 1
    assert store.read("v", ["0"]) == [(0.5, b"again")]


def test_close_then_use_again(store: OnlineStore) -> None:
    store.write("v", [("k", 1.0, b"1")])
    store.close()
    assert store.read("v", ["k"]) == [(1.0, b"1")]


def test_stores_agree_on_random_writes(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    stores = [_open("sqlite", request, tmp_path), _open("redis", request, tmp_path)]
    rng = random.Random(11)
    keys = [entity_key([i, i % 3]) for i in range(300)]
    for round_ in range(8):
        batch = [
            (rng.choice(keys), float(rng.randint(0, 20)), f"r{round_}-{n}".encode())
            for n in range(rng.randint(1, 400))
        ]
        counts = [s.write("v", batch) for s in stores]
        assert counts[0] == counts[1]
    reads = [s.read("v", [*keys, "nope"]) for s in stores]
    assert reads[0] == reads[1]
    assert stores[0].count("v") == stores[1].count("v") == sum(r is not None for r in reads[0])
    for s in stores:
        s.close()


# --- opening by URL, and errors -----------------------------------------------------------


def test_open_online_store_by_url(redis_url: str, tmp_path: Path) -> None:
    opened = open_online_store(redis_url, tmp_path)
    assert isinstance(opened, RedisOnlineStore)
    assert opened.url == redis_url
    opened.write("v", [("k", 1.0, b"1")])
    assert opened.count("v") == 1
    opened.close()
    assert isinstance(open_online_store("", tmp_path), SqliteOnlineStore)


def test_redis_reloads_a_forgotten_script(redis_url: str) -> None:
    import redis

    store = RedisOnlineStore(redis_url)
    assert store.write("v", [("a", 1.0, b"1")]) == 1
    client = redis.Redis.from_url(redis_url)
    client.script_flush()  # as after a Redis restart
    client.close()
    records = [(str(i), 2.0, b"2") for i in range(5000)]  # several script calls in a pipeline
    assert store.write("v", records) == 5000
    assert store.read("v", ["a", "4999"]) == [(1.0, b"1"), (2.0, b"2")]
    store.close()


def test_url_keeps_no_password() -> None:
    assert redacted_url("redis://user:s3cret@host:6379/1") == "redis://user@host:6379/1"
    assert redacted_url("redis://:s3cret@host:6379/1") == "redis://host:6379/1"
    assert redacted_url("unix:///run/redis.sock?db=2&password=s3cret") == (
        "unix:///run/redis.sock?db=2"
    )
    assert RedisOnlineStore("rediss://u:s3cret@host/0").url == "rediss://u@host/0"


def test_bad_url(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="bad Redis URL") as info:
        open_online_store("redis://:s3cret@localhost:notaport/0", tmp_path)
    assert "s3cret" not in str(info.value)
    with pytest.raises(InvalidInput, match="unknown online store"):
        open_online_store("memcached://localhost:11211", tmp_path)


def test_unreachable_redis_is_store_unavailable() -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = RedisOnlineStore(f"redis://127.0.0.1:{port}/0")
    for call in (
        lambda: dead.read("v", ["k"]),
        lambda: dead.read("v", ["a", "b"]),
        lambda: dead.write("v", [("k", 1.0, b"1")]),
        lambda: dead.count("v"),
        lambda: dead.drop("v"),
    ):
        with pytest.raises(StoreUnavailable, match="cannot reach the Redis online store") as info:
            call()
        assert info.value.hint and "PMLE_ONLINE_STORE_URL" in info.value.hint


def test_wrong_credentials_are_store_unavailable(redis_url: str) -> None:
    with_password = redis_url.replace("redis://", "redis://pmle:s3cret@")
    store = RedisOnlineStore(with_password)
    with pytest.raises(StoreUnavailable, match="credentials") as info:
        store.count("v")
    assert "s3cret" not in str(info.value)


# --- the feature store on both online stores -----------------------------------------------

DEFINITIONS: dict[str, Any] = {
    "entities": [{"name": "customer", "join_keys": ["customer_id", "region"]}],
    "feature_views": [
        {
            "name": "cust",
            "entities": ["customer"],
            "source": {"dataset": "tx"},
            "timestamp": "event_ts",
            "ttl": "7d",
            "features": [
                {"name": "spend", "dtype": "float64"},
                {"name": "segment", "dtype": "string"},
            ],
        }
    ],
}


def _materialized(folder: Path, **settings: Any) -> tuple[list[dict[str, Any]], Any]:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3, 1],
            "region": ["eu", "eu", "us", "us", "eu", "us"],
            "event_ts": pd.to_datetime(
                ["2026-01-01", "2026-01-05", "2026-01-02", "2026-01-10", "2026-01-03", "2026-01-09"]
            ),
            "spend": [10.0, 20.0, 5.0, 7.0, 3.0, 1.25],
            "segment": ["a", "b", "c", "d", "e", "f"],
        }
    )
    ws = pmle.init(folder, **settings)
    try:
        ws.datasets.import_("tx", tx)
        ws.features.apply(DEFINITIONS)
        run = ws.features.materialize()[0]
        rows = ws.features.online_features(
            ["cust:spend", "cust:segment"],
            [
                {"customer_id": 1, "region": "eu"},
                {"customer_id": "2", "region": "us"},
                {"customer_id": 1.0, "region": "us"},
                {"customer_id": 3, "region": "eu"},  # older than the TTL at `now`
                {"customer_id": 9, "region": "eu"},  # never seen
            ],
            now=pd.Timestamp("2026-01-11").timestamp(),
        )
        freshness = [f.to_dict() for f in ws.features.freshness()]
        return rows, (run, freshness, ws.features.online)
    finally:
        ws.close()


def test_materialize_and_read_same_on_both_stores(redis_url: str, tmp_path: Path) -> None:
    on_sqlite, (run_s, fresh_s, _) = _materialized(tmp_path / "sqlite")
    on_redis, (run_r, fresh_r, online) = _materialized(
        tmp_path / "redis", online_store_url=redis_url
    )
    assert isinstance(online, RedisOnlineStore)
    assert run_r.store == redis_url and run_r.state == "SUCCEEDED"
    assert run_r.rows == run_s.rows == 4
    assert on_redis == on_sqlite
    assert on_redis == [
        {"customer_id": 1, "region": "eu", "spend": 20.0, "segment": "b"},
        {"customer_id": "2", "region": "us", "spend": 7.0, "segment": "d"},
        {"customer_id": 1.0, "region": "us", "spend": 1.25, "segment": "f"},
        {"customer_id": 3, "region": "eu", "spend": None, "segment": None},
        {"customer_id": 9, "region": "eu", "spend": None, "segment": None},
    ]
    assert [f["online_entities"] for f in fresh_r] == [f["online_entities"] for f in fresh_s] == [4]


def test_workspace_takes_the_online_store_from_the_environment(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pmle.init(tmp_path / "ws").close()
    monkeypatch.setenv("PMLE_ONLINE_STORE_URL", redis_url)
    ws = pmle.workspace.open_workspace(tmp_path / "ws")
    try:
        assert isinstance(ws.features.online, RedisOnlineStore)
        assert ws.features.online.url == redis_url
    finally:
        ws.close()
