"""Lab canary: deploying the `default` version, or the right ones with a wrong split, is named
for what it is; champion 90 / challenger 10 on a logging endpoint passes."""

from __future__ import annotations

from pathlib import Path

from pmle.exam import labs


def test_canary_lab(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    ws = labs.start("canary", folder)
    versions = {v.ref: v.aliases for v in ws.models.versions("churn")}
    assert versions == {
        "churn@1": ("default",),
        "churn@2": ("champion",),
        "churn@3": ("challenger",),
    }
    fresh = labs.check("canary", folder)
    assert [c.passed for c in fresh] == [False] * 4
    assert "pmle endpoints create churn" in fresh[0].detail

    # the `default` version, on an endpoint without logging
    ws.endpoints.create("churn")
    old = ws.endpoints.deploy("churn", "churn")
    wrong = labs.check("canary", folder)
    assert [c.passed for c in wrong] == [False, False, False, False]
    assert "logs nothing" in wrong[0].detail
    assert "churn@2 is not deployed" in wrong[1].detail
    assert f"churn@1 (id {old.id}, 100 %)" in wrong[3].detail

    ws.endpoints.update("churn", log_sampling=1.0)
    champion = ws.endpoints.deploy("churn", "churn@champion", traffic_percent=50)
    challenger = ws.endpoints.deploy("churn", "churn@challenger", traffic_percent=10)
    shares = labs.check("canary", folder)
    assert [c.passed for c in shares] == [True, False, True, False]
    assert "churn@2 gets 45 %" in shares[1].detail

    ws.endpoints.undeploy("churn", old.id)  # the rest keep their proportions: 82 / 18
    assert not labs.check("canary", folder)[1].passed
    ws.endpoints.set_traffic_split("churn", {champion.id: 90, challenger.id: 10})
    solved = labs.check("canary", folder)
    assert all(c.passed for c in solved), solved
    ws.close()
