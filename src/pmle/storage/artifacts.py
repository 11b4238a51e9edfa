"""Content-addressed artifact store.

Files are keyed by the sha256 of their bytes and live at `objects/ab/cdef…`. Every write goes to a
temp file inside the store, is fsynced, then renamed into place, so a crash mid-write never
leaves a half-written object under a valid key. A directory is stored as a *tree*: a small JSON
object listing relative paths and the keys of their files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import orjson

from pmle.errors import IntegrityError, InvalidInput, NotFound

_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_TREE_KIND = "pmle.tree/1"


def _check_key(key: str) -> str:
    # The key becomes part of a path: only 64 hex digits may pass.
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InvalidInput(f"invalid artifact key {key!r}", hint="a key is 64 lowercase hex digits")
    return key


def check_relpath(relpath: str) -> str:
    """Refuse absolute paths and `..` so a tree can never write outside its folder."""
    p = PurePosixPath(relpath.replace("\\", "/"))
    if (
        not relpath
        or p.is_absolute()
        or any(part in {"..", ""} for part in p.parts)
        or (p.parts and ":" in p.parts[0])
    ):
        raise InvalidInput(f"unsafe path {relpath!r} in artifact tree", hint="use relative paths")
    return p.as_posix()


class ArtifactStore:
    """Files addressed by their sha256, written atomically, stored once."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"

    def _ensure(self) -> None:
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Where the object `key` lives (whether or not it exists)."""
        _check_key(key)
        return self._objects / key[:2] / key[2:]

    def exists(self, key: str) -> bool:
        """Whether the object is stored."""
        return self.path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        """Open a stored object for reading."""
        p = self.path(key)
        if not p.is_file():
            raise NotFound(f"artifact {key[:12]}… is not in the store")
        return p.open("rb")

    def get_bytes(self, key: str) -> bytes:
        """The bytes of a stored object."""
        with self.open(key) as f:
            return f.read()

    def put_stream(self, chunks: Iterable[bytes]) -> str:
        """Store bytes from an iterable of chunks; returns the key. Atomic."""
        self._ensure()
        h = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix="put-", dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            key = h.hexdigest()
            dest = self.path(key)
            if dest.is_file():
                os.unlink(tmp)  # deduplicated: the same bytes are already stored
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, dest)
            return key
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def put_bytes(self, data: bytes) -> str:
        """Store a bytes object; returns its key."""
        return self.put_stream([data])

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a copy of a file; returns its key."""
        src = Path(path)
        if not src.is_file():
            raise NotFound(f"no such file: {src}")

        def chunks() -> Iterable[bytes]:
            with src.open("rb") as f:
                while block := f.read(1 << 20):
                    yield block

        return self.put_stream(chunks())

    def put_moved(self, path: str | os.PathLike[str]) -> str:
        """Move a finished file (on the store's file system) into the store; returns its key.

        Cheaper than :meth:`put_file` for large files written just for the store."""
        from pmle._util import sha256_file

        src = Path(path)
        key = sha256_file(src)
        dest = self.path(key)
        if dest.is_file():
            src.unlink()
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        return key

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path inside the store's temp folder, for a file about to be moved in."""
        self._ensure()
        fd, tmp = tempfile.mkstemp(prefix="put-", suffix=suffix, dir=self._tmp)
        os.close(fd)
        return Path(tmp)

    def put_tree(self, directory: str | os.PathLike[str]) -> str:
        """Store every file under `directory` and a tree object listing them; returns its key."""
        base = Path(directory)
        if not base.is_dir():
            raise NotFound(f"no such directory: {base}")
        entries: dict[str, str] = {}
        for p in sorted(base.rglob("*")):
            if p.is_symlink():
                raise InvalidInput(f"refusing symbolic link {p} in a model or artifact folder")
            if p.is_file():
                entries[check_relpath(p.relative_to(base).as_posix())] = self.put_file(p)
        tree = {"kind": _TREE_KIND, "files": entries}
        return self.put_bytes(orjson.dumps(tree, option=orjson.OPT_SORT_KEYS))

    def read_tree(self, key: str) -> dict[str, str]:
        """The `{relative path: key}` listing of a stored tree."""
        try:
            tree = orjson.loads(self.get_bytes(key))
        except orjson.JSONDecodeError:
            raise InvalidInput(f"artifact {key[:12]}… is not a tree")
        if not isinstance(tree, dict) or tree.get("kind") != _TREE_KIND:
            raise InvalidInput(f"artifact {key[:12]}… is not a tree")
        files = tree["files"]
        return {check_relpath(rel): _check_key(k) for rel, k in files.items()}

    def materialize_tree(self, key: str) -> Path:
        """A read-only folder holding the tree's files, built once in the store's cache."""
        dest = self.root / "trees" / _check_key(key)
        if dest.is_dir():
            return dest
        listing = self.read_tree(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="tree-", dir=dest.parent))
        try:
            for rel, obj in listing.items():
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.path(obj), target)
            try:
                os.replace(staging, dest)
            except OSError:
                if not dest.is_dir():  # another process won the race: fine; otherwise re-raise
                    raise
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return dest

    def verify(self, key: str) -> None:
        """Re-hash a stored object and raise if its bytes no longer match its key."""
        from pmle._util import sha256_file

        actual = sha256_file(self.path(key))
        if actual != key:
            raise IntegrityError(f"artifact {key[:12]}… is corrupt (hash {actual[:12]}…)")

    def keys(self) -> list[str]:
        """Every stored key (for maintenance and tests)."""
        if not self._objects.is_dir():
            return []
        return sorted(p.parent.name + p.name for p in self._objects.glob("??/*") if p.is_file())

    def leftover_temp_files(self) -> list[Path]:
        """Temp files of writes that never finished (normally none)."""
        return sorted(self._tmp.glob("*")) if self._tmp.is_dir() else []
