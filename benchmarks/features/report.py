"""Turn the feature store benchmark's raw results into the feature store section of
BENCHMARKS.md.

Reads ``results/raw/*.json`` (bench.py) and writes the retrieval table (case × pmle, raw
DuckDB ASOF JOIN, the same with the row order kept, Feast; ratios; peak RSS), the checks of
the answers, the setup costs, online reads and materialization per online store, where pmle's
time goes (pmle_profile.py) and the goal check of issue 10 (within 1.2× of the raw ASOF JOIN,
≥ 20× Feast), per case, one-view and multi-view (``10m/10v``: 10 views holding 10M rows).
The section ``## Feature store (issue 10)`` of BENCHMARKS.md is replaced (other sections are
left as they are); the same text goes to ``results/report.md``.
``benchmarks/features/notes.md`` is included verbatim when it exists.

    python benchmarks/features/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import workload as w  # noqa: E402
from mdsection import notes, report_main  # noqa: E402

SECTION = "## Feature store (issue 10)"
RAW_GOAL = 1.2  # pmle's time ÷ the raw ASOF JOIN's, at most
FEAST_GOAL = 20.0  # Feast's time ÷ pmle's, at least
GOAL_FEATURES = "10m"  # the goal is stated for 10M feature rows (in all the views)
ROWS = {"10k": "10k", "100k": "100k", "1m": "1M", "10m": "10M"}
SIDES = ("pmle", "duckdb", "duckdb_ordered", "feast")


def feature_set(fsize: str) -> w.FeatureSet | None:
    try:
        return w.feature_set(fsize)
    except ValueError:
        return None


def label(fsize: str, esize: str | None = None) -> str:
    """The case's name in the report: 10M × 1M, or 10M in 10 views × 1M."""
    fset = w.feature_set(fsize)
    rows = ROWS[fset.total] + (f" in {len(fset.views)} views" if fset.multi else "")
    return rows if esize is None else f"{rows} × {ROWS[esize]}"


def key(side: str, fsize: str, esize: str) -> str:
    """The raw JSON's name (bench.py): side-10m-1m, side-10m_10v-1m."""
    return f"{side}-{w.feature_set(fsize).tag}-{esize}"


