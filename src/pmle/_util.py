"""Small helpers shared by every layer: hashing, atomic writes, resource references, time."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, overload

from pmle.errors import InvalidInput

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-.]{0,127}$")
_ALIAS_RE = re.compile(r"^[a-z][a-z0-9\-]{0,127}$")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A time as aware UTC: naive values (what SQLite hands back) were written in UTC; aware
    ones are converted."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def check_name(name: str, what: str = "name") -> str:
    """Validate a resource name: a letter, then letters, digits, `_`, `-` or `.` (≤ 128)."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.endswith("."):
        raise InvalidInput(
            f"invalid {what} {name!r}",
            hint="use a letter followed by letters, digits, '_', '-' or '.' (at most 128)",
        )
    return name


def check_alias(alias: str) -> str:
    """Validate an alias with Vertex AI's rules: lowercase letters, digits and '-', not numeric."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}",
            hint="an alias starts with a lowercase letter and holds only a-z, 0-9 and '-'",
        )
    return alias


@dataclass(frozen=True)
class Ref:
    """A parsed resource reference: `NAME`, `NAME@VERSION` or `NAME@ALIAS`."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_ref(ref: str) -> Ref:
    """Parse `NAME`, `NAME@3` or `NAME@champion` into a :class:`Ref`."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(
            "empty resource reference", hint="write NAME, NAME@VERSION or NAME@ALIAS"
        )
    name, sep, rest = ref.strip().partition("@")
    check_name(name)
    if not sep:
        return Ref(name)
    if rest.isdigit():
        version = int(rest)
        if version < 1:
            raise InvalidInput(f"invalid version in {ref!r}", hint="versions start at 1")
        return Ref(name, version=version)
    if not rest:
        raise InvalidInput(f"nothing after '@' in {ref!r}", hint="write NAME@VERSION or NAME@ALIAS")
    return Ref(name, alias=check_alias(rest))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[bytes]]:
    """Write to a temp file beside `path`, fsync, then rename over it; nothing on failure."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def lazy_exports(package: str, where: Mapping[str, str | tuple[str, str]]) -> Any:
    """A module `__getattr__` that imports each public name from its submodule on first use.

    `where` maps a name to its module (absolute, or relative to `package` when it has no dot)
    or to `(module, attribute)` when the attribute is named differently."""

    def __getattr__(name: str) -> Any:
        import importlib

        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = where[name]
        module, attr = target if isinstance(target, tuple) else (target, name)
        if "." not in module:
            module = f"{package}.{module}"
        return getattr(importlib.import_module(module), attr)

    return __getattr__


def this_host() -> str:
    """The name runs record as their owner's host (pipeline runs, tracking runs)."""
    return socket.gethostname()


def owner_alive(host: str | None, pid: int | None) -> bool:
    """Whether the process that owns a run may still be running it: True for another host's
    process (it cannot be checked from here) or an unknown owner, else whether `pid` lives."""
    if host is None or pid is None or host != this_host():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
