"""A workspace: one folder holding the metadata database, the artifact store and the warehouse.

It is found like git finds `.git`: the `.pmle` folder in the current directory or the nearest
one above it, unless `PMLE_WORKSPACE` or an explicit path says otherwise.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.config import CONFIG_FILE, Settings, load_settings
from pmle.errors import AlreadyExists, InvalidInput, WorkspaceNotFound

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine

    from pmle.data.datasets import Datasets
    from pmle.exam.attempts import Trainer
    from pmle.features import FeatureStore
    from pmle.models.registry import Registry
    from pmle.monitoring.explanations import Explanations
    from pmle.monitoring.fairness import Fairness
    from pmle.monitoring.monitors import Monitors
    from pmle.pipelines.runs import Pipelines
    from pmle.pipelines.schedules import Schedules
    from pmle.serving.endpoints import Endpoints
    from pmle.serving.tokens import Tokens
    from pmle.sqlml.engine import SqlSession
    from pmle.storage.artifacts import ArtifactStore
    from pmle.storage.lineage import Lineage
    from pmle.storage.warehouse import Warehouse
    from pmle.tracking import Tracking
    from pmle.training import Jobs
    from pmle.training.tuning import Studies

DIRNAME = ".pmle"
ENV_VAR = "PMLE_WORKSPACE"

_CONFIG_TEMPLATE = """\
# pmle workspace settings. PMLE_* environment variables override these.

[metadata]
# SQLAlchemy URL of the metadata database; empty = SQLite in this folder.
# url = "postgresql+psycopg://user@host/pmle"
# busy_timeout_s = 60

[warehouse]
# DuckDB threads; 0 = all cores.
# threads = 0

