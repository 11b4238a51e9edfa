"""Searching runs: the filter syntax, each kind of field, orderings, limits, bad filters."""

from __future__ import annotations

import pytest

from pmle.errors import InvalidInput, NotFound
from pmle.tracking.search import Clause, parse_filter, parse_order
from pmle.workspace import Workspace


def test_parse_filter() -> None:
    clauses = parse_filter(
        "metrics.auc > 0.8 and params.model = 'lgbm' AND tags.`team name` != \"a\" "
        "AND status IN ('FINISHED', 'FAILED') AND params.lr <= 1e-2 AND name LIKE 'cv-%'"
    )
    assert clauses == [
        Clause("metric", "auc", ">", 0.8),
        Clause("param", "model", "=", "lgbm"),
        Clause("tag", "team name", "!=", "a"),
        Clause("attribute", "status", "IN", ("FINISHED", "FAILED")),
        Clause("param", "lr", "<=", 0.01),
        Clause("attribute", "name", "LIKE", "cv-%"),
    ]
    assert parse_filter("  ") == []
    orders = parse_order(["metrics.auc DESC", "params.lr", "started_at asc"])
    assert [(o.kind, o.key, o.descending) for o in orders] == [
        ("metric", "auc", True),
        ("param", "lr", False),
        ("attribute", "started_at", False),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.auc >", "ends too early"),
        ("metrics.auc > 'high'", "compares with numbers"),
        ("colour = 'red'", "unknown run attribute 'colour'"),
        ("metrics.auc > 0.8 OR metrics.auc < 0.1", "OR is not supported"),
        ("metrics.auc ~ 3", "cannot read the filter at position 13"),
        ("params.model LIKE lgbm", "LIKE needs a quoted pattern"),
    ],
)
def test_bad_filters(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_filter(text)


@pytest.fixture
def grid(ws: Workspace) -> Workspace:
    """12 runs over models × learning rates, with auc depending on both."""
    for i, (model, lr) in enumerate((m, lr) for m in ("lgbm", "linear") for lr in (0.01, 0.1, 0.3)):
        for seed in range(2):
            with ws.tracking.start_run("grid", f"{model}-{lr}-{seed}") as run:
                run.log_params({"model": model, "lr": lr, "seed": seed})
                run.set_tag("family", "trees" if model == "lgbm" else "glm")
                run.log_metric("auc", 0.6 + i * 0.05 + seed * 0.01)
                if model == "lgbm":
                    run.log_metric("trees", 100 * (i + 1))
    with ws.tracking.start_run("other", "elsewhere") as run:
        run.log_metric("auc", 0.99)
    return ws


def test_search_by_each_field(grid: Workspace) -> None:
    runs = grid.tracking.runs
    names = lambda found: sorted(r.name for r in found)  # noqa: E731
    assert names(runs("grid", filter="metrics.auc >= 0.8")) == [
        "linear-0.1-0",
        "linear-0.1-1",
        "linear-0.3-0",
        "linear-0.3-1",
    ]
    assert len(runs("grid", filter="params.model = 'lgbm' AND params.lr < 0.2")) == 4
    assert len(runs("grid", filter="params.lr IN (0.01, 0.3)")) == 8  # as numbers
    assert len(runs("grid", filter="params.lr IN ('0.01')")) == 4  # as text
    assert len(runs("grid", filter="tags.family = 'glm'")) == 6
    assert len(runs("grid", filter="name LIKE 'lgbm-%-1'")) == 3
    assert len(runs("grid", filter="metrics.trees > 0")) == 6  # runs without it are out
    assert len(runs(None, filter="metrics.auc > 0.95")) == 1  # every experiment
    assert len(runs(["grid", "other"])) == 13
    assert runs("grid", filter="status = 'RUNNING'") == []


def test_order_and_limit(grid: Workspace) -> None:
    best = grid.tracking.runs("grid", order_by="metrics.auc DESC", max_results=3)
    assert [r.name for r in best] == ["linear-0.3-1", "linear-0.3-0", "linear-0.1-1"]
    worst = grid.tracking.runs("grid", order_by=["metrics.auc"], max_results=1)
    assert worst[0].name == "lgbm-0.01-0"
    # runs missing the metric sort last, either way
    by_trees = grid.tracking.runs("grid", order_by="metrics.trees DESC")
    assert [r.metrics.get("trees") for r in by_trees[:6]] == [300, 300, 200, 200, 100, 100]
    assert all("trees" not in r.metrics for r in by_trees[6:])
    frame = grid.tracking.runs_frame("grid", order_by="metrics.auc DESC", max_results=2)
    assert list(frame["run"]) == ["linear-0.3-1", "linear-0.3-0"]
    assert {"params.lr", "params.model", "metrics.auc"} <= set(frame.columns)
    assert "metrics.trees" not in frame.columns  # neither of the two logged it
    with pytest.raises(NotFound, match="no experiment named 'nope'"):
        grid.tracking.runs("nope")
    with pytest.raises(InvalidInput, match="max_results"):
        grid.tracking.runs("grid", max_results=0)
