"""The C API path gives exactly `Booster.predict`'s numbers, for one row and for batches."""

from __future__ import annotations

import threading

import lightgbm as lgb
import numpy as np
import pytest

from pmle.errors import InvalidInput
from pmle.serving.native import THREADED_ROWS, FastBooster


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 6))
    x[:, 0] = rng.integers(0, 4, size=800)
    x[::13, 2] = np.nan
    return x, x[:, 1] + (x[:, 0] == 2) + rng.normal(scale=0.3, size=800)


def _train(objective: str, x: np.ndarray, y: np.ndarray, **extra: object) -> lgb.Booster:
    params = {"objective": objective, "num_leaves": 15, "verbose": -1, "num_threads": 1, **extra}
    return lgb.train(params, lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=40)


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("raw", [False, True])
def test_same_numbers_as_booster_predict(data: tuple, objective: str, raw: bool) -> None:
    x, y = data
    target = {
        "binary": (y > 1).astype(int),
        "multiclass": np.digitize(y, [0, 1.5]),
        "regression": y,
    }
    extra = {"num_class": 3} if objective == "multiclass" else {}
    booster = _train(objective, x, target[objective], **extra)
    fast = FastBooster(booster, raw_score=raw)
    for rows in (x[:1], x[:37], x[: THREADED_ROWS + 10]):
        want = booster.predict(rows, raw_score=raw)
        got = fast.predict(rows)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_threads_each_get_their_own_single_row_config(data: tuple) -> None:
    x, y = data
    booster = _train("regression", x, y)
    fast = FastBooster(booster, raw_score=False)
    want = booster.predict(x[:200])
    got = np.empty(200)

    def work(start: int) -> None:
        for i in range(start, 200, 4):
            got[i] = fast.predict(x[i : i + 1])[0]

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(got, want)
    assert len(fast._configs) == 4


def test_wrong_width_and_fallback(data: tuple) -> None:
    x, y = data
    booster = _train("regression", x, y)
    fast = FastBooster(booster, raw_score=False)
    with pytest.raises(InvalidInput, match="takes 6 features, got 5"):
        fast.predict(x[:3, :5])
    fast._lib = None  # as when the C library cannot be reached
    np.testing.assert_array_equal(fast.predict(x[:5]), booster.predict(x[:5]))


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_compiled_trees_give_the_same_numbers(data: tuple, objective: str, tmp_path) -> None:
    from pmle.serving.native import compile_booster

    x, y = data
    target = {
        "binary": (y > 1).astype(int),
        "multiclass": np.digitize(y, [0, 1.5]),
        "regression": y,
    }
    extra = {"num_class": 3} if objective == "multiclass" else {}
    booster = _train(objective, x, target[objective], **extra)
    for raw in (False, True):
        compiled = compile_booster(booster, tmp_path, raw_score=raw)
        assert compiled is not None and compiled.library.is_file()
        for rows in (x[:1], x[:64]):
            # the same numbers to the last bits (a softmax may sum in another order)
            np.testing.assert_allclose(
                compiled.predict(rows), booster.predict(rows, raw_score=raw), rtol=0, atol=1e-12
            )
        fast = FastBooster(booster, raw_score=raw)
        fast.compiled = compiled
        np.testing.assert_allclose(
            fast.predict(x[:64]), booster.predict(x[:64], raw_score=raw), rtol=0, atol=1e-12
        )
        again = compile_booster(booster, tmp_path, raw_score=raw)  # from the cache
        assert again is not None and again.library == compiled.library
    # one machine-code file per booster and output kind, reused (by the hash of the model text)
    assert len(list(tmp_path.glob("*.o"))) == 2


@pytest.mark.parametrize("objective", ["binary", "multiclass"])
def test_compiled_trees_are_called_as_lleaves_calls_them(
    data: tuple, objective: str, tmp_path
) -> None:
    from pmle.serving.native import compile_booster

    x, y = data
    target = (y > 1).astype(int) if objective == "binary" else np.digitize(y, [0, 1.5])
    extra = {"num_class": 3} if objective == "multiclass" else {}
    compiled = compile_booster(_train(objective, x, target, **extra), tmp_path, raw_score=False)
    assert compiled is not None and compiled._entry is not None  # the direct call is used
    for rows in (x[:1], x[:2], x[:100], x[:499], x[::3][:77]):  # the last one not contiguous
        want = np.asarray(compiled._model.predict(np.ascontiguousarray(rows), n_jobs=1))
        got = compiled.predict(rows)
        assert got.shape == ((len(rows),) if objective == "binary" else (len(rows), 3))
        assert got.tobytes() == want.tobytes()  # bit for bit
    with pytest.raises(ValueError, match="Data must be of dimension"):
        compiled.predict(x[:5, :4])  # a wrong width goes to lleaves, which says so
    compiled._entry = None  # an lleaves keeping its function elsewhere: its own predict
    assert (
        compiled.predict(x[:100]).tobytes() == compiled._model.predict(x[:100], n_jobs=1).tobytes()
    )


def test_compile_failure_falls_back(data: tuple, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import lleaves

    from pmle.serving.native import compile_booster

    x, y = data
    booster = _train("regression", x, y)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("LLVM ERROR: out of memory")

    monkeypatch.setattr(lleaves.Model, "compile", broken)
    assert compile_booster(booster, tmp_path, raw_score=False) is None
    assert not list(tmp_path.glob("*.o"))  # nothing half-written left
    monkeypatch.setitem(sys.modules, "lleaves", None)  # the extra is not installed
    assert compile_booster(booster, tmp_path, raw_score=False) is None
