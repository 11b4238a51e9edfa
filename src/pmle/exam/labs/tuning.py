"""Lab `tune-register` (section 3, objective 3.2): a hyperparameter tuning study over planted
loan data, and the best trial's model registered as the `champion`.

With the planted data a LightGBM on default settings reaches a validation ROC AUC of about
0.825 (under the bar of 0.83), while eight trials of a Bayesian search over learning rate,
leaves and minimum child samples reach 0.84.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.exam.labs.base import Check, Lab, Planted, fail, ok

if TYPE_CHECKING:
    import pandas as pd

    from pmle.workspace import Workspace

TRAIN, VALID = "loans_train", "loans_valid"
MODEL = "loans"
ALIAS = "champion"
LABEL = "defaulted"
MIN_TRIALS = 8
MIN_AUC = 0.83
TRAIN_ROWS, VALID_ROWS = 2000, 600

LAB = Lab(
    id="tune-register",
    title="Tune a model and register the champion",
    section=3,
    objectives=("3.2",),
    summary="Run a tuning study, then register its best trial's model as `champion`.",
    task=f"""
## Scenario

The credit-risk team's default model needs a refresh. The datasets `{TRAIN}` ({TRAIN_ROWS:,}
past loans) and `{VALID}` ({VALID_ROWS} later loans) are in this workspace; `{LABEL}` is 1
when the borrower defaulted. A LightGBM on default settings reaches a validation ROC AUC of
about 0.82; the team's bar for the next champion is {MIN_AUC}.

## What to build

1. A tuning study of at least {MIN_TRIALS} trials. Each trial trains on `{TRAIN}` with the
   trial's hyperparameters and reports its ROC AUC on `{VALID}`; the study maximises it.
2. The best trial's model registered as a version of the model `{MODEL}`, holding the alias
   `{ALIAS}` (the serving team deploys `{MODEL}@{ALIAS}`).
3. The model takes the columns of `{VALID}` (without `{LABEL}`) as they are: that is what
   the endpoint will receive.

## Success criteria

- a tuning study with ≥ {MIN_TRIALS} completed trials;
- `{MODEL}@{ALIAS}` is the model of a study's best trial;
- `{MODEL}@{ALIAS}` reaches ROC AUC ≥ {MIN_AUC} on `{VALID}` (the checker measures it).
""",
    hints=(
        "The search space as YAML (space.yaml): `learning_rate: {type: double, min: 0.01, "
        "max: 0.3, scale: log}`, `num_leaves: {type: integer, min: 4, max: 64}`, "
        "`min_child_samples: {type: integer, min: 5, max: 100}`. Then: `pmle tune create "
        f"loans-lgbm --space space.yaml --metric val_auc --max-trials {MIN_TRIALS}`.",
        "A trial is a Python function in tune.py, `def objective(trial):` — open the "
        "workspace (`pmle.open_workspace()`), read both datasets with "
        "`ws.datasets.to_pandas(...)`, make the text columns pandas `category`s, fit "
        "`lightgbm.LGBMClassifier(**trial.params)` inside `with trial.run.autolog():` (that "
        "keeps the trial's model), and return the ROC AUC on the validation rows "
        "(`sklearn.metrics.roc_auc_score`). Run it: `pmle tune run loans-lgbm --function "
        "tune.py:objective`.",
        f"Register the best trial's model: `pmle tune register loans-lgbm {MODEL}` prints the "
        f"new version (e.g. {MODEL}@1); then `pmle models alias {MODEL}@1 {ALIAS}`.",
        "`pmle tune show loans-lgbm` lists the trials with their values; `pmle models show "
        f"{MODEL}@{ALIAS}` shows the champion. Missing the bar? Widen the space or run a new "
        "study with more trials.",
    ),
)


def loans(n: int, seed: int) -> pd.DataFrame:
    """`n` loans with whether the borrower defaulted (about a quarter did)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10.6, 0.5, n), -2)
    amount = np.round(rng.lognormal(9.4, 0.7, n), -2)
    term = rng.choice([36, 60], n, p=[0.7, 0.3])
    credit = np.clip(np.round(rng.normal(680, 60, n)), 450, 850)
    years = np.clip(np.round(rng.exponential(5, n)), 0, 40)
    purposes = [
        "debt_consolidation",
        "credit_card",
        "home_improvement",
        "car",
        "small_business",
        "other",
    ]
    purpose = rng.choice(purposes, n, p=[0.4, 0.2, 0.12, 0.1, 0.06, 0.12])
    home = rng.choice(["rent", "mortgage", "own"], n, p=[0.45, 0.42, 0.13])
    ratio = amount / income
    score = (
        -2.2
        + 3.0 * np.maximum(ratio - 0.25, 0)
        + 0.9 * (term == 60)
        - 0.018 * (credit - 680)
        + 0.6 * (purpose == "small_business")
        - 0.3 * (home == "own")
        - 0.05 * np.minimum(years, 10)
        + 1.2 * ((credit < 600) & (ratio > 0.3))
    )
    p = 1 / (1 + np.exp(-score))
    return pd.DataFrame(
        {
            "annual_income": income,
            "loan_amount": amount,
            "term_months": term,
            "credit_score": credit,
            "employment_years": years,
            "purpose": purpose,
            "home_ownership": home,
            LABEL: (rng.random(n) < p).astype("int64"),
        }
    )