[features]
# The online store of the feature store; empty = SQLite in this folder.
# online_store = "redis://localhost:6379/0"
"""


def _state_dir(path: Path) -> Path:
    """Accept either a project folder or its `.pmle` folder."""
    return path if path.name == DIRNAME else path / DIRNAME


def find_workspace(start: str | os.PathLike[str] | None = None) -> Path:
    """The `.pmle` folder for `start` (default: `PMLE_WORKSPACE`, else the current directory)."""
    if start is None and os.environ.get(ENV_VAR):
        state = _state_dir(Path(os.environ[ENV_VAR]).expanduser().resolve())
        if not state.is_dir():
            raise WorkspaceNotFound(
                f"{ENV_VAR} points to {state.parent}, which holds no pmle workspace",
                hint=f"run `pmle init {state.parent}` or fix {ENV_VAR}",
            )
        return state
    here = Path(start if start is not None else os.getcwd()).expanduser().resolve()
    if start is not None:
        state = _state_dir(here)
        if state.is_dir():
            return state
    for folder in (here, *here.parents):
        if (folder / DIRNAME).is_dir():
            return folder / DIRNAME
    raise WorkspaceNotFound(
        f"no pmle workspace in {here} or any folder above it",
        hint="run `pmle init` to create one here, or set PMLE_WORKSPACE",
    )


class Workspace:
    """An open workspace. Stores are opened lazily, on first use."""

    def __init__(self, state_dir: Path, settings: Settings | None = None) -> None:
        self.state_dir = state_dir
        self.root = state_dir.parent
        self.settings = settings or load_settings(state_dir)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # -- stores ---------------------------------------------------------------------------------

    @property
    def metadata_url(self) -> str:
        """The SQLAlchemy URL of the metadata database."""
        return self.settings.metadata_url or f"sqlite:///{self.state_dir / 'metadata.db'}"

    @cached_property
    def engine(self) -> Engine:
        """The metadata database, migrated to the current schema."""
        from pmle.storage import metadata

        engine = metadata.create_engine(self.metadata_url, self.settings.busy_timeout_s)
        metadata.ensure_schema(engine, lock_path=self.state_dir / "migrate.lock")
        return engine

    @cached_property
    def artifacts(self) -> ArtifactStore:
        """The content-addressed artifact store."""
        from pmle.storage.artifacts import ArtifactStore

        return ArtifactStore(self.state_dir / "artifacts")

    @cached_property
    def warehouse(self) -> Warehouse:
        """The DuckDB warehouse, with every dataset version as a view."""
        from pmle.storage.warehouse import Warehouse

        return Warehouse(
            self.state_dir / "warehouse.duckdb",
            views=self._views,
            busy_timeout_s=self.settings.busy_timeout_s,
            threads=self.settings.warehouse_threads,
        )

    def _views(self) -> list[tuple[str, str]]:
        from pmle.serving.request_log import log_view

        return [*self.datasets.views(), *log_view(self.prediction_log_dir)]

    @property
    def prediction_log_dir(self) -> Path:
        """Where servers append request-response logs (Parquet files, one folder each)."""
        return self.state_dir / "logs" / "predictions"

    @cached_property
    def lineage(self) -> Lineage:
        """The lineage graph."""
        from pmle.storage.lineage import Lineage

        return Lineage(self.engine)

    # -- capabilities -----------------------------------------------------------------------------

    @cached_property
    def datasets(self) -> Datasets:
        """Versioned datasets."""
        from pmle.data.datasets import Datasets

        return Datasets(self)

    @cached_property
    def models(self) -> Registry:
        """The model registry."""
        from pmle.models.registry import Registry

        return Registry(self)

    @cached_property
    def endpoints(self) -> Endpoints:
        """Endpoints and their deployed models."""
        from pmle.serving.endpoints import Endpoints

        return Endpoints(self)

    @cached_property
    def monitors(self) -> Monitors:
        """Model monitors: skew, drift, attribution and performance, with alerts."""
        from pmle.monitoring.monitors import Monitors

        return Monitors(self)

    @cached_property
    def pipelines(self) -> Pipelines:
        """Kubeflow Pipelines v2 pipelines run locally, with a task cache and run records."""
        from pmle.pipelines.runs import Pipelines

        return Pipelines(self)

    @cached_property
    def pipeline_schedules(self) -> Schedules:
        """Pipeline runs at cron times and on monitor alerts (Vertex AI Pipelines schedules)."""
        from pmle.pipelines.schedules import Schedules

        return Schedules(self)

    @cached_property
    def jobs(self) -> Jobs:
        """Custom training jobs."""
        from pmle.training import Jobs

        return Jobs(self)

    @cached_property
    def tuning(self) -> Studies:
        """Hyperparameter tuning studies."""
        from pmle.training.tuning import Studies

        return Studies(self)

    @cached_property
    def tracking(self) -> Tracking:
        """Experiments and runs."""
        from pmle.tracking import Tracking

        return Tracking(self)

    @cached_property
    def features(self) -> FeatureStore:
        """The feature store: entities, feature views, training sets, the online store."""
        from pmle.features import FeatureStore

        return FeatureStore(self)

    @cached_property
    def exam(self) -> Trainer:
        """The exam trainer: mock exams, practice, spaced repetition, item statistics."""
        from pmle.exam.attempts import Trainer

        return Trainer(self)

    @cached_property
    def tokens(self) -> Tokens:
        """API tokens for the server's protected routes."""
        from pmle.serving.tokens import Tokens

        return Tokens(self)

    @cached_property
    def sql_session(self) -> SqlSession:
        """SQL with BigQuery ML statements over the warehouse (see :meth:`sql`)."""
        from pmle.sqlml.engine import SqlSession

        return SqlSession(self)

    def sql(self, script: str) -> pa.Table:
        """Run SQL (DuckDB SQL plus BigQuery ML's CREATE MODEL, DROP MODEL and ML.* table
        functions; several statements separated by `;`) and return the last statement's rows
        as an Arrow table (`.to_pandas()` for a DataFrame)."""
        return self.sql_session.query(script)

    @cached_property
    def explanations(self) -> Explanations:
        """Feature attributions of registered models, and their stored baselines."""
        from pmle.monitoring.explanations import Explanations

        return Explanations(self)

    @cached_property
    def fairness(self) -> Fairness:
        """Fairness reports of model versions (metrics by group of a sensitive column)."""
        from pmle.monitoring.fairness import Fairness

        return Fairness(self)

    def info(self) -> dict[str, Any]:
        """A summary of the workspace: where its stores are and how much they hold."""
        import sqlalchemy as sa

        from pmle.storage import schema as t
        from pmle.storage.metadata import current_revision

        with self.engine.connect() as conn:
            counts = {
                name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in (
                    ("datasets", t.datasets),
                    ("dataset_versions", t.dataset_versions),
                    ("models", t.models),
                    ("model_versions", t.model_versions),
                    ("lineage_artifacts", t.artifacts),
                    ("lineage_executions", t.executions),
                )
            }
            revision = current_revision(conn)
        objects = self.artifacts.keys()
        size = sum(self.artifacts.path(k).stat().st_size for k in objects)
        url = self.metadata_url
        return {
            "root": str(self.root),
            "metadata_url": _redact(url),
            "schema_revision": revision,
            "artifacts_dir": str(self.artifacts.root),
            "artifact_objects": len(objects),
            "artifact_bytes": size,
            "warehouse": str(self.warehouse.path),
            **counts,
        }

    def counts(self) -> dict[str, int]:
        """How many of each resource the workspace holds (one cheap query per kind; what the
        console's overview shows)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        kinds = {
            "datasets": sa.select(sa.func.count()).select_from(t.datasets),
            "models": sa.select(sa.func.count()).select_from(t.models),
            "model_versions": sa.select(sa.func.count()).select_from(t.model_versions),
            "endpoints": sa.select(sa.func.count()).select_from(t.endpoints),
            "pipeline_runs": sa.select(sa.func.count()).select_from(t.pipeline_runs),
            "pipeline_runs_running": sa.select(sa.func.count())
            .select_from(t.pipeline_runs)
            .where(t.pipeline_runs.c.state == "RUNNING"),
            "experiments": sa.select(sa.func.count()).select_from(t.experiments),
            "runs": sa.select(sa.func.count()).select_from(t.tracking_runs),
            "jobs": sa.select(sa.func.count()).select_from(t.training_jobs),
            "monitors": sa.select(sa.func.count()).select_from(t.monitors),
            "alerts": sa.select(sa.func.count()).select_from(t.monitor_alerts),
            "exam_attempts": sa.select(sa.func.count()).select_from(t.exam_attempts),
        }
        with self.engine.connect() as conn:
            return {name: int(conn.execute(q).scalar_one()) for name, q in kinds.items()}

    def close(self) -> None:
        """Release pooled database connections."""
        if "engine" in self.__dict__:
            self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def init(
    path: str | os.PathLike[str] = ".", *, exist_ok: bool = False, **settings: Any
) -> Workspace:
    """Create a workspace in `path` (a `.pmle` folder) and migrate its metadata database."""
    root = Path(path).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is a file, not a folder")
    state = root / DIRNAME
    if state.is_dir() and not exist_ok:
        raise AlreadyExists(f"{root} already holds a pmle workspace", hint="use it as it is")
    state.mkdir(parents=True, exist_ok=True)
    config = state / CONFIG_FILE
    if not config.exists():
        config.write_text(_CONFIG_TEMPLATE, encoding="utf-8")
    (state / ".gitignore").write_text("*\n", encoding="utf-8")
    ws = Workspace(state, load_settings(state, **settings))
    _ = ws.engine  # create and migrate the metadata database now
    return ws


def open_workspace(path: str | os.PathLike[str] | None = None, **settings: Any) -> Workspace:
    """Open the workspace at `path`, or the one found from `PMLE_WORKSPACE` / the current folder."""
    state = find_workspace(path)
    return Workspace(state, load_settings(state, **settings))
