"""Lab `sql-model` (section 1, objective 1.1): a classifier built, evaluated and used with
BigQuery ML statements (`pmle sql`) over a planted marketing-campaign table.

The data is synthetic (NumPy, fixed seeds): whether a customer subscribes depends on their
previous campaign's outcome, the contact channel, age, balance, job and how often they were
called. Held-out ROC AUC with every column (but the id) is about 0.84–0.86 for logistic
regression and boosted trees; leaving out the customers' history stays under 0.80.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.exam.labs.base import Check, Lab, Planted, fail, ok

if TYPE_CHECKING:
    import pandas as pd

    from pmle.workspace import Workspace

TABLE = "campaign"
PROSPECTS = "prospects"
SCORES = "prospect_scores"
LABEL = "subscribed"
MIN_AUC = 0.80
ROWS, PROSPECT_ROWS = 4000, 500

LAB = Lab(
    id="sql-model",
    title="A subscription classifier in SQL",
    section=1,
    objectives=("1.1",),
    summary="Train, evaluate and use a classifier with BigQuery ML statements (`pmle sql`).",
    task=f"""
## Scenario

A bank's marketing team called {ROWS:,} customers about a term deposit. The table `{TABLE}` (a
dataset in this workspace) holds what was known about each customer before the call, and
whether they subscribed (`{LABEL}`: yes / no). Next week the team calls the {PROSPECT_ROWS}
customers in `{PROSPECTS}` and wants them ranked by how likely each one is to subscribe. The
analysts work in SQL, so the model is built with BigQuery ML statements — in pmle, `pmle sql`.

## What to build

1. A classification model (`CREATE MODEL … OPTIONS(model_type=…, input_label_cols=[…])`)
   predicting `{LABEL}` from the other columns of `{TABLE}`. `customer_id` names a customer;
   it says nothing about them.
2. Its evaluation (`ML.EVALUATE`) on rows held out from training: the default split
   (AUTO_SPLIT) holds out 20 % of a table this size. An evaluation on the training rows
   (`data_split_method='NO_SPLIT'`) does not count.
3. Every prospect scored, kept as the table `{SCORES}`
   (`CREATE TABLE … AS SELECT … FROM ML.PREDICT(…)`).

## Success criteria

- a SQL classification model trained on `{TABLE}` with `{LABEL}` as its label;
- evaluated on held-out rows with ROC AUC ≥ {MIN_AUC:.2f};
- the table `{SCORES}` holds a `predicted_{LABEL}` for each of the {PROSPECT_ROWS} prospects.
""",
    hints=(
        f"Look at the data first: `pmle data show {TABLE}` and "
        f'`pmle sql "SELECT {LABEL}, count(*) FROM {TABLE} GROUP BY 1"`.',
        'A logistic regression is one statement: `pmle sql "CREATE MODEL subscribe '
        f"OPTIONS(model_type='LOGISTIC_REG', input_label_cols=['{LABEL}']) AS SELECT * "
        f'EXCEPT(customer_id) FROM {TABLE}"`.',
        'Read its held-out metrics: `pmle sql "SELECT * FROM ML.EVALUATE(MODEL subscribe)"` '
        "(roc_auc is a column). To try another model type (e.g. "
        "model_type='BOOSTED_TREE_CLASSIFIER'), use CREATE OR REPLACE MODEL subscribe: as in "
        "BigQuery, MODEL subscribe then reads the new model (the old one stays as version 1, "
        "MODEL `subscribe@1`).",
        f'Score the prospects into a table: `pmle sql "CREATE TABLE {SCORES} AS SELECT * FROM '
        f'ML.PREDICT(MODEL subscribe, TABLE {PROSPECTS})"`, then '
        f'`pmle sql "SELECT count(*) FROM {SCORES}"` and `pmle lab check sql-model`.',
    ),
)


def campaign(n: int, seed: int, first_id: int) -> pd.DataFrame:
    """`n` customers of the campaign with whether they subscribed (about 10 % did)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    jobs = [
        "admin",
        "blue-collar",
        "technician",
        "services",
        "management",
        "retired",
        "student",
        "unemployed",
    ]
    job = rng.choice(jobs, size=n, p=[0.2, 0.2, 0.17, 0.1, 0.15, 0.08, 0.05, 0.05])
    age = np.where(
        job == "retired",
        rng.integers(58, 86, n),
        np.where(job == "student", rng.integers(18, 29, n), rng.integers(22, 62, n)),
    )
    balance = np.round(rng.lognormal(7, 1.1, n) - 800, 0)
    calls = rng.integers(1, 9, n)
    days = np.where(rng.random(n) < 0.75, -1, rng.integers(1, 400, n))
    previous = np.where(days < 0, "none", rng.choice(["failure", "success"], n, p=[0.65, 0.35]))
    contact = rng.choice(["cellular", "telephone", "unknown"], size=n, p=[0.6, 0.25, 0.15])
    score = (
        0.9 * ((age < 26) | (age > 60))
        + 2.2 * (previous == "success")
        - 0.35 * np.maximum(calls - 2, 0)
        + 0.7 * (contact == "cellular")
        - 0.6 * (contact == "unknown")
        + np.log1p(np.maximum(balance, 0)) / np.log(20000)
        + 0.5 * (job == "management")
        - 0.4 * (job == "blue-collar")
    )
    p = 1 / (1 + np.exp(-(1.5 * score - 3.6)))
    return pd.DataFrame(
        {
            "customer_id": np.arange(first_id, first_id + n),
            "age": age,
            "job": job,
            "balance": balance,
            "contact": contact,
            "calls_this_campaign": calls,
            "days_since_last_contact": days,
            "previous_outcome": previous,
            LABEL: np.where(rng.random(n) < p, "yes", "no"),
        }
    )


