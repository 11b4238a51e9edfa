"""SQL models: BigQuery ML's CREATE MODEL, DROP MODEL and ML.* table functions over the DuckDB
warehouse (`ws.sql(...)`, `pmle.sql(...)`, `pmle sql`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = ["SqlModel", "SqlResult", "SqlSession"]

if TYPE_CHECKING:
    from pmle.sqlml.engine import SqlResult, SqlSession
    from pmle.sqlml.model import SqlModel

__getattr__ = lazy_exports(
    __name__, {"SqlModel": "model", "SqlResult": "engine", "SqlSession": "engine"}
)