def setup(ws: Workspace, folder: Path) -> Planted:
    """The training and validation datasets."""
    ws.datasets.import_(TRAIN, loans(TRAIN_ROWS, 31), description="past loans, labelled")
    ws.datasets.import_(VALID, loans(VALID_ROWS, 32), description="later loans, labelled")
    return Planted(facts={"min_trials": MIN_TRIALS, "min_auc": MIN_AUC})


def check(ws: Workspace, facts: dict[str, Any]) -> list[Check]:
    """The study, the champion's origin and its validation ROC AUC."""
    from pmle.errors import NotFound

    min_trials = int(facts.get("min_trials", MIN_TRIALS))
    min_auc = float(facts.get("min_auc", MIN_AUC))
    studies = ws.tuning.studies()
    complete = {s.name: sum(1 for t in s.trials if t.state == "COMPLETE") for s in studies}
    tuned = [s for s in studies if complete[s.name] >= min_trials]
    checks = []
    name = f"a tuning study with ≥ {min_trials} completed trials"
    if tuned:
        checks.append(ok(name, ", ".join(f"{s.name}: {complete[s.name]}" for s in tuned)))
    elif studies:
        found = ", ".join(f"{n}: {c}" for n, c in complete.items())
        checks.append(
            fail(
                name,
                f"completed trials so far: {found}; a study needs "
                f"{min_trials} (pmle tune run STUDY …)",
            )
        )
    else:
        checks.append(
            fail(
                name,
                "no tuning study yet; pmle tune create STUDY --space … "
                f"--metric val_auc --max-trials {min_trials}",
            )
        )
    try:
        champion = ws.models.get(f"{MODEL}@{ALIAS}")
    except NotFound:
        champion = None
    name = f"{MODEL}@{ALIAS} is a study's best trial's model"
    if champion is None:
        checks.append(
            fail(
                name,
                f"no {MODEL}@{ALIAS} yet; pmle tune register STUDY {MODEL}, "
                f"then pmle models alias {MODEL}@VERSION {ALIAS}",
            )
        )
    else:
        checks.append(_origin(ws, champion.ref, tuned or studies))
    name = f"{MODEL}@{ALIAS} reaches ROC AUC ≥ {min_auc} on {VALID}"
    if champion is None:
        checks.append(fail(name, "needs the champion first"))
    else:
        auc, problem = _validation_auc(ws, champion.ref)
        if problem is not None:
            checks.append(fail(name, problem))
        elif auc >= min_auc:
            checks.append(ok(name, f"{champion.ref}: {auc:.4f}"))
        else:
            checks.append(
                fail(
                    name,
                    f"{champion.ref}: {auc:.4f}; tune further (a wider space, "
                    "more trials) and register the new best",
                )
            )
    return checks


def _origin(ws: Workspace, ref: str, studies: list[Any]) -> Check:
    """Whether a study's best trial made `ref` (its run's lineage has it as an output)."""
    from pmle.errors import NotFound

    name = f"{MODEL}@{ALIAS} is a study's best trial's model"
    bests = []
    for study in studies:
        try:
            best = study.best_trial
        except NotFound:
            continue
        if best.run_id is None:
            continue
        made = {i[2:] for i in ws.tracking.run(best.run_id).inputs if i.startswith("→ ")}
        if ref in made:
            return ok(
                name,
                f"{ref} is the model of trial {best.number} of {study.name} "
                f"(value {best.value:.4f})",
            )
        bests.append(f"trial {best.number} of {study.name}")
    if not bests:
        return fail(name, f"{ref} holds the alias, but no study has a completed trial yet")
    return fail(
        name,
        f"{ref} holds the alias, but it is not the model of a best trial "
        f"({', '.join(bests)}); register it with pmle tune register STUDY "
        f"{MODEL} and move the alias to that version",
    )


def _validation_auc(ws: Workspace, ref: str) -> tuple[float, str | None]:
    """ROC AUC of the model on the validation dataset, or a reason it cannot be measured."""
    from sklearn.metrics import roc_auc_score

    from pmle.errors import PmleError

    loaded = ws.models.load(ref)
    classes = loaded.classes
    if loaded.task != "binary" or not classes or len(classes) != 2:
        return 0.0, f"{ref} is not a binary classifier (task {loaded.task})"
    frame = ws.datasets.to_pandas(VALID)
    try:
        proba = loaded.predict_proba(frame.drop(columns=[LABEL]))
    except PmleError as exc:
        return 0.0, f"{ref} cannot score the columns of {VALID}: {exc.message}"
    positive = frame[LABEL].astype(str) == str(classes[1])
    return float(roc_auc_score(positive, proba[:, 1])), None
