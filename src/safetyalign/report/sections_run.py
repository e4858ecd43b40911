"""Report sections about the run itself: config and versions, training curves, timings; shared formatting."""

from __future__ import annotations

import statistics
from typing import Any

from safetyalign.report.doc import Cell, Code, Columns, Heading, Image, Note, Para, Section, Table, layout_images
from safetyalign.report.loaders import RunData, flatten

KEY_CONFIG = ["model.name_or_path", "data.sources", "lora.r", "lora.lora_alpha", "train.learning_rate", "train.beta",
              "train.max_steps", "train.batch_size", "train.gradient_accumulation_steps", "eval.suites",
              "eval.judges", "eval.primary_judge", "eval.generation.max_new_tokens"]
TRAIN_KEYS = [("train/loss", "DPO loss"), ("train/rewards/margins", "Reward margin (chosen − rejected)"),
              ("train/rewards/accuracies", "Reward accuracy"), ("train/rewards/chosen", "Reward chosen"),
              ("train/rewards/rejected", "Reward rejected"), ("train/grad_norm", "Grad norm"),
              ("eval/loss", "Eval loss"), ("eval/rewards/accuracies", "Eval reward accuracy")]


def not_run(what: str, hint: str = "") -> Note:
    """The placeholder a section shows when its stage did not run."""
    return Note(f"Not run: {what}", [hint] if hint else [], kind="notrun")


