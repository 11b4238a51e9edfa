"""Lab `canary` (section 4, objective 4.1): a canary rollout. Setup registers three versions of
a churn model — an old one (still holding `default`), the `champion` and a `challenger` —
and the user serves champion and challenger on a new endpoint with a 90/10 traffic split."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.exam.labs.base import Check, Lab, Planted, fail, ok

if TYPE_CHECKING:
    import pandas as pd

    from pmle.serving.endpoints import EndpointInfo
    from pmle.workspace import Workspace

DATASET = "subscribers"
MODEL = ENDPOINT = "churn"
LABEL = "churned"
SPLIT = {"champion": 90, "challenger": 10}

LAB = Lab(
    id="canary",
    title="A canary rollout with a traffic split",
    section=4,
    objectives=("4.1",),
    summary="Serve the champion and a challenger on one endpoint, 90/10.",
    task=f"""
## Scenario

The model registry holds three versions of `{MODEL}` (a subscription-churn classifier): an
old one, the current `champion`, and a `challenger` retrained last week. Before the
challenger replaces the champion, the team wants it to answer a small share of real
requests: a canary rollout. Nothing serves `{MODEL}` yet.

## What to build

1. An endpoint named `{ENDPOINT}` that logs its requests and responses (the team compares the
   two models' answers from the log afterwards).
2. `{MODEL}@champion` deployed on it, and `{MODEL}@challenger` next to it, with the traffic
   split 90 % champion / 10 % challenger.

Look at the registry before deploying: the aliases tell which version is which (the
`default` alias is still on the old version).

## Success criteria

- the endpoint `{ENDPOINT}` exists and logs requests (a sampling rate above 0);
- the champion's version serves 90 % of the traffic, the challenger's 10 %;
- no other model takes traffic on it.
""",
    hints=(
        f"`pmle models show {MODEL}` lists the versions with their aliases.",
        f"`pmle endpoints create {ENDPOINT} --log-sampling 1.0` (or `pmle endpoints update "
        f"{ENDPOINT} --log-sampling 1.0` for an endpoint made without logging).",
        f"`pmle endpoints deploy {ENDPOINT} --model {MODEL}@champion` takes 100 %; then "
        f"`pmle endpoints deploy {ENDPOINT} --model {MODEL}@challenger --traffic 10` gives the "
        "new one 10 % and the others keep their proportions of the rest.",
        f"`pmle endpoints describe {ENDPOINT}` shows the deployed model ids and the split; "
        f"`pmle endpoints split {ENDPOINT} ID=90,ID=10` sets it whole, `pmle endpoints "
        f"undeploy {ENDPOINT} ID` removes a wrong deployment. Try it live with `pmle serve`.",
    ),
)


def subscribers(n: int, seed: int) -> pd.DataFrame:
    """`n` subscribers with whether they churned."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.35, 0.15])
    tenure = rng.integers(1, 72, n)
    fee = np.round(
        np.select([plan == "basic", plan == "standard"], [9.99, 15.99], 24.99)
        * rng.uniform(0.9, 1.1, n),
        2,
    )
    calls = rng.poisson(1.2, n)
    renew = rng.random(n) < 0.6
    score = -0.5 - 0.04 * tenure + 0.5 * calls - 1.0 * renew + 0.04 * fee
    return pd.DataFrame(
        {
            "plan": plan,
            "tenure_months": tenure,
            "monthly_fee": fee,
            "support_calls": calls,
            "auto_renew": renew,
            LABEL: np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "yes", "no"),
        }
    )


def setup(ws: Workspace, folder: Path) -> Planted:
    """The training data and three registered versions: old (default), champion, challenger."""
    import lightgbm as lgb

    frame = subscribers(1200, 41)
    dv = ws.datasets.import_(DATASET, frame, description="subscribers and whether they churned")
    x = frame.drop(columns=[LABEL]).astype({"plan": "category"})
    inputs = [dv.lineage_artifact_id] if dv.lineage_artifact_id else None
    refs = {}
    for role, trees, leaves in (("old", 10, 4), ("champion", 60, 15), ("challenger", 120, 7)):
        model = lgb.LGBMClassifier(
            n_estimators=trees, num_leaves=leaves, num_threads=1, verbose=-1, random_state=0
        ).fit(x, frame[LABEL])
        version = ws.models.register(
            MODEL,
            model,
            input_example=x.head(),
            inputs=inputs,
            execution="Train",
            aliases=[] if role == "old" else [role],
            description=f"{role}: LightGBM, {trees} trees of {leaves} leaves",
        )
        refs[role] = version.ref
    return Planted(facts={"versions": refs})


def check(ws: Workspace, facts: dict[str, Any]) -> list[Check]:
    """The endpoint with logging, the two shares, and nothing else taking traffic."""
    from pmle.errors import NotFound

    try:
        endpoint: EndpointInfo | None = ws.endpoints.get(ENDPOINT)
    except NotFound:
        endpoint = None
    planted = dict(facts.get("versions") or {})
    roles = {}
    for role in SPLIT:  # the alias as it is now; as planted when it was removed
        try:
            roles[role] = ws.models.get(f"{MODEL}@{role}").ref
        except NotFound:
            roles[role] = str(planted.get(role, f"{MODEL}@{role}"))
    name = f"the endpoint {ENDPOINT} logs requests"
    if endpoint is None:
        return [
            fail(
                name,
                f"no endpoint {ENDPOINT} yet; pmle endpoints create {ENDPOINT} --log-sampling 1.0",
            ),
            *[
                fail(f"{MODEL}@{role} ({ref}) serves {share} %", "needs the endpoint first")
                for (role, share), ref in zip(SPLIT.items(), roles.values(), strict=True)
            ],
            fail("no other model takes traffic", "needs the endpoint first"),
        ]
    if endpoint.log_sampling > 0:
        checks = [ok(name, f"sampling rate {endpoint.log_sampling:g}")]
    else:
        checks = [
            fail(name, f"it logs nothing; pmle endpoints update {ENDPOINT} --log-sampling 1.0")
        ]
    shares: dict[str, int] = {}
    ids: dict[str, list[str]] = {}
    for d in endpoint.deployed_models:
        shares[d.model] = shares.get(d.model, 0) + d.traffic_percent
        ids.setdefault(d.model, []).append(d.id)
    for role, share in SPLIT.items():
        ref = roles[role]
        name = f"{MODEL}@{role} ({ref}) serves {share} %"
        got = shares.get(ref)
        if got == share:
            checks.append(ok(name, f"{ref}: {got} %"))
        elif got is None:
            checks.append(
                fail(
                    name,
                    f"{ref} is not deployed on {ENDPOINT}; pmle endpoints "
                    f"deploy {ENDPOINT} --model {MODEL}@{role}",
                )
            )
        else:
            checks.append(
                fail(
                    name,
                    f"{ref} gets {got} %; set the split with pmle endpoints split {ENDPOINT} …",
                )
            )
    others = {m: s for m, s in shares.items() if m not in roles.values() and s > 0}
    name = "no other model takes traffic"
    if others:
        listed = ", ".join(f"{m} (id {', '.join(ids[m])}, {s} %)" for m, s in others.items())
        checks.append(
            fail(
                name, f"{listed} also serve(s); undeploy it (pmle endpoints undeploy {ENDPOINT} ID)"
            )
        )
    else:
        checks.append(ok(name, "only the champion and the challenger"))
    return checks