def load(results: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted((results / "raw").glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"[report] cannot read {path}: {e}", file=sys.stderr)
    return out


def t(v: float | None) -> str:
    """A duration: s, ms or µs."""
    if v is None:
        return "—"
    if v >= 10:
        return f"{v:.1f} s"
    if v >= 1:
        return f"{v:.2f} s"
    if v >= 0.01:
        return f"{v * 1000:.0f} ms"
    if v >= 0.001:
        return f"{v * 1000:.1f} ms"
    return f"{v * 1000:.2f} ms"


def ms(v: float) -> str:
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"


def mib(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 1024:.2f} GiB" if v >= 1024 else f"{v:.0f} MiB"


def outcome(r: dict[str, Any] | None) -> str:
    """A run's time, or what happened to it."""
    if r is None:
        return "not run"
    status = r.get("status", "ok")
    if status == "ok":
        return t(r["median_s"])
    if status == "timeout":
        return f"timed out (> {r['timeout_s']:.0f} s)"
    if status == "memory":
        return f"out of memory (> {r['mem_limit_mib'] / 1024:.0f} GiB, killed)"
    if status == "killed":
        return "killed (OOM killer?)"
    return f"failed (exit {r.get('exit_code')})"


def ok(r: dict[str, Any] | None) -> bool:
    return r is not None and r.get("status") == "ok"


def case_order(case: tuple[str, str]) -> tuple[bool, int, int, int]:
    """One-view cases first, then multi-view, each by size."""
    fset = w.feature_set(case[0])
    return fset.multi, fset.rows, len(fset.views), list(w.ENTITY_SIZES).index(case[1])


def cases(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """The cases with results, in case_order."""
    found = {
        (r["features"], r["entities"])
        for k, r in raw.items()
        if k.split("-")[0] in SIDES
        and r.get("entities") in w.ENTITY_SIZES
        and feature_set(r["features"])
    }
    return sorted(found, key=case_order)


def versions(raw: dict[str, Any]) -> str:
    v: dict[str, str] = {}
    for key, r in raw.items():
        if key.startswith("pmle-") and ok(r):
            v.update({k: r["versions"][k] for k in ("pmle", "duckdb", "pyarrow", "python")})
            break
    for key, r in raw.items():
        if key.startswith("feast-") and ok(r):
            fv = r["versions"]
            v["Feast"] = f"{fv['feast']} (Dask {fv['dask']}, pandas {fv['pandas']})"
            break
    meta = raw.get("meta", {})
    if meta.get("redis_server"):
        redis_py = raw.get("online-redis", {}).get("versions", {}).get("redis-py")
        v["Redis"] = meta["redis_server"] + (f" (redis-py {redis_py})" if redis_py else "")
    names = {"pmle": "pmle", "duckdb": "DuckDB", "pyarrow": "PyArrow", "python": "Python"}
    return ", ".join(f"{names.get(k, k)} {val}" for k, val in v.items())


def retrieval(
    raw: dict[str, Any],
) -> tuple[list[str], list[tuple[str, str, float | None, float | None]]]:
    """The retrieval table's lines, and (features, entities, pmle ÷ raw, Feast ÷ pmle)."""
    lines = [
        "| feature rows × entity rows | pmle `training_set` | raw ASOF JOIN | raw ASOF JOIN, "
        "rows in order | Feast `get_historical_features` | pmle ÷ raw | Feast ÷ pmle | peak RSS: "
        "pmle / raw / Feast |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for fsize, esize in cases(raw):
        p, d, o, f = (raw.get(key(s, fsize, esize)) for s in SIDES)
        vs_raw = p["median_s"] / d["median_s"] if ok(p) and ok(d) else None
        vs_feast = f["median_s"] / p["median_s"] if ok(p) and ok(f) else None
        ratios.append((fsize, esize, vs_raw, vs_feast))
        rss = " / ".join(
            mib(r["peak_rss_mib"]) if r is not None and r.get("status") == "ok" else
            (f"≥ {mib(r['seen_peak_mib'])}" if r is not None else "—")
            for r in (p, d, f)
        )  # fmt: skip
        lines.append(
            f"| {label(fsize, esize)} | {outcome(p)} | {outcome(d)} | {outcome(o)} | "
            f"{outcome(f)} | {'—' if vs_raw is None else f'**{vs_raw:.2f}×**'} | "
            f"{'—' if vs_feast is None else f'**{vs_feast:.1f}×**'} | {rss} |"
        )
    return lines, ratios


def checks(raw: dict[str, Any]) -> list[str]:
    out = []
    found = {}
    for case, c in raw.get("checks", {}).items():
        fsize, _, esize = case.partition(":")
        if c and feature_set(fsize) is not None and esize in w.ENTITY_SIZES:
            found[(fsize, esize)] = c
    for (fsize, esize), c in sorted(found.items(), key=lambda item: case_order(item[0])):
        parts = []
        for name, what in (
            ("duckdb", "the raw ASOF JOIN's"),
            ("duckdb_ordered", "the ordered one's"),
        ):
            if f"pmle_equals_{name}" in c:
                parts.append(
                    f"{'equals' if c[f'pmle_equals_{name}'] else '**differs from**'} {what}"
                )
        p = raw.get(key("pmle", fsize, esize), {})
        order = "rows in the entity table's order" if p.get("order_kept") else "**order not kept**"
        views = c.get("views")
        lacking = (
            f", {c['rows_lacking_a_view']:,} without the values of at least one of the "
            f"{views} views"
            if views
            else ""
        )
        text = (
            f"- {label(fsize, esize)}: pmle's answer ({c['rows']:,} rows, "
            f"{c['null_rows']:,} of them without features{lacking}; {order}) " + " and ".join(parts)
        )
        if "feast" in c:
            f = c["feast"]
            if views:
                why = (
                    " (all of them rows where pmle has no value for at least one view)"
                    if f.get("dropped_lacking_a_view_in_pmle")
                    else ""
                )
            else:
                why = (
                    " (all of them rows pmle answers with nulls)"
                    if f["dropped_all_null_in_pmle"]
                    else ""
                )
            text += (
                f"; Feast returned {f['rows']:,} rows ({f['rows'] / c['rows']:.1%}), "
                + (
                    "equal to pmle's on every one of them"
                    if f["equal_on_its_rows"]
                    else "**not all equal to pmle's**"
                )
                + f", and left out {f['dropped_rows']:,}{why}"
            )
        out.append(text + ".")
    return out


def online(raw: dict[str, Any]) -> list[str]:
    stores = [(s, raw[f"online-{s}"]) for s in ("sqlite", "redis") if f"online-{s}" in raw]
    if not stores:
        return []
    lines = [
        "| online store | materialize (default chunks): time | records written (entities) | "
        "source rows/s | records/s | in one chunk: time (records/s) | 1 key: p50 / p99 | "
        "100 keys: p50 / p99 | store `read` alone, 1 key / 100 keys: p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in stores:
        if not ok(r):
            lines.append(f"| {name} | {outcome(r)} | | | | | | | |")
            continue
        one, hundred = r["reads"]["1"]["online_features"], r["reads"]["100"]["online_features"]
        one_read, hundred_read = r["reads"]["1"]["store_read"], r["reads"]["100"]["store_read"]
        c = r.get("one_chunk")
        single = f"{t(c['materialize_s'])} ({c['records_per_s']:,.0f})" if c else "—"
        lines.append(
            f"| {'SQLite' if name == 'sqlite' else 'Redis'} | {t(r['materialize_s'])} | "
            f"{r['records_written']:,} ({r['entities_online']:,}) | "
            f"{r['source_rows_per_s']:,.0f} | {r['records_per_s']:,.0f} | {single} | "
            f"{ms(one['p50_ms'])} / **{ms(one['p99_ms'])}** | "
            f"{ms(hundred['p50_ms'])} / **{ms(hundred['p99_ms'])}** | "
            f"{ms(one_read['p99_ms'])} / {ms(hundred_read['p99_ms'])} |"
        )
    return lines


def api_profile(raw: dict[str, Any]) -> list[str]:
    """Where a one-key `online_features` call goes (cProfile), per store."""
    lines = []
    for name in ("sqlite", "redis"):
        r = raw.get(f"online-{name}")
        if not ok(r) or not r.get("api_profile"):
            continue
        store = "SQLite" if name == "sqlite" else "Redis"
        top = r["api_profile"][:10]
        lines += [
            f"Where a one-key `online_features` call goes with {store} (cProfile of 300 calls, "
            "so slower than above; pmle's functions by cumulative time per call):",
            "",
            "| function | calls per call | ms per call |",
            "|---|---:|---:|",
        ]
        lines += [f"| `{f['function']}` | {f['calls']:g} | {f['ms_per_call']:.3f} |" for f in top]
        lines.append("")
    return lines


def profile(raw: dict[str, Any]) -> list[str]:
    prof = raw.get("profile")
    if not ok(prof):
        return []
    fsize, esize = prof["features"], prof["entities"]
    again = raw.get("meta", {}).get("profile_run")
    when = (
        f"run again on its own on {again['date']}, load average {again['load_at_start'][0]}, "
        if again
        else ""
    )
    lines = [
        f"Where pmle's time goes, {ROWS[fsize]} × {ROWS[esize]} (`pmle_profile.py`, {when}its "
        f"own process, medians of a few calls; `training_set` took {t(prof['calls']['arrow'])} "
        f"with Arrow entity rows and {t(prof['calls']['pandas'])} with a pandas DataFrame):",
        "",
        "| step of one `training_set` call | time |",
        "|---|---:|",
    ]
    for s in prof["apart"]["steps"]:
        label = s["step"]
        if label == "total":
            faults = prof["apart"].get("page_faults")
            label = "**total**" + (f" ({faults:,.0f} minor page faults)" if faults else "")
        lines.append(f"| {label} | {t(s['median_s'])} |")
    if "groups" in prof["sql"]:
        groups = [(g["title"], g["variants"]) for g in prof["sql"]["groups"]]
    else:  # written by pmle_profile.py before pmle read datasets through its in-memory database
        groups = [
            (
                "in one warehouse connection kept open (the process's only DuckDB instance)",
                prof["sql"]["kept_open"],
            ),
            (
                "a connection kept open against a new one per call, as `training_set` did then",
                prof["sql"]["per_call"],
            ),
        ]
    rounds = len(next(iter(groups[0][1].values()))["times_s"])
    together = prof["sql"].get("interleaved", "each group's variants interleaved")
    lines += [
        "",
        f"The SQL alone, to an Arrow table ({together}, {rounds} rounds; median, and best in "
        "brackets):",
        "",
        "| variant | time | minor page faults per call |",
        "|---|---:|---:|",
    ]

    def row(name: str, v: dict[str, Any]) -> str:
        faults = f"{v['page_faults']:,.0f}" if "page_faults" in v else "—"
        return f"| {name} | {t(v['median_s'])} ({t(v['best_s'])}) | {faults} |"

    for title, variants in groups:
        lines.append(f"| *{title}* | | |")
        lines += [row(name, v) for name, v in variants.items()]
    same = prof.get("same_as_pmle")
    if same is None and "reorder_same_as_pmle" in prof:
        same = {"the variant put back in order in Arrow": prof["reorder_same_as_pmle"]}
    if same:
        lines += [
            "",
            "Exactly pmle's answer: "
            + "; ".join(f"{name}: {'yes' if v else '**no**'}" for name, v in same.items())
            + ".",
        ]

    def total(op: dict[str, Any], *kinds: str) -> float:
        return sum(o["s"] for o in op["operators"] if o["operator"] in kinds)

    windows = any(  # pmle numbers Arrow entity rows in Arrow now: no window in its query
        total(op, "STREAMING_WINDOW", "WINDOW") for op in prof["operators"].values()
    )
    lines += [
        "",
        "DuckDB's profile (operator times are summed over threads, so they add up to CPU time, "
        "not wall time):",
        "",
        "| query | wall | CPU | ASOF_JOIN | Parquet scan | ORDER_BY | "
        + ("window (row_number) | " if windows else "")
        + "projections | peak buffer memory |",
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if windows else "") + "---:|---:|",
    ]
    for name, label in (("pmle", "pmle's"), ("raw", "raw ASOF JOIN")):
        op = prof["operators"][name]
        scan = sum(
            o["s"] for o in op["operators"]
            if o["operator"] == "TABLE_SCAN" and "PARQUET" in o["detail"].upper()
        )  # fmt: skip
        order = total(op, "ORDER_BY")
        window = total(op, "STREAMING_WINDOW", "WINDOW")
        lines.append(
            f"| {label} | {t(op['total_s'])} | {t(op['cpu_s'])} | {t(total(op, 'ASOF_JOIN'))} | "
            f"{t(scan)} | {t(order) if order else '—'} | "
            + (f"{t(window) if window else '—'} | " if windows else "")
            + f"{t(total(op, 'PROJECTION'))} | {mib(op['peak_buffer_mib'])} |"
        )
    lines.append("")
    return lines


def build(results: Path) -> str:
    raw = load(results)
    meta = raw.get("meta", {})
    lines = [SECTION, ""]
    if not cases(raw):
        lines.append("No results yet: run `bash benchmarks/features/run.sh`.")
        return "\n".join(lines) + "\n"
    lines.append(
        f"Generated {meta.get('date', '?')} by `bash benchmarks/features/run.sh` "
        f"(`benchmarks/features/report.py`). Machine: {meta.get('cpus', '?')} CPUs (nproc), "
        f"{meta.get('cpu', '?')}, {meta.get('ram_gib', '?')} GiB RAM, Linux "
        f"{meta.get('kernel', '?')}; load average {meta.get('load_at_start', ['?'])[0]} at the "
        f"start, {meta.get('load_at_end', ['?'])[0]} at the end. Versions: {versions(raw)}."
    )
    lines.append("")
    src = meta.get("pmle_source") or {}
    if src and src.get("start") != src.get("end"):
        lines.append(
            "**pmle's feature store sources changed during this run** (fingerprint "
            f"{src.get('start')} at the start, {src.get('end')} at the end): later runs "
            "measured the newer code."
        )
        lines.append("")
    threads = next(
        (r.get("threads") for k, r in raw.items() if k.startswith("pmle-") and ok(r)), "?"
    )
    lines.append(
        "Workload (`workload.py`, numpy, seeded): a feature table of 10M rows (1M entities × "
        "10 events over 90 days; `entity_id` int64, `event_ts` timestamp UTC, features "
        "`amount`/`score` float64 and `clicks`/`sessions` int64; in event time order) and one "
        "of 1M rows (100k entities), as zstd Parquet; entity tables of 10k, 100k and 1M rows "
        "(`row_id`, `entity_id` — about 2 % never seen — and `event_timestamp`, random order). "
        f"The feature view's TTL is {w.TTL_S // 86400} days. Every side reads the same files, "
        "each in its own process, one after the other: **pmle** = "
        "`ws.features.training_set(entity_rows, ['activity:amount', …])` → Arrow table, the "
        "entity rows an Arrow table and the feature Parquet imported as a dataset beforehand "
        "(untimed; see below); **raw ASOF JOIN** = the hand-written `ASOF LEFT JOIN` of the "
        "registered entity rows with `read_parquet(features)` on the key and `e.event_timestamp "
        ">= f.event_ts`, the TTL as `CASE WHEN f.event_ts >= e.event_timestamp - INTERVAL … "
        "THEN … END`, to an Arrow table, in an in-memory DuckDB connection (rows in whatever "
        "order DuckDB yields: the goal's baseline); **rows in order** = the same `ORDER BY "
        "e.row_id`, the order pmle promises; **Feast** = `FeatureStore.get_historical_features("
        "entity_df, features).to_df()` with the local `file` offline store (its Dask store) "
        "over the same Parquet file, the entity rows a pandas DataFrame, the repository applied "
        f"beforehand. DuckDB threads: {threads} on both DuckDB sides (its default, all cores). "
        f"Times are the median of {meta.get('reps', '?')} calls in one process (pmle, DuckDB) "
        f"or of {meta.get('feast_reps', '?')} (Feast); every call's time is in the raw JSON. "
        "Peak RSS is the process's `ru_maxrss` (`os.wait4`), imports and inputs included."
    )
    lines.append("")
    multi = sorted(
        {w.feature_set(f) for f, _ in cases(raw) if w.feature_set(f).multi},
        key=lambda fs: (fs.rows, len(fs.views)),
    )
    for fset in multi:
        k, per_view = len(fset.views), fset.entities * w.EVENTS_PER_ENTITY
        lines.append(
            f"Multi-view cases ({label(fset.name)}, `{fset.name}` in `--cases`): {k} feature "
            f"views `v0` … `v{k - 1}` of {per_view:,} rows each ({fset.entities:,} entities — "
            f"the same in every view — × {w.EVENTS_PER_ENTITY} events), {fset.rows:,} feature "
            "rows in all; each view is made like the table above with its own seed and its own "
            "columns (`v0_ts`, `v0_amount`, …) in its own Parquet file, and one request asks for "
            f"all {k * len(w.FEATURES)} features: pmle `training_set(rows, ['v0:v0_amount', …, "
            f"'v{k - 1}:v{k - 1}_sessions'])` over {k} datasets, the raw query with one ASOF LEFT "
            f"JOIN per view, Feast {k} FileSources and FeatureViews. The entity rows are the "
            f"dense variant: times in the second half of the 90 days and a TTL of "
            f"{fset.ttl_s // 86400} days, so nearly every known entity row has a value in every "
            "view. With the 14-day TTL Feast's file store leaves out every row that lacks a "
            "value in any one view, most of the rows at 10 views, and answers a different, "
            "smaller question (notes below)."
        )
        lines.append("")
    table, ratios = retrieval(raw)
    lines += table
    lines.append("")
    lines.append(
        "pmle ÷ raw: how many times longer pmle takes than the raw ASOF JOIN (goal ≤ 1.2); "
        "Feast ÷ pmle: how many times longer Feast takes than pmle (goal ≥ 20)."
    )
    lines.append("")
    found = checks(raw)
    if found:
        lines.append("The answers, compared row by row by `row_id` on every feature (bench.py):")
        lines.append("")
        lines += found
        lines.append("")
    setup = []
    sets = sorted(
        {w.feature_set(f) for f in w.FEATURE_SIZES} | {w.feature_set(f) for f, _ in cases(raw)},
        key=lambda fs: (fs.multi, fs.rows, len(fs.views)),
    )
    for fset in sets:
        prep = raw.get(f"prepare-{fset.tag}")
        if not ok(prep):
            continue
        if fset.multi:
            k = len(fset.views)
            setup.append(
                f"pmle's import of the {k} views' Parquet files ({ROWS[fset.total]} rows in all) "
                f"as {k} datasets {t(prep['import_s'])}, `apply` of the entity and the {k} "
                f"views {t(prep['apply_s'])}"
            )
        else:
            setup.append(
                f"pmle's import of the {ROWS[fset.total]}-row feature Parquet as a dataset "
                f"{t(prep['import_s'])} (content hash, column statistics, a zstd Parquet copy in "
                f"the artifact store), `apply` of the entity and view {t(prep['apply_s'])}"
            )
    feast_setup = [r["setup_s"] for k, r in raw.items() if k.startswith("feast-") and ok(r)]
    if feast_setup:
        setup.append(f"Feast's repository and `apply` {t(min(feast_setup))}–{t(max(feast_setup))}")
    if setup:
        lines.append("Setup, not in the times above: " + "; ".join(setup) + ".")
        lines.append("")
    table = online(raw)
    if table:
        r = raw.get("online-sqlite") or raw.get("online-redis")
        lines.append(
            f"Online store: `ws.features.materialize(['activity'], end=…)` of the "
            f"{ROWS[r['features']]}-row feature table ({w.FEATURE_SIZES[r['features']]:,} "
            "entities; pmle stages each entity's newest values in one scan of the window, then "
            "writes them in chunks of entities by key hash, resumable, each entity once), "
            "into a fresh store; then `ws.features.online_features([4 features], rows, now=…)` "
            "for 1 and for 100 random known entities, "
            f"{r['reads']['1']['online_features']['calls']:,} calls each after 50 warm-up "
            "calls, one at a time from one thread; and the online store's own `read` of the "
            "same keys. Redis: a private `redis-server` on loopback, no persistence."
        )
        lines.append("")
        lines += table
        lines.append("")
        lines += api_profile(raw)
    lines += profile(raw)
    lines.append(
        f"Goals (issue 10), at {ROWS[GOAL_FEATURES]} feature rows, in one view or in all the "
        "views of a multi-view case (the smaller cases are shown for Feast's sake and do not "
        "count):"
    )
    lines.append("")
    verdicts: list[tuple[int, str, str]] = []  # (views, goal, verdict) of the counted cases
    for fsize, esize, vs_raw, vs_feast in ratios:
        fset = w.feature_set(fsize)
        views = len(fset.views) if fset.multi else 1
        counted = fset.total == GOAL_FEATURES
        name = label(fsize, esize)
        if vs_raw is not None:
            v = "PASS" if vs_raw <= RAW_GOAL else "FAIL"
            if counted:
                verdicts.append((views, "raw", v))
            lines.append(
                f"- {name}, within {RAW_GOAL}× of the raw ASOF JOIN: {v} ({vs_raw:.2f}×)"
                + ("" if counted else " — not counted")
            )
        f = raw.get(key("feast", fsize, esize))
        if vs_feast is not None:
            v = "PASS" if vs_feast >= FEAST_GOAL else "FAIL"
            if counted:
                verdicts.append((views, "feast", v))
            lines.append(
                f"- {name}, ≥ {FEAST_GOAL:.0f}× faster than Feast: {v} ({vs_feast:.1f}×)"
                + ("" if counted else " — not counted")
            )
        elif f is not None and ok(raw.get(key("pmle", fsize, esize))):
            # Feast did not finish: pmle is at least (its limit ÷ pmle's time) faster
            p = raw[key("pmle", fsize, esize)]
            bound = f["wall_s"] / p["median_s"]
            v = "PASS" if bound >= FEAST_GOAL else "UNDECIDED"
            if counted:
                verdicts.append((views, "feast", v))
            lines.append(
                f"- {name}, ≥ {FEAST_GOAL:.0f}× faster than Feast: {v} (Feast "
                f"{outcome(f)}: ≥ {bound:.0f}×)" + ("" if counted else " — not counted")
            )
    lines.append("")

    def overall(kind: str, views: int | None = None) -> str:
        vs = [v for n, k, v in verdicts if k == kind and views in (None, n)]
        if not vs:
            return "not measured"
        return "PASS" if all(v == "PASS" for v in vs) else ("FAIL" if "FAIL" in vs else "UNDECIDED")

    groups = sorted({n for n, _, _ in verdicts})

    def by_group(kind: str) -> str:
        if len(groups) < 2:
            return ""
        parts = [
            f"{'one view' if n == 1 else f'{n} views'}: {overall(kind, n)}"
            for n in groups
            if any(k == kind and m == n for m, k, _ in verdicts)
        ]
        return f" ({'; '.join(parts)})" if len(parts) > 1 else ""

    lines.append(
        f"Within {RAW_GOAL}× of the raw ASOF JOIN: **{overall('raw')}**{by_group('raw')}; "
        f"≥ {FEAST_GOAL:.0f}× faster than Feast: **{overall('feast')}**{by_group('feast')}."
    )
    lines.append("")
    lines.extend(notes(HERE))
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    report_main(build, HERE, SECTION)


if __name__ == "__main__":
    main()
