"""What the benchmark reports share: writing their report and their own section of
BENCHMARKS.md, their notes, the CPU model."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path


def replace_section(doc: str, heading: str, section: str) -> str:
    """`doc` with the `## heading` section (up to the next `## `) replaced by `section`, or
    `section` appended when there is none yet."""
    lines = doc.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == heading), None)
    if start is None:
        sep = "" if doc.endswith("\n\n") or not doc else ("\n" if doc.endswith("\n") else "\n\n")
        return doc + sep + section
    end = next(
        (j for j in range(start + 1, len(lines)) if re.match(r"^## (?!#)", lines[j])), len(lines)
    )
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + tail if tail else "")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "?"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def write_report(text: str, results: Path, benchmarks_md: Path, heading: str) -> None:
    """Write `text` as `results/report.md` and as the `heading` section of `benchmarks_md`."""
    results.mkdir(parents=True, exist_ok=True)
    (results / "report.md").write_text(text)
    doc = benchmarks_md.read_text() if benchmarks_md.exists() else "# Benchmarks\n\n"
    benchmarks_md.write_text(replace_section(doc, heading, text))


def notes(here: Path) -> list[str]:
    """The lines a report ends with: its `notes.md` (when there is one) and a blank line."""
    path = here / "notes.md"
    return [path.read_text().rstrip(), ""] if path.exists() else []


def report_main(build: Callable[[Path], str], here: Path, section: str) -> None:
    """A report script's command line: `--results DIR` (default `here/results`), `--no-write`
    (print the report), `--benchmarks-md FILE` (default the repository's BENCHMARKS.md)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=str(here / "results"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--benchmarks-md", default=str(here.parent.parent / "BENCHMARKS.md"))
    a = ap.parse_args()
    text = build(Path(a.results))
    if a.no_write:
        print(text)
        return
    md = Path(a.benchmarks_md)
    write_report(text, Path(a.results), md, section)
    print(f"[report] wrote {md} ({section}) and {Path(a.results) / 'report.md'}")
