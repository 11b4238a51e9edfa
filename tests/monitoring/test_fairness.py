"""Fairness reports with real LightGBM models, checked against independent numpy computations
and Vertex AI's worked examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput, NotFound
from pmle.monitoring.fairness_metrics import (
    REST,
    FairnessReport,
    card_section,
    compute,
    slice_metrics,
)
from pmle.workspace import Workspace

N = 3000


def planted(seed: int, n: int = N) -> tuple[pd.DataFrame, pd.Series]:
    """A score `x`, a group `c` (70 % p, 30 % q) and a label that depends on `x` only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    c = rng.choice(["p", "q"], size=n, p=[0.7, 0.3])
    y = np.where(x + rng.normal(scale=0.3, size=n) > 0, "yes", "no")
    return pd.DataFrame({"x": x, "c": c}), pd.Series(y, name="label")


@pytest.fixture(scope="module")
def models(make_classifier: Any) -> dict[str, Any]:
    """`fair` learned the true labels; `biased` learned history that never selected group q."""
    table, y = planted(1)
    biased = y.where(table["c"] == "p", "no")
    return {"fair": make_classifier(table, y), "biased": make_classifier(table, biased)}


@pytest.fixture
def fair_ws(ws: Workspace, models: dict[str, Any]) -> Workspace:
    example = planted(0, 50)[0].assign(c=lambda d: d["c"].astype("category"))
    for name, model in models.items():
        ws.models.register(name, model, input_example=example)
    return ws


@pytest.fixture(scope="module")
def test_frame() -> pd.DataFrame:
    table, y = planted(2)
    return table.assign(label=y)


def by_hand(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, pos: Any) -> dict:
    """The metrics with plain numpy, from their definitions."""
    t, p = y_true == pos, y_pred == pos
    out: dict[str, Any] = {"groups": {}}
    for g in np.unique(groups):
        m = groups == g
        out["groups"][g] = {
            "count": int(m.sum()),
            "selection_rate": p[m].mean(),
            "accuracy": (y_true[m] == y_pred[m]).mean(),
            "tpr": (p & t & m).sum() / (t & m).sum(),
            "fpr": (p & ~t & m).sum() / (~t & m).sum(),
            "precision": (p & t & m).sum() / (p & m).sum() if (p & m).any() else None,
            "label_positive_rate": t[m].mean(),
        }
    sel = [v["selection_rate"] for v in out["groups"].values()]
    tpr = [v["tpr"] for v in out["groups"].values()]
    fpr = [v["fpr"] for v in out["groups"].values()]
    out["dpd"] = max(sel) - min(sel)
    out["dpr"] = min(sel) / max(sel)
    out["eod"] = max(max(tpr) - min(tpr), max(fpr) - min(fpr))
    return out


def assert_matches(report: FairnessReport, expected: dict) -> None:
    assert report.demographic_parity_difference == pytest.approx(expected["dpd"])
    assert report.demographic_parity_ratio == pytest.approx(expected["dpr"])
    assert report.equalized_odds_difference == pytest.approx(expected["eod"])
    assert {g.group for g in report.groups} == set(expected["groups"])
    for g in report.groups:
        want = expected["groups"][g.group]
        assert g.count == want["count"]
        for key, value in want.items():
            if key == "count":
                continue
            got = g.metrics[key]
            assert (got is None) if value is None else got == pytest.approx(value), (g.group, key)


# -- pure metrics ---------------------------------------------------------------------------------


def test_data_bias_metrics_match_vertex_worked_example() -> None:
    # Vertex AI data bias metrics page: 200 California applicants (60 accepted) in slice 1,
    # 100 Florida applicants (20 accepted) in slice 2.
    state = np.array(["CA"] * 200 + ["FL"] * 100)
    accepted = np.array([True] * 60 + [False] * 140 + [True] * 20 + [False] * 80)
    got = slice_metrics(accepted, accepted, state == "CA", state == "FL")
    assert got["difference_in_population_size"] == pytest.approx(100 / 300)
    assert got["difference_in_positive_proportions_in_true_labels"] == pytest.approx(0.3 - 0.2)


def test_model_bias_metrics_match_vertex_worked_example() -> None:
    # Vertex AI model bias metrics page: California tp 50 fn 10 fp 20 tn 120,
    # Florida tp 20 fn 0 fp 30 tn 50.
    def rows(tp: int, fn: int, fp: int, tn: int) -> tuple[list[bool], list[bool]]:
        truth = [True] * (tp + fn) + [False] * (fp + tn)
        pred = [True] * tp + [False] * fn + [True] * fp + [False] * tn
        return truth, pred

    t1, p1 = rows(50, 10, 20, 120)
    t2, p2 = rows(20, 0, 30, 50)
    in_1 = np.array([True] * 200 + [False] * 100)
    got = slice_metrics(np.array(t1 + t2), np.array(p1 + p2), in_1, ~in_1)
    assert got["accuracy_difference"] == pytest.approx(170 / 200 - 70 / 100)
    assert got["difference_in_positive_proportions_in_predicted_labels"] == pytest.approx(
        70 / 200 - 50 / 100
    )
    assert got["recall_difference"] == pytest.approx(50 / 60 - 20 / 20)
    assert got["specificity_difference"] == pytest.approx(120 / 140 - 50 / 80)
    assert got["difference_in_ratio_of_error_types"] == pytest.approx(10 / 20 - 0 / 30)


