"""The question bank: YAML files of items (a list per file), shipped in the package's
`pmle/exam/bank/` folder or given as paths; loaded, validated, counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pmle.errors import InvalidInput
from pmle.exam.items import Item, Problem, check_bank

__all__ = ["bank_files", "load_bank", "stats"]


def bank_files() -> list[Path]:
    """The YAML files of the bank shipped with pmle (none yet is an empty bank)."""
    folder = Path(__file__).with_name("bank")
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _read(path: Path) -> list[dict[str, Any]]:
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InvalidInput(f"{path} must hold a list of items (mappings)")
    return data


def load_bank(paths: Iterable[str | Path] | None = None) -> tuple[list[Item], list[Problem]]:
    """The items of `paths` (files or folders of *.yaml; default the shipped bank) and every
    problem the validator finds."""
    files: list[Path] = []
    for given in paths if paths is not None else bank_files():
        path = Path(given)
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput(f"no item file or folder at {path}")
    raw: list[dict[str, Any]] = []
    for path in files:
        raw.extend(_read(path))
    return check_bank(raw)


def stats(items: list[Item]) -> dict[str, Any]:
    """Counts by objective, type, status and difficulty."""
    live = [i for i in items if i.status != "retired"]
    multiple = sum(1 for i in live if i.type == "multiple")
    reviewed = [i for i in live if i.status == "reviewed"]
    return {
        "items": len(live),
        "by_objective": dict(sorted(Counter(o for i in live for o in i.objectives).items())),
        "reviewed_by_objective": dict(
            sorted(Counter(o for i in reviewed for o in i.objectives).items())
        ),
        "by_status": dict(Counter(i.status for i in items)),
        "by_difficulty": dict(Counter(i.difficulty for i in live)),
        "multiple_select_share": multiple / len(live) if live else 0.0,
    }
