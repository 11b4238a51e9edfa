"""Settings: explicit arguments, then `PMLE_*` environment variables, then the workspace's
`config.toml`, then defaults — in that order of precedence. No process-global state: a
:class:`Settings` value is built where it is needed and passed down."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pmle.errors import InvalidInput

ENV_PREFIX = "PMLE_"
CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class Settings:
    """Tunable settings of one workspace."""

    #: SQLAlchemy URL of the metadata store; empty means SQLite inside the workspace.
    metadata_url: str = ""
    #: How long a writer waits for a locked store (SQLite busy timeout, DuckDB lock retries).
    busy_timeout_s: float = 60.0
    #: DuckDB worker threads for the warehouse (0 = DuckDB's default, all cores).
    warehouse_threads: int = 0
    #: The feature store's online store: empty = SQLite inside the workspace, or a
    #: `redis://host:port/db` URL.
    online_store_url: str = ""
    #: Print tracebacks in the CLI.
    debug: bool = False

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values set."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


# The keys of config.toml: section.key -> Settings field.
_FILE_KEYS = {
    ("metadata", "url"): "metadata_url",
    ("metadata", "busy_timeout_s"): "busy_timeout_s",
    ("warehouse", "threads"): "warehouse_threads",
    ("features", "online_store"): "online_store_url",
    ("cli", "debug"): "debug",
}


def _coerce(field_name: str, value: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[field_name]
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"bad value {value!r} for {field_name} in {source}",
            hint=f"expected a {kind}",
        )


def read_config_file(path: Path) -> dict[str, Any]:
    """Settings fields found in a `config.toml` (missing file: none)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot parse {path}: {exc}", hint="fix or delete the file")
    out: dict[str, Any] = {}
    for (section, key), field_name in _FILE_KEYS.items():
        if isinstance(data.get(section), dict) and key in data[section]:
            out[field_name] = _coerce(field_name, data[section][key], str(path))
    return out


def read_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings fields given as `PMLE_<FIELD>` environment variables."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for f in fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in env:
            out[f.name] = _coerce(f.name, env[key], key)
    return out


def load_settings(
    config_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings for a workspace whose config lives in `config_dir`."""
    values: dict[str, Any] = {}
    if config_dir is not None:
        values.update(read_config_file(config_dir / CONFIG_FILE))
    values.update(read_env(environ))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