def fmt_num(v: Any, digits: int = 4) -> str:
    """Compact number formatting (ints stay ints)."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def fmt_seconds(s: Any) -> str:
    """``75.2`` -> ``1 min 15 s``."""
    if not isinstance(s, (int, float)):
        return "—"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int((s % 3600) // 60)} min"


def _item(v: Any) -> str:
    if isinstance(v, dict):  # e.g. a data source: name, else kind:path
        name = v.get("name") or ":".join(str(v[k]) for k in ("kind", "path") if v.get(k))
        return str(name or v)
    return str(v)


def short_value(v: Any, limit: int = 80) -> str:
    """A config value on one line: lists joined, dict items by name, long text cut with an ellipsis."""
    text = "(unset)" if v is None else ", ".join(map(_item, v)) if isinstance(v, list) else _item(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_short = short_value


def config_section(run: RunData) -> Section:
    """Key config values, the full config.yaml (collapsed), git commit and package versions."""
    sec = Section("config", "Run config and versions")
    if run.config_text is None and run.meta is None:
        sec.blocks.append(not_run("config.yaml and meta.json are missing"))
        return sec
    flat = flatten(run.config or {})
    rows = [[k, _short(flat[k], 60)] for k in KEY_CONFIG if k in flat]
    cols: list = [Table(["Setting", "Value"], rows, caption="Key settings")] if rows else []
    meta = run.meta or {}
    if meta:
        cmd = meta.get("command")
        info = [["Run folder", run.name], ["Created", str(meta.get("created", "—"))],
                ["Git commit", str(meta.get("git_commit") or "unknown")],
                ["Command", _short(" ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "—"), 60)],
                ["Python", str(meta.get("python", "—"))], ["Platform", _short(meta.get("platform", "—"), 60)]]
        cols.append(Table(["Provenance", ""], info, caption="Provenance"))
        pkgs = meta.get("packages")
        if isinstance(pkgs, dict) and pkgs:
            prow = [[str(k), str(v) if v else Cell("not installed", "muted")] for k, v in pkgs.items()]
            cols.append(Table(["Package", "Version"], prow, caption="Package versions"))
    if cols:
        sec.blocks.append(Columns(cols))
    if run.config_text is not None:
        sec.blocks.append(Code(run.config_text, summary="Full resolved config.yaml"))
    return sec


def _metric_rows(metrics: list[dict[str, Any]]) -> list[list[Cell | str]]:
    rows: list[list[Cell | str]] = []
    for key, label in TRAIN_KEYS:
        pts = [(r.get("step"), r[key]) for r in metrics if isinstance(r.get(key), (int, float))]
        if not pts:
            continue
        (s0, v0), (s1, v1) = pts[0], pts[-1]
        rows.append([label, Cell(f"{v0:.4g} (step {s0})", "num"), Cell(f"{v1:.4g} (step {s1})", "num"),
                     Cell(f"{v1 - v0:+.4g}", "num"), Cell(f"{min(v for _, v in pts):.4g}", "num"),
                     Cell(f"{max(v for _, v in pts):.4g}", "num")])
    return rows


def training_section(run: RunData) -> Section:
    """Loss and reward curves plus first/last values from metrics.jsonl."""
    sec = Section("training", "Training")
    plots = [p for p in (run.plot("training_loss.png"), run.plot("training_rewards.png")) if p]
    if not run.metrics and not plots:
        sec.blocks.append(not_run("training", "metrics.jsonl is missing (base-model-only run?)"))
        return sec
    rows = _metric_rows(run.metrics)
    if rows:
        steps = [r["step"] for r in run.metrics if isinstance(r.get("step"), (int, float))]
        sec.blocks.append(Para(f"{len(run.metrics)} logged rows, last step {max(steps) if steps else '?'}."))
        sec.blocks.append(Table(["Metric", "First", "Last", "Change", "Min", "Max"], rows))
    sec.blocks += layout_images([Image(p, p.stem.replace("_", " ").capitalize(), "") for p in plots])
    ts = {k: v for k, v in flatten(run.training_summary or {}).items() if not k.startswith("final_metrics")}
    scalars = [[k, fmt_num(v)] for k, v in ts.items() if isinstance(v, (int, float, str, bool)) and v is not None]
    if scalars:
        sec.blocks.append(Table(["Training summary", "Value"], scalars[:20], caption="adapter/training_summary.json"))
    return sec


def _throughput_rows(run: RunData) -> list[list[str]]:
    rows = []
    for key, label, unit in (("train/tokens_per_s", "Training throughput", "tokens/s"),
                             ("train/peak_memory_gib", "Peak accelerator memory", "GiB")):
        vals = [r[key] for r in run.metrics if isinstance(r.get(key), (int, float))]
        if vals:
            agg = max(vals) if "memory" in key else statistics.median(vals)
            rows.append([label, f"{agg:,.1f} {unit}", "max" if "memory" in key else f"median of {len(vals)} steps"])
    gen = (run.results or {}).get("generation_stats")
    for model, st in (gen.items() if isinstance(gen, dict) else []):
        if isinstance(st, dict) and isinstance(st.get("tokens_per_s"), (int, float)):
            reused = (st.get("extra") or {}).get("reused") if isinstance(st.get("extra"), dict) else None
            how = (f"{fmt_num(st.get('new_tokens'))} new tokens for {fmt_num(st.get('prompts'))} prompts in "
                   f"{fmt_seconds(st.get('seconds'))}" + (f"; {reused} cached generations reused" if reused else ""))
            rows.append([f"Generation ({model})", f"{st['tokens_per_s']:,.1f} tokens/s", how])
    return rows


def timings_section(run: RunData) -> Section:
    """Seconds per stage, share of the total, throughput."""
    sec = Section("timings", "Timings and throughput")
    stages = (run.timings or {}).get("stages")
    thr = _throughput_rows(run)
    if not isinstance(stages, dict) and not thr:
        sec.blocks.append(not_run("timings", "timings.json is missing"))
        return sec
    if isinstance(stages, dict) and stages:
        total = run.timings.get("total_s") or sum(v for v in stages.values() if isinstance(v, (int, float)))
        rows = [[k, fmt_seconds(v), f"{100 * v / total:.0f}%" if total and isinstance(v, (int, float)) else "—"]
                for k, v in stages.items()]
        rows.append([Cell("total", "strong"), Cell(fmt_seconds(total), "strong"), ""])
        sec.blocks.append(Table(["Stage", "Wall time", "Share"], rows))
    if thr:
        sec.blocks.append(Heading("Throughput"))
        sec.blocks.append(Table(["Measure", "Value", "How"], thr))
    return sec