def setup(ws: Workspace, folder: Path) -> Planted:
    """The campaign table and the prospects to score, as datasets."""
    ws.datasets.import_(
        TABLE, campaign(ROWS, 7, 100_001), description="term-deposit campaign: who subscribed"
    )
    prospects = campaign(PROSPECT_ROWS, 8, 200_001).drop(columns=[LABEL])
    ws.datasets.import_(PROSPECTS, prospects, description="customers to call next week")
    return Planted(facts={"prospects": PROSPECT_ROWS, "min_auc": MIN_AUC})


def _sql_models(ws: Workspace) -> list[tuple[Any, Any]]:
    """(version, SqlModel) of every SQL model version in the registry."""
    out = []
    for model in ws.models.list():
        for version in ws.models.versions(model.name):
            if version.flavor == "sqlml":
                out.append((version, ws.models.load(version.ref).native))
    return out


def _reads_table(version: Any) -> bool:
    inputs = (version.manifest.get("lineage") or {}).get("inputs") or []
    return any(str(i.get("name", "")).split("@")[0] == TABLE for i in inputs)


def check(ws: Workspace, facts: dict[str, Any]) -> list[Check]:
    """The model, its held-out evaluation and metric, and the scored prospects."""
    models = _sql_models(ws)
    ours = [(v, m) for v, m in models if _reads_table(v) and m.label == LABEL and m.classes]
    held_out = [(v, m) for v, m in ours if m.evaluation.get("split") == "evaluation"]
    return [
        _model_check(models, ours),
        _held_out_check(ours, held_out),
        _metric_check(held_out, float(facts.get("min_auc", MIN_AUC))),
        _scores_check(ws, int(facts.get("prospects", PROSPECT_ROWS))),
    ]


def _model_check(models: list[tuple[Any, Any]], ours: list[tuple[Any, Any]]) -> Check:
    name = f"a SQL classifier of {LABEL!r} trained on {TABLE}"
    if ours:
        return ok(name, "found " + ", ".join(f"{v.ref} ({m.model_type})" for v, m in ours))
    seen = ", ".join(f"{v.ref} ({m.model_type}, label {m.label})" for v, m in models)
    found = "no SQL model yet"
    if seen:
        found = f"none of the SQL models ({seen}) predicts {LABEL} from {TABLE}"
    return fail(
        name,
        f"{found}; run pmle sql \"CREATE MODEL … OPTIONS(model_type='LOGISTIC_REG', "
        f"input_label_cols=['{LABEL}']) AS SELECT … FROM {TABLE}\"",
    )


def _held_out_check(ours: list[tuple[Any, Any]], held_out: list[tuple[Any, Any]]) -> Check:
    name = "evaluated on held-out rows"
    if held_out:
        return ok(name, ", ".join(f"{v.ref}: {m.evaluation.get('rows')} rows" for v, m in held_out))
    if not ours:
        return fail(name, "needs the model first")
    return fail(
        name,
        "the models were evaluated on their training rows; train without "
        "data_split_method='NO_SPLIT' (AUTO_SPLIT holds out 20 %)",
    )


def _metric_check(held_out: list[tuple[Any, Any]], min_auc: float) -> Check:
    name = f"ROC AUC ≥ {min_auc:.2f} on the held-out rows"
    scored = [
        (float(m.evaluation.get("metrics", {}).get("roc_auc") or 0.0), v.ref) for v, m in held_out
    ]
    if not scored:
        return fail(name, "needs a model evaluated on held-out rows first")
    auc, ref = max(scored)
    if auc >= min_auc:
        return ok(name, f"{ref}: roc_auc {auc:.3f}")
    return fail(
        name,
        f"the best so far is {ref} with roc_auc {auc:.3f}; compare model types and features "
        "(SELECT * FROM ML.EVALUATE(MODEL …))",
    )


def _scores_check(ws: Workspace, prospects: int) -> Check:
    from pmle.storage.warehouse import quote_ident, quote_literal

    name = f"{prospects} prospects scored into the table {SCORES}"
    if SCORES not in ws.warehouse.tables():
        return fail(
            name,
            f'no table {SCORES} yet; run pmle sql "CREATE TABLE {SCORES} AS SELECT * FROM '
            f'ML.PREDICT(MODEL …, TABLE {PROSPECTS})"',
        )
    column = f"predicted_{LABEL}"
    with ws.warehouse.connect(read_only=True) as con:
        columns = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                f"AND table_name = {quote_literal(SCORES)}"
            ).fetchall()
        }
        if column not in columns:
            return fail(name, f"{SCORES} has no column {column}: keep ML.PREDICT's output columns")
        row = con.execute(
            f"SELECT count({quote_ident(column)}) FROM {quote_ident(SCORES)}"
        ).fetchone()
    filled = int(row[0]) if row else 0
    if filled != prospects:
        return fail(name, f"{SCORES} holds {filled} predictions; score all {prospects} prospects")
    return ok(name, f"{SCORES} holds {filled} predictions")
