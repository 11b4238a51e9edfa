"""The console benchmark's workload, shared by both sides (no pmle imports: the MLflow side
imports it in MLflow's venv): how many runs, models and pipeline runs, and what each holds."""

from __future__ import annotations

import math

RUNS = 1_000  # tracked runs, in one experiment
EXPERIMENT = "bench"
PARAMS = 5  # per run
METRICS = 5  # per run
STEPS = 10  # points per metric
MODELS = 100  # registered models
PIPELINE_RUNS = 50


def run_name(i: int) -> str:
    return f"trial-{i:04d}"


def params(i: int) -> dict[str, str]:
    return {f"p{k}": str((i * (k + 3)) % 97) for k in range(PARAMS)}


def metric(i: int, k: int, step: int) -> float:
    """A deterministic curve per run and metric."""
    return round(1.0 / (1 + step) + 0.01 * math.sin(i * 0.7 + k) + 0.001 * k, 6)


def model_name(i: int) -> str:
    return f"model-{i:03d}"