def test_compute_matches_numpy_on_three_groups() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    groups = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]).astype(object)
    truth = rng.choice(["no", "yes"], size=n).astype(object)
    rate = np.select([groups == "a", groups == "b"], [0.7, 0.4], 0.2)
    pred = np.where(rng.random(n) < rate, "yes", "no").astype(object)
    got = compute(truth, pred, groups, "yes")
    report = FairnessReport(
        model="m@1", sensitive="g", label="y", positive="yes", source="test", dropped_rows=0, **got
    )
    assert report.rows == n
    assert_matches(report, by_hand(truth, pred, groups, "yes"))
    assert [g.group for g in report.groups] == ["a", "b", "c"]  # largest first
    assert report.slices == ("a", "b")
    assert [g.share for g in report.groups] == pytest.approx([(groups == k).mean() for k in "abc"])
    # each group against the rest, and explicit slices as Vertex's bias_slices
    a = report.group("a")
    assert a.vs_rest["difference_in_population_size"] == pytest.approx(
        ((groups == "a").sum() - (groups != "a").sum()) / n
    )
    one = compute(truth, pred, groups, "yes", slices=("c",))
    assert one["slices"] == ("c", REST)
    assert one["slice_metrics"] == report.group("c").vs_rest
    two = compute(truth, pred, groups, "yes", slices=("c", "a"))
    t, p = truth == "yes", pred == "yes"
    assert two["slice_metrics"]["difference_in_positive_proportions_in_predicted_labels"] == (
        pytest.approx(p[groups == "c"].mean() - p[groups == "a"].mean())
    )
    assert two["slice_metrics"]["difference_in_positive_proportions_in_true_labels"] == (
        pytest.approx(t[groups == "c"].mean() - t[groups == "a"].mean())
    )
    with pytest.raises(InvalidInput, match="no group 'zz'"):
        compute(truth, pred, groups, "yes", slices=("zz",))


def test_undefined_rates_are_null_with_a_note() -> None:
    groups = np.array(["a"] * 40 + ["b"] * 40, dtype=object)
    truth = np.array(["yes", "no"] * 20 + ["no"] * 40, dtype=object)  # b: no positive labels
    pred = np.array(["yes"] * 80, dtype=object)
    got = compute(truth, pred, groups, "yes")
    b = next(g for g in got["groups"] if g.group == "b")
    assert b.metrics["tpr"] is None and b.metrics["fpr"] == 1.0
    assert any("'b' has no positive labels" in n for n in got["notes"])


@pytest.mark.parametrize(
    ("truth", "pred", "groups", "slices", "message"),
    [
        ([], [], [], (), "no rows"),
        (["yes", "no"], ["yes"], ["a", "b"], (), "differ in length"),
        (["yes", "no", "yes"], ["yes", "no", "no"], ["a", None, "b"], (), "missing values"),
        (["yes", "no"], ["yes", "no"], ["a", float("nan")], (), "missing values"),
        (["yes", "no", "no"], ["yes", "yes", "no"], ["a"] * 3, ("a",), "only group"),
    ],
)
def test_compute_refuses_what_it_cannot_measure(
    truth: list[Any], pred: list[Any], groups: list[Any], slices: tuple[str, ...], message: str
) -> None:
    as_array = [np.array(v, dtype=object) for v in (truth, pred, groups)]
    with pytest.raises(InvalidInput, match=message):
        compute(*as_array, "yes", slices=slices)
    # one group without slices is a report (no comparison), not an error
    one = compute(
        np.array(["yes", "no"], object), np.array(["yes", "yes"], object), ["a"] * 2, "yes"
    )
    assert one["slices"] is None and one["slice_metrics"] == {}


# -- the service ----------------------------------------------------------------------------------


