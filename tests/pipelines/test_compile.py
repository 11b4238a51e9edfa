"""Loading pipelines: the compiled-text cache of `.py` files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pmle.pipelines import compile as compile_mod
from pmle.pipelines.compile import load_any_text

pytest.importorskip("kfp")

HELPER = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def add(a: int, b: int) -> int:
    return a + b
"""

PIPELINE = """
from kfp import dsl
from pmle_compile_helper import add


@dsl.pipeline(name="cached-compile")
def p(x: int = 1) -> int:
    return add(a=x, b=2).output
"""


def test_compiled_text_is_reused_until_a_local_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pmle_compile_helper.py").write_text(HELPER)
    path = tmp_path / "pipe.py"
    path.write_text(PIPELINE)
    monkeypatch.syspath_prepend(str(tmp_path))
    cache = tmp_path / "compiled"
    calls: list[Path] = []
    real = compile_mod._compile

    def counting(pipeline, where):
        calls.append(where)
        return real(pipeline, where)

    monkeypatch.setattr(compile_mod, "_compile", counting)
    spec, text = load_any_text(path, cache_dir=cache)
    assert spec.name == "cached-compile" and len(calls) == 1
    again, same = load_any_text(path, cache_dir=cache)
    assert same == text and again.name == spec.name and len(calls) == 1  # from the cache
    assert len(list(cache.glob("*.json"))) == 1

    # the imported helper module changes: compiled again
    (tmp_path / "pmle_compile_helper.py").write_text(HELPER.replace("a + b", "a - b"))
    sys.modules.pop("pmle_compile_helper", None)
    _, changed = load_any_text(path, cache_dir=cache)
    assert len(calls) == 2 and "a - b" in changed and "a - b" not in text

    # a different function name of the same file is its own entry
    load_any_text(f"{path}:p", cache_dir=cache)
    assert len(calls) == 3
    # no cache_dir: always compiled
    load_any_text(path)
    assert len(calls) == 4
