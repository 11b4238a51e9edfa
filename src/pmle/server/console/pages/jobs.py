"""The console's jobs pages: training jobs (state, runner, data, model, exit code) a page at a
time, one job with its command, resources and log tail (and cancelling it while it runs);
tuning studies and their trials, with a chart of the objective by trial."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pmle.server.console.pages.pipelines import tail, whole_x
from pmle.server.console.paging import PER_PAGE, open_ended
from pmle.server.console.router import Ctx, Reply, action, page, redirect

if TYPE_CHECKING:
    from pmle.training.tuning import Study, TrialInfo


def _best(study: Study, trials: list[TrialInfo]) -> TrialInfo | None:
    done = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    if not done:
        return None
    pick = max if study.goal == "maximize" else min
    return pick(done, key=lambda t: t.value if t.value is not None else 0.0)


def _summary(study: Study) -> dict[str, Any]:
    trials = study.trials
    best = _best(study, trials)
    return {
        "name": study.name,
        "metric": study.metric,
        "goal": study.goal,
        "algorithm": study.algorithm,
        "experiment": study.experiment,
        "trials": len(trials),
        "finished": sum(1 for t in trials if t.state in {"COMPLETE", "PRUNED", "FAIL"}),
        "running": sum(1 for t in trials if t.state == "RUNNING"),
        "max_trials": study.max_trials,
        "best": best,
    }


@page("/jobs")
def jobs(c: Ctx) -> Reply:
    ws = c.ws
    number = c.int_arg("page", 1, lo=1)
    found = ws.jobs.list(limit=PER_PAGE + 1, offset=(number - 1) * PER_PAGE)
    return c.render(
        "jobs.html",
        jobs=found[:PER_PAGE],
        studies=[_summary(s) for s in ws.tuning.studies()],
        pager=open_ended(c, number, len(found) > PER_PAGE),
    )


@page(r"/jobs/(?P<job_id>\d{1,18})")
def job_page(c: Ctx, job_id: str) -> Reply:
    from pmle.training.jobs import command_line

    job = c.ws.jobs.get(job_id)
    return c.render("jobs_job.html", job=job, command=command_line(job), log=tail(job.log_path))


@action(r"/jobs/(?P<job_id>\d{1,18})/cancel")
def cancel(c: Ctx, job_id: str) -> Reply:
    job = c.ws.jobs.cancel(job_id)
    return redirect(f"/jobs/{job.id}", f"Job {job.id} is {job.state}.")


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


@page(r"/jobs/studies/(?P<name>[^/]+)")
def study_page(c: Ctx, name: str) -> Reply:
    from pmle.server.console import charts

    study = c.ws.tuning.study(name)
    summary = _summary(study)
    trials = sorted(study.trials, key=lambda t: t.number)
    rows: list[dict[str, Any]] = []
    best_so_far: float | None = None
    better = (lambda a, b: a > b) if study.goal == "maximize" else (lambda a, b: a < b)
    for t in trials:
        value = _finite(t.value)
        if t.state != "COMPLETE" or value is None:
            continue
        rows.append({"trial": t.number, "value": value, "series": "trial"})
        if best_so_far is None or better(value, best_so_far):
            best_so_far = value
        rows.append({"trial": t.number, "value": best_so_far, "series": "best so far"})
    spec = None
    if rows:
        spec = whole_x(
            charts.line(
                f"{study.metric} by trial ({study.goal})",
                rows,
                "trial",
                "value",
                color="series",
                y_title=study.metric,
            )
        )
    number = c.int_arg("page", 1, lo=1)
    start = (number - 1) * PER_PAGE
    params = [p.name for p in study.parameters]
    return c.render(
        "jobs_study.html",
        study=study,
        summary=summary,
        space=[p.to_dict() | {"name": p.name} for p in study.parameters],
        params=params,
        trials=trials[start : start + PER_PAGE],
        chart_spec=spec,
        pager=open_ended(c, number, start + PER_PAGE < len(trials)),
    )
