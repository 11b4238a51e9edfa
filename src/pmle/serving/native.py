"""LightGBM prediction straight through its C API, without the Python wrapper's per-call work.

`Booster.predict` converts and checks its input, builds a parameter string and a predictor on
every call: for one row that costs several times the trees themselves. Here a single row goes
through `LGBM_BoosterPredictForMatSingleRowFast` (its configuration prepared once per thread)
and a batch through one `LGBM_BoosterPredictForMat` call on a contiguous float64 matrix. The
numbers are LightGBM's own: the same C code computes them, so predictions are identical. When
the C library cannot be reached this falls back to `Booster.predict`.

A deployment can also ask for compiled trees (`compile_booster`): lleaves turns the booster
into machine code through LLVM, used for batches of rows.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: transformed output (probabilities)
_PREDICT_RAW = 1  # C_API_PREDICT_RAW_SCORE
#: From this many rows on, LightGBM's own threads pay off.
THREADED_ROWS = 500
#: From this many rows on, compiled trees (when deployed with compile) beat the C API call.
COMPILED_ROWS = 2


def _lib() -> Any:
    try:
        from lightgbm.basic import _LIB

        _LIB.LGBM_BoosterPredictForMatSingleRowFastInit  # noqa: B018 - present since 3.0
        return _LIB
    except (ImportError, AttributeError, OSError):
        return None


class FastBooster:
    """Predicts with a LightGBM Booster through the C API (raw scores or transformed output)."""

    def __init__(self, booster: Any, *, raw_score: bool) -> None:
        self.booster = booster
        self.raw_score = raw_score
        self.num_features = int(booster.num_feature())
        self.num_outputs = int(booster.num_model_per_iteration())
        self._lib = _lib()
        self._type = _PREDICT_RAW if raw_score else _PREDICT_NORMAL
        self._local = threading.local()
        self._configs: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        #: Compiled trees for batches, when the deployment asked for them.
        self.compiled: CompiledTrees | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores for a (rows × features) matrix: shape (rows,) or (rows, outputs)."""
        import numpy as np

        if self.compiled is not None and COMPILED_ROWS <= len(x) < THREADED_ROWS:
            return self.compiled.predict(x)
        if self._lib is None:
            threads = 1 if len(x) < THREADED_ROWS else 0
            return np.asarray(
                self.booster.predict(x, raw_score=self.raw_score, num_threads=threads)
            )
        x = np.ascontiguousarray(x, dtype=np.float64)
        n, k = x.shape[0], self.num_outputs
        if x.shape[1] != self.num_features:
            from pmle.errors import InvalidInput

            raise InvalidInput(f"the model takes {self.num_features} features, got {x.shape[1]}")
        out = np.empty(n * k, dtype=np.float64)
        out_len = ctypes.c_int64(0)
        # Raw addresses as void pointers: cheaper than numpy's typed `data_as`, same to C.
        out_ptr = ctypes.c_void_p(out.ctypes.data)
        data_ptr = ctypes.c_void_p(x.ctypes.data)
        if n == 1:
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                    self._config(), data_ptr, ctypes.byref(out_len), out_ptr
                )
            )
        else:
            params = b"num_threads=1" if n < THREADED_ROWS else b""
            self._check(
                self._lib.LGBM_BoosterPredictForMat(
                    self.booster._handle,
                    data_ptr,
                    ctypes.c_int(_DTYPE_FLOAT64),
                    ctypes.c_int32(n),
                    ctypes.c_int32(self.num_features),
                    ctypes.c_int(1),  # row major
                    ctypes.c_int(self._type),
                    ctypes.c_int(0),  # start iteration
                    ctypes.c_int(-1),  # all iterations (the saved text holds only the best)
                    ctypes.c_char_p(params),
                    ctypes.byref(out_len),
                    out_ptr,
                )
            )
        return out if k == 1 else out.reshape(n, k)

    def _config(self) -> ctypes.c_void_p:
        """This thread's prepared single-row configuration (not shareable between threads)."""
        config = getattr(self._local, "config", None)
        if config is None:
            config = ctypes.c_void_p()
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self.booster._handle,
                    ctypes.c_int(self._type),
                    ctypes.c_int(0),
                    ctypes.c_int(-1),
                    ctypes.c_int(_DTYPE_FLOAT64),
                    ctypes.c_int32(self.num_features),
                    ctypes.c_char_p(b"num_threads=1"),
                    ctypes.byref(config),
                )
            )
            with self._lock:
                self._configs.append(config)
            self._local.config = config
        return config

    def _check(self, code: int) -> None:
        if code != 0:
            from pmle.errors import InvalidInput

            message = self._lib.LGBM_GetLastError().decode("utf-8", errors="replace")
            raise InvalidInput(f"LightGBM could not predict: {message}")

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is None:
            return
        for config in getattr(self, "_configs", []):
            lib.LGBM_FastConfigFree(config)