def test_biased_model_has_a_large_parity_gap_and_a_fair_one_a_small(
    fair_ws: Workspace, models: dict[str, Any], test_frame: pd.DataFrame
) -> None:
    groups = test_frame["c"].to_numpy(dtype=object)
    truth = test_frame["label"].to_numpy(dtype=object)
    reports = {}
    for name in ("fair", "biased"):
        report = fair_ws.fairness.evaluate(name, test_frame, "c", label="label")
        pred = fair_ws.models.load(name).predict(test_frame).astype(object)
        assert_matches(report, by_hand(truth, pred, groups, "yes"))
        assert report.positive == "yes" and report.rows == N and report.model == f"{name}@1"
        reports[name] = report
    biased, fair = reports["biased"], reports["fair"]
    assert biased.demographic_parity_difference > 0.4
    assert biased.group("q").metrics["selection_rate"] < 0.05
    assert biased.equalized_odds_difference > 0.8
    assert fair.demographic_parity_difference < 0.1
    assert fair.equalized_odds_difference < 0.1
    # the labels themselves are balanced: the data bias metrics agree for both models
    for r in (fair, biased):
        assert r.slices == ("p", "q")
        assert r.slice_metrics["difference_in_population_size"] == pytest.approx(
            ((groups == "p").sum() - (groups == "q").sum()) / N
        )
        assert abs(r.slice_metrics["difference_in_positive_proportions_in_true_labels"]) < 0.06


def test_data_bias_through_the_service_on_vertex_example(fair_ws: Workspace) -> None:
    # The sensitive column need not be a model input.
    table, _ = planted(3, 300)
    frame = table.assign(
        state=["CA"] * 200 + ["FL"] * 100,
        admitted=["yes"] * 60 + ["no"] * 140 + ["yes"] * 20 + ["no"] * 80,
    )
    report = fair_ws.fairness.evaluate("fair", frame, "state", label="admitted")
    assert report.slices == ("CA", "FL")
    m = report.slice_metrics
    assert m["difference_in_population_size"] == pytest.approx(1 / 3)
    assert m["difference_in_positive_proportions_in_true_labels"] == pytest.approx(0.1)
    assert report.group("CA").metrics["label_positive_rate"] == pytest.approx(0.3)
    assert report.group("FL").share == pytest.approx(1 / 3)


def test_reads_datasets_files_and_tables(
    fair_ws: Workspace, test_frame: pd.DataFrame, tmp_path: Path
) -> None:
    expected = fair_ws.fairness.evaluate("biased", test_frame, "c", label="label", save=False)
    dv = fair_ws.datasets.import_("holdout", test_frame)
    csv = tmp_path / "holdout.csv"
    test_frame.to_csv(csv, index=False)
    fair_ws.warehouse.query_arrow('CREATE TABLE holdout_t AS SELECT * FROM "holdout@1"', False)
    for data, source in (
        ("holdout@1", "holdout@1"),
        ("holdout", "holdout@1"),
        (str(csv), str(csv)),
        (csv, str(csv)),
        ("holdout_t", "table holdout_t"),
    ):
        report = fair_ws.fairness.evaluate("biased", data, "c", label="label")
        assert report.source == source
        assert report.demographic_parity_difference == pytest.approx(
            expected.demographic_parity_difference
        )
        assert report.to_dict()["groups"] == expected.to_dict()["groups"]
    assert dv.num_rows == N
    with pytest.raises(NotFound, match="no dataset named"):
        fair_ws.fairness.evaluate("biased", "nosuch", "c", label="label")
    with pytest.raises(InvalidInput, match="no such file"):
        fair_ws.fairness.evaluate("biased", tmp_path / "nosuch.csv", "c", label="label")


def test_missing_labels_and_groups(fair_ws: Workspace, test_frame: pd.DataFrame) -> None:
    frame = test_frame.head(200).astype({"c": object, "label": object})
    frame.loc[:9, "label"] = None
    frame.loc[10:19, "c"] = None
    report = fair_ws.fairness.evaluate("fair", frame, "c", label="label")
    assert report.rows == 190 and report.dropped_rows == 10
    assert report.group("(missing)").count == 10
    assert any("10 rows without a label" in n for n in report.notes)
    assert any("'(missing)' has only 10 rows" in n for n in report.notes)
    # a nullable integer column's pd.NA is a missing group too
    codes = pd.array([1, 2, None] * 60 + [1] * 20, dtype="Int64")
    report = fair_ws.fairness.evaluate("fair", frame.assign(k=codes), "k", label="label")
    assert {g.group for g in report.groups} == {"1", "2", "(missing)"}


def test_labels_match_classes_across_types(ws: Workspace) -> None:
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"x": rng.normal(size=400)})
    clf = lgb.LGBMClassifier(n_estimators=10, num_threads=1, verbose=-1, min_child_samples=5)
    ws.models.register("ints", clf.fit(x, (x["x"] > 0).astype(int)), input_example=x)
    frame = x.assign(g=rng.choice(["u", "v"], 400), y=np.where(x["x"] > 0, "1", "0"))
    report = ws.fairness.evaluate("ints", frame, "g", label="y", positive="1")
    assert report.positive == 1  # the model's class, not the text given
    assert min(g.metrics["accuracy"] or 0 for g in report.groups) > 0.9
    with pytest.raises(InvalidInput, match="none of the model's classes"):
        ws.fairness.evaluate("ints", frame.assign(y="maybe"), "g", label="y")
    with pytest.raises(InvalidInput, match="not a class"):
        ws.fairness.evaluate("ints", frame, "g", label="y", positive="2")


