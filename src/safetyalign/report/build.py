"""``write_report(run_dir)``: report.html (self-contained) and report.md for one run folder.

Every section is built independently; a stage that did not run shows "Not run", and a section whose input is
malformed shows the error instead of breaking the whole report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from safetyalign.errors import SafetyAlignError
from safetyalign.io import atomic_write_text
from safetyalign.logs import get_logger
from safetyalign.report.doc import Block, Note, Section, to_html, to_markdown
from safetyalign.report.loaders import RunData, load_run
from safetyalign.report.samples import samples_section
from safetyalign.report.sections_data import data_section
from safetyalign.report.sections_eval import evaluation_section, judge_section, transitions_section, verdict_block
from safetyalign.report.sections_lso import leave_source_out_section
from safetyalign.report.sections_run import config_section, timings_section, training_section

log = get_logger(__name__)
# results first (what a reader opens the report for), provenance last
SECTION_IDS = ["evaluation", "transitions", "judge", "training", "data", "samples", "timings", "config"]


def load_css() -> str:
    """The report stylesheet shipped as package data (report/report.css)."""
    try:
        return resources.files("safetyalign.report").joinpath("report.css").read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):  # an install without package data still gets a usable page
        log.warning("report.css not found; writing an unstyled report")
        return "body{font-family:sans-serif;max-width:1100px;margin:auto}"


def safe_section(sid: str, title: str, build: Callable[[], Section]) -> Section:
    """Run one section builder; an exception becomes a visible note in that section only."""
    try:
        return build()
    except Exception as exc:  # one bad file must not cost the whole report
        log.warning("report: section %s failed: %s: %s", sid, type(exc).__name__, exc)
        return Section(sid, title, [Note(f"Could not render this section: {type(exc).__name__}: {exc}",
                                         kind="fail")])


def _chart(run: RunData) -> Path | None:
    summary = run.summary()
    if not summary:
        return None
    try:
        from safetyalign.report.charts import safety_chart

        return safety_chart(summary, run.run_dir / "plots" / "safety_comparison.png")
    except Exception as exc:  # a plotting failure leaves the tables
        log.warning("report: safety chart failed: %s", exc)
        return None


def subtitle(run: RunData) -> str:
    """``run · model · created · commit`` line under the title."""
    model = ((run.config or {}).get("model") or {}).get("name_or_path") if isinstance(run.config, dict) else None
    meta = run.meta or {}
    parts = [f"run {run.name}", f"model {model}" if model else "",
             f"created {meta['created']}" if meta.get("created") else "",
             f"commit {str(meta['git_commit'])[:12]}" if meta.get("git_commit") else ""]
    return " · ".join(p for p in parts if p)


def build_sections(run: RunData) -> tuple[list[Block], list[Section]]:
    """The verdict box and all sections of a single-run report."""
    chart = _chart(run)
    builders: list[tuple[str, str, Callable[[], Section]]] = [
        ("leave-source-out", "Leave-source-out", lambda: leave_source_out_section(run)),
        ("evaluation", "Evaluation: base vs tuned", lambda: evaluation_section(run, chart)),
        ("transitions", "Transitions", lambda: transitions_section(run)),
        ("judge", "Judge", lambda: judge_section(run)),
        ("training", "Training", lambda: training_section(run)),
        ("data", "Data", lambda: data_section(run)),
        ("samples", "Samples", lambda: samples_section(run.compare, run.results, run.samples)),
        ("timings", "Timings and throughput", lambda: timings_section(run)),
        ("config", "Run config and versions", lambda: config_section(run)),
    ]
    sections = [safe_section(sid, title, fn) for sid, title, fn in builders]
    top: list[Block] = []
    try:
        top.append(verdict_block(run))
    except Exception as exc:  # malformed summary: show it, keep going
        top.append(Note(f"Verdict unavailable: {type(exc).__name__}: {exc}", kind="fail"))
    if run.problems:
        top.append(Note("Some files could not be read", run.problems, kind="mixed"))
    return top, sections


def make_readable(*paths: Path | None) -> None:
    """Atomic writes create 0600 files; reports are meant to be shared, so apply the usual umask mode."""
    mask = os.umask(0)
    os.umask(mask)
    for p in paths:
        if p is not None and p.is_file():
            os.chmod(p, 0o666 & ~mask)


def write_report(run_dir: Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``run_dir`` (and ``plots/safety_comparison.png``).

    Works on partial runs: a missing stage's section says "Not run". Returns ``(html_path, md_path)``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SafetyAlignError(f"run folder not found: {run_dir}")
    run = load_run(run_dir)
    top, sections = build_sections(run)
    title = "SafetyAlign run report"
    html_path = atomic_write_text(run_dir / "report.html", to_html(title, sections, load_css(), subtitle(run), top))
    md_path = atomic_write_text(run_dir / "report.md", to_markdown(title, sections, run_dir, subtitle(run), top))
    make_readable(html_path, md_path, run.plot("safety_comparison.png"))
    log.info("report written: %s and %s", html_path, md_path)
    return html_path, md_path
