"""The tracking benchmark's MLflow side: the workload of workload.py through `MlflowClient`
on a SQLite tracking store, in MLflow's own venv (benchmarks/.venvs/serving-mlflow).

    benchmarks/.venvs/serving-mlflow/bin/python benchmarks/tracking/mlflow_side.py
        [--runs N] [--single-runs N] [--reps N]
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

# no usage telemetry thread (it could only add time to MLflow's side)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402

#: MLflow's own cap on search_runs' max_results (SEARCH_MAX_RESULTS_THRESHOLD): "all"
ALL = 50_000


class MlflowSide:
    name = "mlflow"

    def versions(self) -> dict[str, str]:
        import mlflow
        import pandas
        import sqlalchemy

        return {
            "mlflow": mlflow.__version__,
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__,
            "sqlite": __import__("sqlite3").sqlite_version,
            "pandas": pandas.__version__,
        }

    def open(self, folder: Path) -> None:
        import mlflow
        from mlflow import MlflowClient

        self.folder = folder
        os.chdir(folder)  # MLflow's default artifact root is ./mlruns
        self.uri = f"sqlite:///{folder / 'mlflow.db'}"
        mlflow.set_tracking_uri(self.uri)
        self.mlflow = mlflow
        self.client = MlflowClient(self.uri)
        self.client.search_experiments()  # creates and migrates the database

    def create_experiment(self, name: str) -> str:
        return self.client.create_experiment(
            name, artifact_location=(self.folder / "artifacts" / name).as_uri()
        )

    def batch_run(self, experiment: str, name: str, params: dict, metrics: dict) -> str:
        from mlflow.entities import Metric, Param

        run = self.client.create_run(experiment, run_name=name)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        self.client.set_terminated(run_id)
        return run_id

    def single_run(self, experiment: str, name: str, params: dict, metrics: dict) -> float:
        from mlflow.entities import Param

        run_id = self.client.create_run(experiment, run_name=name).info.run_id
        self.client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
        started = time.perf_counter()
        for key, value in metrics.items():
            self.client.log_metric(run_id, key, value, step=0)
        spent = time.perf_counter() - started
        self.client.set_terminated(run_id)
        return spent

    def curve_run(self, experiment: str, name: str, key: str, values: list[float]) -> str:
        from mlflow.entities import Metric

        run_id = self.client.create_run(experiment, run_name=name).info.run_id
        now = int(time.time() * 1000)
        points = [Metric(key, v, now, step) for step, v in enumerate(values)]
        for start in range(0, len(points), 1000):  # log_batch takes 1,000 metrics at most
            self.client.log_batch(run_id, metrics=points[start : start + 1000])
        self.client.set_terminated(run_id)
        return run_id

    def search(self, experiment: str, filter: str, order_by: str | None, limit: int | None) -> Any:
        return self.client.search_runs(
            [experiment],
            filter_string=filter,
            order_by=[order_by] if order_by else None,
            max_results=limit or ALL,
        )

    def search_frame(self, experiment: str, filter: str) -> Any:
        return self.mlflow.search_runs(experiment_ids=[experiment], filter_string=filter)

    def get_run(self, run_id: str) -> Any:
        return self.client.get_run(run_id)

    def history(self, run_id: str, key: str) -> Any:
        return self.client.get_metric_history(run_id, key)

    def names(self, found: Any) -> list[str]:
        return [r.info.run_name for r in found]

    def run_shape(self, run: Any) -> tuple[int, int]:
        return len(run.data.params), len(run.data.metrics)

    def store_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("mlflow.db*"))

    def close(self) -> None:
        from mlflow.tracking._tracking_service.utils import _get_store

        engine = getattr(_get_store(self.uri), "engine", None)
        if engine is not None:
            engine.dispose()
        os.chdir(HERE)


if __name__ == "__main__":
    raise SystemExit(workload.main(MlflowSide()))
