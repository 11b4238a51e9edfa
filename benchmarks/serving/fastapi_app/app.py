"""The naive baseline: a plain FastAPI app calling the scikit-learn wrapper's predict_proba.

    BENCH_MODEL=work/fastapi/model.joblib uvicorn app:app --app-dir benchmarks/serving/fastapi_app

What a team writes in an afternoon: a pydantic request model, a DataFrame built per request, the
LGBMClassifier's `predict_proba`. Run by the harness under uvicorn (uvloop + httptools, one
worker, access log off). The handler is `async def`: the work is CPU-bound and the server has one
core, so a threadpool hop (`def`) would only add overhead; this is the faster of the two.
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["BENCH_MODEL"])
COLUMNS = list(model.feature_name_)

app = FastAPI()


class PredictRequest(BaseModel):
    instances: list[dict[str, float]]


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.post("/predict")
async def predict(req: PredictRequest) -> dict:
    X = pd.DataFrame(req.instances, columns=COLUMNS)
    return {"predictions": model.predict_proba(X)[:, 1].tolist()}
