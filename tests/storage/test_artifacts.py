from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pmle.errors import IntegrityError, InvalidInput, NotFound
from pmle.storage.artifacts import ArtifactStore


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def test_key_is_sha256_and_content_is_deduplicated(store: ArtifactStore) -> None:
    key = store.put_bytes(b"hello")
    assert key == hashlib.sha256(b"hello").hexdigest()
    assert store.put_bytes(b"hello") == key
    assert store.keys() == [key]
    assert store.get_bytes(key) == b"hello"


def test_interrupted_write_leaves_nothing(store: ArtifactStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x" * 1000
        yield b"y" * 1000
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        store.put_stream(chunks())
    assert store.keys() == []
    assert store.leftover_temp_files() == []


def test_keys_cannot_escape_the_store(store: ArtifactStore) -> None:
    for bad in ("../../etc/passwd", "ab", "A" * 64, "/" + "a" * 63):
        with pytest.raises(InvalidInput):
            store.path(bad)


def test_missing_object(store: ArtifactStore) -> None:
    with pytest.raises(NotFound):
        store.get_bytes("0" * 64)


def test_tree_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01")
    key = store.put_tree(src)
    assert store.read_tree(key) == {
        "a.txt": hashlib.sha256(b"alpha").hexdigest(),
        "sub/b.bin": hashlib.sha256(b"\x00\x01").hexdigest(),
    }
    out = store.materialize_tree(key)
    assert (out / "a.txt").read_text() == "alpha"
    assert (out / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert store.materialize_tree(key) == out  # built once
    assert store.put_tree(src) == key  # same folder, same key


def test_tree_with_traversal_is_refused(store: ArtifactStore) -> None:
    import orjson

    evil = store.put_bytes(
        orjson.dumps({"kind": "pmle.tree/1", "files": {"../escape": store.put_bytes(b"x")}})
    )
    with pytest.raises(InvalidInput, match="unsafe path"):
        store.materialize_tree(evil)


def test_corruption_is_detected(store: ArtifactStore) -> None:
    key = store.put_bytes(b"payload")
    store.verify(key)
    store.path(key).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        store.verify(key)
