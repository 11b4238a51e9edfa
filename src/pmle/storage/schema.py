"""The metadata tables, as the code reads and writes them (SQLAlchemy Core).

The migrations in `migrations/versions` create these tables; this module mirrors their head
state. The lineage tables follow the ML Metadata shape: artifacts, executions, events (input /
output edges between them) and contexts grouping both.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# --- lineage (ML Metadata shape) -------------------------------------------------------------

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(64), nullable=False, index=True),  # Dataset, Model, File, ...
    Column("name", String(256), nullable=True, index=True),  # e.g. "churn@2"
    Column("uri", Text, nullable=True, index=True),
    Column("properties", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(64), nullable=False, index=True),  # Import, Split, Train, ...
    Column("name", String(256), nullable=True),
    Column("state", String(16), nullable=False, default="COMPLETE"),
    Column("properties", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "artifact_id", ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column(
        "execution_id", ForeignKey("executions.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("type", String(8), nullable=False),  # INPUT | OUTPUT
    Column("path", String(128), nullable=True),  # the role of the artifact in the execution
    Column("created_at", DateTime(timezone=True), nullable=False),
)

contexts = Table(
    "contexts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("properties", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("type", "name", name="uq_contexts_type_name"),
)

attributions = Table(
    "attributions",
    metadata,
    Column("context_id", ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True),
)

associations = Table(
    "associations",
    metadata,
    Column("context_id", ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True),
    Column("execution_id", ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
)

# --- datasets ---------------------------------------------------------------------------------

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("artifact_key", String(64), nullable=False),  # the Parquet file in the artifact store
    Column("num_rows", Integer, nullable=False),
    Column("num_bytes", Integer, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("stats", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("lineage_artifact_id", ForeignKey("artifacts.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
    UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_hash"),
)

# --- model registry ---------------------------------------------------------------------------

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("tree_key", String(64), nullable=False),  # the model folder in the artifact store
    Column("manifest", JSON, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("lineage_artifact_id", ForeignKey("artifacts.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column(
        "version_id",
        ForeignKey("model_versions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

# --- serving ----------------------------------------------------------------------------------

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("log_sampling", Float, nullable=False, default=0.0),  # request-response logging rate
    Column("revision", Integer, nullable=False, default=1),  # bumped on every change
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

deployed_models = Table(
    "deployed_models",
    metadata,
    Column("id", Integer, primary_key=True),  # the deployed model id
    Column(
        "endpoint_id", ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    # The version is resolved when deploying; the model folder stays pinned by its tree key.
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("tree_key", String(64), nullable=False),
    Column("traffic_percent", Integer, nullable=False),
    Column("max_batch_size", Integer, nullable=False),
    Column("max_wait_ms", Float, nullable=False),
    Column("compile", Boolean, nullable=False, default=False),  # compiled trees (lleaves)
    Column("features", JSON, nullable=True),  # feature-store lookups: ["view", "view:f", …]
    # Counters the servers add their deltas to.
    Column("request_count", Integer, nullable=False, default=0),
    Column("error_count", Integer, nullable=False, default=0),
    Column("row_count", Integer, nullable=False, default=0),
    Column("latency_ms_sum", Float, nullable=False, default=0.0),
    Column("latency_buckets", JSON, nullable=False, default=list),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the secret
    Column("prefix", String(16), nullable=False),  # shown in listings
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("role", String(16), nullable=False, server_default="editor"),  # editor | viewer
)

# --- monitoring -------------------------------------------------------------------------------

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("endpoint", String(128), nullable=True),  # None: runs over tables / files
    # The model version is pinned when the monitor is created (as deploying does).
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("config", JSON, nullable=False),  # objectives, features, thresholds, sinks, ...
    Column("baseline", JSON, nullable=False),  # histograms computed once, attribution baseline
    Column("schedule", String(128), nullable=True),  # cron expression
    Column("next_run_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("state", String(16), nullable=False),  # RUNNING | COMPLETE | FAILED
    # continuous: the log since the previous continuous run | window: a window given | data
    Column("kind", String(16), nullable=False, default="continuous"),
    Column("source", Text, nullable=False),  # what was read: the log window, a table, files
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("rows", Integer, nullable=False, default=0),
    Column("result", JSON, nullable=False, default=dict),
    Column("histograms", JSON, nullable=False, default=dict),  # the window's: next drift baseline
    Column("report", Text, nullable=True),  # path of the HTML report
    Column("error", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)

monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("run_id", ForeignKey("monitor_runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("objective", String(32), nullable=False),
    Column("feature", String(256), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("deliveries", JSON, nullable=False, default=list),  # per sink: ok / error
    Column("created_at", DateTime(timezone=True), nullable=False),
)

model_explanations = Table(
    "model_explanations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("method", String(32), nullable=False),  # tree_shap | sampled_shapley
    Column("baseline", JSON, nullable=False),  # the attribution baseline instance
    Column("expected_value", JSON, nullable=False),
    Column("global_importance", JSON, nullable=False),  # feature → mean |attribution|
    Column("source", Text, nullable=False),  # the data it was computed on
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("model_name", "model_version", "method"),
)

model_fairness = Table(
    "model_fairness",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("sensitive", String(256), nullable=False),
    Column("source", Text, nullable=False),
    Column("report", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- pipelines --------------------------------------------------------------------------------

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False, index=True),  # the pipeline's name
    Column("run_name", String(256), nullable=False),
    Column("state", String(16), nullable=False),  # RUNNING | SUCCEEDED | FAILED
    Column("source", Text, nullable=False),  # FILE.yaml | FILE.py[:FUNC]
    Column("params", JSON, nullable=False, default=dict),
    Column("result", JSON, nullable=False, default=dict),  # outputs + task records
    Column("root_dir", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("owner_host", String(256), nullable=True),  # the machine and process running it
    Column("owner_pid", Integer, nullable=True),
    Column("attempt", Integer, nullable=False, default=1, server_default="1"),  # 1 + retries
    Column("schedule_id", Integer, nullable=True),  # the schedule that started it
    Column("trigger", String(256), nullable=True),  # e.g. "schedule", "alert #12", "retry"
)

# One successful leaf task's outputs, by (pipeline name, cache fingerprint).
pipeline_cache = Table(
    "pipeline_cache",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pipeline", String(256), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("parameters", JSON, nullable=False, default=dict),
    Column("artifacts", JSON, nullable=False, default=dict),  # name → ArtifactRef fields
    Column("run_id", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("pipeline", "fingerprint", name="uq_pipeline_cache_key"),
)

# A schedule of pipeline runs: at cron times (between start and end, at most max_runs), and / or
# when a monitor raises alerts (`monitor`, with the last alert id already acted on).
pipeline_schedules = Table(
    "pipeline_schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("source", Text, nullable=False),  # FILE.yaml | FILE.py[:FUNC]
    Column("params", JSON, nullable=False, default=dict),
    Column("cron", String(256), nullable=True),
    Column("monitor", String(256), nullable=True),
    Column("last_alert_id", Integer, nullable=True),
    Column("start_at", DateTime(timezone=True), nullable=True),
    Column("end_at", DateTime(timezone=True), nullable=True),
    Column("max_runs", Integer, nullable=True),
    Column("max_concurrent", Integer, nullable=False, default=1, server_default="1"),
    Column("catch_up", Boolean, nullable=False, default=False, server_default=false()),
    Column("no_cache", Boolean, nullable=False, default=False, server_default=false()),
    Column("state", String(16), nullable=False),  # ACTIVE | PAUSED | COMPLETED
    Column("next_run_at", DateTime(timezone=True), nullable=True),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("started_runs", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- experiment tracking -----------------------------------------------------------------------

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A run: one attempt at training something, inside an experiment, maybe inside another run.
tracking_runs = Table(
    "tracking_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("parent_id", Integer, ForeignKey("tracking_runs.id"), nullable=True, index=True),
    Column("status", String(16), nullable=False),  # RUNNING | FINISHED | FAILED | KILLED
    Column("notes", Text, nullable=False, default=""),
    Column("error", Text, nullable=True),
    Column("execution_id", Integer, nullable=True),  # its node in the lineage graph
    Column("owner_host", String(256), nullable=True),
    Column("owner_pid", Integer, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("experiment_id", "name", name="uq_tracking_runs_name"),
    Index("ix_tracking_runs_status", "status"),  # finding RUNNING runs whose process died
)

run_params = Table(
    "run_params",
    metadata,
    Column("run_id", Integer, ForeignKey("tracking_runs.id"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_run_params_key_value", "key", "value"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", Integer, ForeignKey("tracking_runs.id"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
)

# Every logged value of every metric (the curves).
run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("tracking_runs.id"), nullable=False),
    Column("key", String(256), nullable=False),
    Column("step", Integer, nullable=False),
    Column("value", Float, nullable=True),  # NULL: NaN (SQLite stores no NaN)
    Column("timestamp", Float, nullable=False),  # seconds since the epoch
    Index("ix_run_metrics_run_key_step", "run_id", "key", "step"),
)

# The last value of each metric of each run (what searches filter and sort on).
run_latest_metrics = Table(
    "run_latest_metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("tracking_runs.id"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Float, nullable=True),  # NULL: NaN
    Column("step", Integer, nullable=False),
    Index("ix_run_latest_metrics_key_value", "key", "value"),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", Integer, ForeignKey("tracking_runs.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),  # the name inside the run
    Column("key", String(64), nullable=False),  # the artifact store's content key
    Column("size", Integer, nullable=False),
    Column("is_dir", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- training: custom jobs and tuning studies -------------------------------------------------

training_jobs = Table(
    "training_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False),
    Column("command", JSON, nullable=False),  # argv after the interpreter
    Column("state", String(16), nullable=False),  # RUNNING | SUCCEEDED | FAILED | CANCELLED
    Column("runner", String(16), nullable=False),  # local | ray
    Column("resources", JSON, nullable=False, default=dict),
    Column("run_id", Integer, nullable=True),  # its tracking run
    Column("job_dir", Text, nullable=False),
    Column("data", String(512), nullable=True),  # the dataset version it was given
    Column("model", String(512), nullable=True),  # the model version it registered
    Column("exit_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("owner_host", String(256), nullable=True),
    Column("owner_pid", Integer, nullable=True),
    Column("pid", Integer, nullable=True),  # the job's own process (local runner)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)

# Optuna's journal of every tuning study (pmle.training.journal): one row per log entry.
tuning_journal = Table(
    "tuning_journal",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("log", JSON, nullable=False),
)

# --- the exam trainer (pmle.exam) -----------------------------------------------------------
# Times are seconds since the epoch from the trainer's clock, so tests can move it.

exam_attempts = Table(
    "exam_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mode", String(16), nullable=False, index=True),  # exam | practice
    Column("blueprint", String(64), nullable=False),
    Column("seed", Integer, nullable=False),  # shuffles options, once per attempt
    Column("settings", JSON, nullable=False, default=dict),  # length, sections, objectives …
    Column("started_at", Float, nullable=False),
    Column("deadline_at", Float, nullable=True),  # absolute; practice has none
    Column("submitted_at", Float, nullable=True),
    Column("submitted_by", String(16), nullable=True),  # candidate | deadline
    Column("current", Integer, nullable=False, default=0),  # the position on screen
    Column("viewing_since", Float, nullable=True),  # when it was shown; None when away
)

exam_responses = Table(
    "exam_responses",
    metadata,
    Column("attempt_id", Integer, ForeignKey("exam_attempts.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("item_id", String(64), nullable=False, index=True),
    Column("option_order", JSON, nullable=False),  # option ids in the order shown
    Column("answer", JSON, nullable=True),  # chosen option ids; None = unanswered
    Column("flagged", Boolean, nullable=False, default=False),
    Column("seconds", Float, nullable=False, default=0.0),  # time spent on the item
    Column("answered_at", Float, nullable=True),
    Column("correct", Boolean, nullable=True),  # set when scored
)

exam_cards = Table(
    "exam_cards",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("card", JSON, nullable=False),  # fsrs.Card.to_dict()
    Column("due", Float, nullable=False),
    Column("reviews", Integer, nullable=False, default=0),
    Column("lapses", Integer, nullable=False, default=0),
    Column("updated_at", Float, nullable=False),
)

exam_reports = Table(
    "exam_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),  # wrong-key | unclear | outdated | typo | other
    Column("message", Text, nullable=False),
    Column("attempt_id", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("status", String(16), nullable=False, default="open"),  # open | closed
    Column("resolution", Text, nullable=True),
)

# --- the feature store (pmle.features) -------------------------------------------------------

feature_entities = Table(
    "feature_entities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSON, nullable=False),  # Entity.to_dict()
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "version", name="uq_feature_entities_name_version"),
)

feature_views = Table(
    "feature_views",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSON, nullable=False),  # FeatureView.to_dict()
    Column("artifact_id", Integer, nullable=True),  # its FeatureView lineage artifact
    Column("deleted", Boolean, nullable=False, default=False),  # a tombstone version
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "version", name="uq_feature_views_name_version"),
)

# A materialization run: the time window cut into chunks; `done` lists finished chunks, so a
# killed run resumes with the rest. Times are epoch seconds (event time).
feature_materializations = Table(
    "feature_materializations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("view", String(128), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("store", String(256), nullable=False),  # the online store's URL (no secrets)
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("chunks", JSON, nullable=False),  # [[start, end], ...]
    Column("done", JSON, nullable=False, default=list),  # indexes of finished chunks
    Column("rows", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False),  # RUNNING | SUCCEEDED | FAILED
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)
