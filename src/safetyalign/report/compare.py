"""``write_comparison(run_a, run_b, out_dir)``: two runs side by side (config diff, headline metrics, loss curves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetyalign.errors import SafetyAlignError
from safetyalign.io import atomic_write_text
from safetyalign.logs import get_logger
from safetyalign.report.build import load_css, make_readable, safe_section
from safetyalign.report.doc import Block, Cell, Heading, Image, Para, Section, Table, to_html, to_markdown
from safetyalign.report.loaders import HEADLINE_METRICS, RunData, flatten, load_run, metric
from safetyalign.report.sections_eval import delta_cell, metric_text, verdict_block
from safetyalign.report.sections_run import fmt_seconds, not_run, short_value

log = get_logger(__name__)
VOLATILE_KEYS = ("run.run_dir",)


def _short(v: Any) -> str:
    return short_value(v, 90)


def config_diff_section(a: RunData, b: RunData) -> Section:
    """Only the config keys whose values differ."""
    sec = Section("config", "Config differences")
    if a.config is None or b.config is None:
        sec.blocks.append(not_run("config comparison", "config.yaml missing in one of the runs"))
        return sec
    fa, fb = flatten(a.config), flatten(b.config)
    keys = [k for k in sorted(set(fa) | set(fb)) if fa.get(k, "<absent>") != fb.get(k, "<absent>")
            and k not in VOLATILE_KEYS]
    if not keys:
        sec.blocks.append(Para("The two configs are identical."))
    else:
        sec.blocks.append(Table(["Key", f"A: {a.name}", f"B: {b.name}"],
                                [[k, _short(fa.get(k)), _short(fb.get(k))] for k in keys]))
    commits = [(r.meta or {}).get("git_commit") for r in (a, b)]
    if any(commits):
        sec.blocks.append(Para(f"Git commits: A {commits[0] or 'unknown'}, B {commits[1] or 'unknown'}.", "muted"))
    return sec


def metrics_section(a: RunData, b: RunData) -> Section:
    """Headline metrics of both runs (base and tuned) and the tuned-vs-tuned delta."""
    sec = Section("evaluation", "Headline metrics")
    sa, sb = a.summary(), b.summary()
    if not sa and not sb:
        sec.blocks.append(not_run("evaluation", "neither run has evaluation results"))
        return sec
    sec.blocks += [verdict_block(a), verdict_block(b)]
    for note, run in zip(sec.blocks[-2:], (a, b)):
        note.title = f"{'A' if run is a else 'B'} ({run.name}): {note.title}"
    rows: list[list[Cell | str]] = []
    for key, label, _ in HEADLINE_METRICS:
        vals = [metric(s.get(m, {}), key) for s in (sa, sb) for m in ("base", "tuned")]
        if not any(vals):
            continue
        rows.append([label] + [Cell(metric_text(v), "num") for v in vals] + [delta_cell(key, vals[1], vals[3])])
    headers = ["Metric", "A base", "A tuned", "B base", "B tuned", "Δ tuned (B − A)"]
    sec.blocks.append(Table(headers, rows, caption="Rates with 95% CI and k/n; Δ coloured by metric direction",
                            cls="headline"))
    return sec


def training_compare_section(a: RunData, b: RunData, out_dir: Path) -> Section:
    """Both loss curves on one chart (from metrics.jsonl), else each run's own training_loss.png."""
    sec = Section("training", "Training loss")
    chart = None
    if a.metrics or b.metrics:
        from safetyalign.report.charts import loss_chart

        chart = loss_chart([(f"A: {a.name}", a.metrics), (f"B: {b.name}", b.metrics)], out_dir / "loss_comparison.png")
    if chart:
        sec.blocks.append(Image(chart, "Training loss of both runs", ""))
    else:
        for tag, run in (("A", a), ("B", b)):
            if p := run.plot("training_loss.png"):
                sec.blocks += [Heading(f"{tag}: {run.name}"), Image(p, f"training loss {tag}", "")]
    rows = []
    for tag, run in (("A", a), ("B", b)):
        pts = [r["train/loss"] for r in run.metrics if isinstance(r.get("train/loss"), (int, float))]
        rows.append([f"{tag}: {run.name}", f"{pts[0]:.4g}" if pts else "—", f"{pts[-1]:.4g}" if pts else "—",
                     str(len(pts))])
    sec.blocks.append(Table(["Run", "First loss", "Last loss", "Logged steps"], rows))
    if not chart and not any(r.metrics for r in (a, b)):
        sec.blocks.append(not_run("training", "no metrics.jsonl in either run"))
    return sec


def timings_compare_section(a: RunData, b: RunData) -> Section:
    """Wall time per stage of both runs."""
    sec = Section("timings", "Timings")
    sa, sb = ((r.timings or {}).get("stages") or {} for r in (a, b))
    stages = list(dict.fromkeys([*sa, *sb]))
    if not stages:
        sec.blocks.append(not_run("timings", "timings.json missing in both runs"))
        return sec
    rows = [[s, fmt_seconds(sa.get(s)), fmt_seconds(sb.get(s))] for s in stages]
    totals = [fmt_seconds((r.timings or {}).get("total_s")) for r in (a, b)]
    rows.append(["total", *totals])
    sec.blocks.append(Table(["Stage", f"A: {a.name}", f"B: {b.name}"], rows))
    return sec


def write_comparison(run_a: Path, run_b: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``comparison.html`` and ``comparison.md`` comparing two run folders into ``out_dir``."""
    for r in (run_a, run_b):
        if not Path(r).is_dir():
            raise SafetyAlignError(f"run folder not found: {r}")
    a, b = load_run(run_a), load_run(run_b)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [safe_section("config", "Config differences", lambda: config_diff_section(a, b)),
                safe_section("evaluation", "Headline metrics", lambda: metrics_section(a, b)),
                safe_section("training", "Training loss", lambda: training_compare_section(a, b, out_dir)),
                safe_section("timings", "Timings", lambda: timings_compare_section(a, b))]
    top: list[Block] = [Para(f"A = {a.run_dir}    B = {b.run_dir}", "muted")]
    title = f"SafetyAlign comparison: {a.name} vs {b.name}"
    html_path = atomic_write_text(out_dir / "comparison.html", to_html(title, sections, load_css(), top=top))
    md_path = atomic_write_text(out_dir / "comparison.md", to_markdown(title, sections, out_dir, top=top))
    make_readable(html_path, md_path, out_dir / "loss_comparison.png")
    log.info("comparison written: %s and %s", html_path, md_path)
    return html_path, md_path