class CompiledTrees:
    """A LightGBM booster compiled to machine code by lleaves (LLVM, through llvmlite: no C
    compiler needed).

    Worth it for batches of rows: the trees become branches in machine code, cache-blocked,
    instead of a walk over node arrays. Predictions equal `Booster.predict`'s to the last bits
    of a double (the tests allow 1e-12: a multiclass softmax is summed in another order)."""

    def __init__(self, library: Path, model_file: Path, *, raw_score: bool) -> None:
        import lleaves

        self.library = library
        self.raw_score = raw_score
        self._model = lleaves.Model(model_file=str(model_file))
        self._model.compile(cache=str(library), raw_score=raw_score)
        self.num_outputs = int(self._model.num_model_per_iteration())
        self.num_features = int(self._model.num_feature())
        self._entry = _entry_point(self._model)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores shaped like `Booster.predict`'s: (rows,) or (rows, outputs)."""
        import numpy as np

        x = np.ascontiguousarray(x, dtype=np.float64)
        n = x.shape[0]
        if (
            self._entry is not None
            and x.ndim == 2
            and x.shape[1] == self.num_features
            and n < 2**31 - 1  # lleaves' own limit (C int rows)
        ):
            # lleaves' own `predict` around the same call, minus its per-call conversions
            # (typed ctypes pointers, input checks): a tenth of the time of 100 rows.
            out = np.zeros(n * self.num_outputs, dtype=np.float64)
            self._entry(x.ctypes.data, out.ctypes.data, 0, n)
        else:
            out = np.asarray(self._model.predict(x, n_jobs=1))
        return out.reshape(n) if self.num_outputs == 1 else out.reshape(n, self.num_outputs)


def _entry_point(model: Any) -> Any:
    """The compiled forest's C function (data, results, start row, end row) taking raw
    addresses; None when this lleaves keeps it elsewhere (then its `predict` is used).

    The function is lleaves' own (`Model._c_entry_func`), called as lleaves calls it with
    `n_jobs=1`, through a ctypes prototype of plain addresses: ctypes releases the GIL during
    the call the same way."""
    func = getattr(model, "_c_entry_func", None)
    if func is None or not getattr(model, "use_fp64", True):
        return None
    try:
        address = ctypes.cast(func, ctypes.c_void_p).value
    except (TypeError, ctypes.ArgumentError):
        return None
    if not address:
        return None
    prototype = ctypes.CFUNCTYPE(
        None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32
    )
    return prototype(address)


def compile_booster(booster: Any, cache_dir: Path, *, raw_score: bool) -> CompiledTrees | None:
    """The booster compiled (cached by the hash of its text, the CPU and `raw_score`); None
    when lleaves is not installed or compiling fails — callers then keep the C API path."""
    import hashlib
    import logging
    import os
    import tempfile

    log = logging.getLogger("pmle.serving")
    try:
        import lleaves
    except ImportError:
        log.warning("lleaves is not installed (extra 'compiled'): serving without compiled trees")
        return None
    text = booster.model_to_string()
    # The code is built for this CPU (LLVM's host CPU and features), so the CPU is part of its
    # name: a workspace shared with another kind of machine compiles its own.
    kind = "raw" if raw_score else "output"
    key = hashlib.sha256((text + kind + _cpu_identity()).encode("utf-8")).hexdigest()[:32]
    library = cache_dir / f"lightgbm-{key}.o"
    model_file = cache_dir / f"lightgbm-{key}.txt"
    try:
        if not library.is_file() or not model_file.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
                text_file = Path(tmp) / model_file.name
                text_file.write_text(text, encoding="utf-8")
                built = Path(tmp) / library.name
                lleaves.Model(model_file=str(text_file)).compile(
                    cache=str(built), raw_score=raw_score
                )
                # other processes see a whole file or none (the text first: the code's
                # presence means both are there)
                os.replace(text_file, model_file)
                os.replace(built, library)
        return CompiledTrees(library, model_file, raw_score=raw_score)
    except Exception as exc:  # a model lleaves cannot read, an LLVM failure, ...
        log.warning("could not compile the trees, serving without: %s", exc)
        return None


def _cpu_identity() -> str:
    """The machine and the CPU's model and feature flags (what -march=native compiles for)."""
    import platform

    parts = [platform.machine()]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags", "Features")):
                parts.append(line)
            if line.strip() == "":
                break  # the first processor is enough
    except OSError:
        parts.append(platform.processor())
    return "\n".join(parts)
