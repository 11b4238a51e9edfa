"""The console's static files (CSS, JS, the Vega bundles), shipped in the package."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pmle.server.console.router import Reply

if TYPE_CHECKING:
    from pmle.server.app import Request

ROOT = Path(__file__).resolve().parent / "static"
TYPES = {
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".txt": b"text/plain; charset=utf-8",
}


@cache
def _files() -> dict[str, Path]:
    """The files there are (a fixed set: a request never adds to any cache)."""
    return {
        p.relative_to(ROOT).as_posix(): p
        for p in ROOT.rglob("*")
        if p.is_file() and p.suffix in TYPES
    }


@cache
def _load(rel: str) -> tuple[bytes, bytes]:
    data = _files()[rel].read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16].encode()


def _read(rel: str) -> tuple[bytes, bytes] | None:
    return _load(rel) if rel in _files() else None


def version(rel: str) -> str:
    """A cache-busting suffix for a static file's URL (its content hash)."""
    found = _read(rel)
    return found[1].decode() if found else "0"


def serve(req: Request) -> Reply:
    found = _read(req.path.removeprefix("/static/"))
    if found is None:
        return Reply(404, b"not found", b"text/plain; charset=utf-8")
    data, etag = found
    headers = [(b"etag", b'"' + etag + b'"'), (b"cache-control", b"public, max-age=86400")]
    if req.headers.get(b"if-none-match", b"").strip(b'"') == etag:
        return Reply(304, b"", TYPES[Path(req.path).suffix], headers)
    return Reply(200, data, TYPES[Path(req.path).suffix], headers)