def test_errors(fair_ws: Workspace, test_frame: pd.DataFrame) -> None:
    ws = fair_ws
    with pytest.raises(InvalidInput, match="no sensitive column 'gender'") as err:
        ws.fairness.evaluate("fair", test_frame, "gender", label="label")
    assert "label" in (err.value.hint or "")
    with pytest.raises(InvalidInput, match="does not record its target"):
        ws.fairness.evaluate("fair", test_frame, "c")
    with pytest.raises(InvalidInput, match="no label column 'y'"):
        ws.fairness.evaluate("fair", test_frame, "c", label="y")
    with pytest.raises(InvalidInput, match="distinct values"):
        ws.fairness.evaluate("fair", test_frame, "x", label="label")
    with pytest.raises(InvalidInput, match="cannot read fairness data"):
        ws.fairness.evaluate("fair", [1, 2], "c", label="label")
    with pytest.raises(NotFound):
        ws.fairness.evaluate("nosuch", test_frame, "c", label="label")
    # a regressor has no decisions to compare
    x = test_frame[["x"]]
    reg = lgb.LGBMRegressor(n_estimators=5, num_threads=1, verbose=-1).fit(x, x["x"] * 2)
    ws.models.register("reg", reg, input_example=x)
    with pytest.raises(InvalidInput, match="regression model: fairness metrics") as err:
        ws.fairness.evaluate("reg", test_frame, "c", label="label")
    assert "classifier" in err.value.message
    # a multiclass model needs the favourable class named
    y3 = pd.cut(x["x"], [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"]).astype(str)
    multi = lgb.LGBMClassifier(n_estimators=5, num_threads=1, verbose=-1).fit(x, y3)
    ws.models.register("multi", multi, input_example=x)
    frame = test_frame.assign(y3=y3)
    with pytest.raises(InvalidInput, match="multiclass model") as err:
        ws.fairness.evaluate("multi", frame, "c", label="y3")
    assert "hi" in (err.value.hint or "")
    report = ws.fairness.evaluate("multi", frame, "c", label="y3", positive="hi")
    pred = ws.models.load("multi").predict(frame).astype(object)
    assert_matches(
        report, by_hand(y3.to_numpy(dtype=object), pred, frame["c"].to_numpy(object), "hi")
    )
    assert ws.fairness.list("reg") == []


def test_stored_listed_and_rendered(fair_ws: Workspace, test_frame: pd.DataFrame) -> None:
    ws = fair_ws
    with pytest.raises(NotFound, match="no fairness report") as err:
        ws.fairness.latest("biased")
    assert "pmle fairness biased" in (err.value.hint or "")
    first = ws.fairness.evaluate("biased", test_frame, "c", label="label")
    ws.fairness.evaluate("biased", test_frame, "c", label="label", save=False)
    second = ws.fairness.evaluate("biased", test_frame.head(1000), "c", label="label")
    listed = ws.fairness.list("biased")
    assert [r.id for r in listed] == [second.id, first.id]
    assert listed[1].to_dict() == first.to_dict()  # round trip through the database
    assert listed[1].created_at is not None and listed[1].created_at.tzinfo is not None
    assert ws.fairness.latest("biased@1", sensitive="c").id == second.id
    with pytest.raises(NotFound):
        ws.fairness.latest("biased", sensitive="x")
    assert ws.fairness.list("fair") == []
    # the card shows the newest report per (column, source)
    assert [r.id for r in ws.fairness.for_card("biased")] == [second.id]
    section = card_section(ws.fairness.for_card("biased"))
    assert section.startswith("## Fairness")
    assert "Sensitive column `c`" in section and "Demographic parity difference: **" in section
    assert "| q | " in section and "`p` vs `q`" in section
    assert "No fairness report yet" in card_section([])


def test_automl_target_is_the_default_label(ws: Workspace, churn_csv: Path) -> None:
    from pmle.automl.job import train

    ws.datasets.import_("churn", churn_csv)
    train(ws, "churn", "churn", model="churn", budget=4, n_jobs=1)
    report = ws.fairness.evaluate("churn", "churn", "senior_citizen")
    assert report.label == "churn" and report.positive == "Yes"
    assert {g.group for g in report.groups} == {"0", "1"}
    frame = ws.datasets.to_pandas("churn")
    pred = ws.models.load("churn").predict(frame).astype(object)
    assert_matches(
        report,
        by_hand(
            frame["churn"].to_numpy(object),
            pred,
            frame["senior_citizen"].astype(str).to_numpy(object),
            "Yes",
        ),
    )
