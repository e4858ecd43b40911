"""Report sections about the run itself: config and versions, data, training curves, timings."""

from __future__ import annotations

import statistics
from typing import Any

from safetyalign.report.doc import Cell, Code, Columns, Gallery, Heading, Image, Note, Para, Section, Table
from safetyalign.report.loaders import RunData, flatten

KEY_CONFIG = ["model.name_or_path", "data.sources", "lora.r", "lora.alpha", "train.lr", "train.beta",
              "train.max_steps", "train.batch_size", "train.gradient_accumulation_steps", "eval.suites",
              "eval.judges", "eval.primary_judge", "eval.generation.max_new_tokens"]
DATA_PLOTS = [("data_distribution.png", "Data distribution"), ("category_counts.png", "Pairs per category"),
              ("language_split.png", "Language split"), ("length_bias.png", "Length bias (chosen vs rejected)")]
LENGTH_FIELDS = ("prompt", "chosen", "rejected")
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


def _reason_table(skipped: dict[str, Any]) -> Table | None:
    rows = [[str(r), fmt_num(n)] for r, n in sorted(skipped.items(), key=lambda kv: -(kv[1] or 0)) if n]
    return Table(["Skip reason", "Rows"], rows, caption="Rows skipped, by reason") if rows else None


def _split_from_stats(stats: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
    for name in names:
        val = stats.get(name)
        if isinstance(val, dict) and val:
            return val
    return None


def _count_of(v: Any) -> Any:
    if isinstance(v, dict):
        for key in ("rows", "count", "n", "pairs"):
            if isinstance(v.get(key), (int, float)):
                return v[key]
        return None
    return v if isinstance(v, (int, float)) else None


def _mean_lengths(v: Any) -> tuple[str, dict[str, Any]]:
    """``("tokens", {"prompt": 41.2, ...})`` from a data_stats group entry (tokens preferred over chars)."""
    if isinstance(v, dict):
        for unit in ("tokens", "chars"):
            m = v.get(f"mean_{unit}")
            if isinstance(m, dict) and m:
                return unit, m
    return "", {}


def _split_table(title: str, split: dict[str, Any]) -> Table:
    counts = {k: _count_of(v) for k, v in split.items()}
    total = sum(c for c in counts.values() if isinstance(c, (int, float))) or 0
    unit = next((u for u in (_mean_lengths(v)[0] for v in split.values()) if u), "")
    rows = []
    for k, c in sorted(counts.items(), key=lambda kv: -(kv[1] or 0)):
        share = f"{100 * c / total:.1f}%" if total and isinstance(c, (int, float)) else "—"
        means = _mean_lengths(split[k])[1]
        row = [k, fmt_num(c) if c is not None else "—", share]
        if unit:
            row += [fmt_num(means.get(f), 3) if means.get(f) is not None else "—" for f in LENGTH_FIELDS]
        rows.append(row)
    headers = [title, "Pairs", "Share"] + ([f"Mean {f} {unit}" for f in LENGTH_FIELDS] if unit else [])
    return Table(headers, rows, caption=f"Split by {title.lower()}")


def _sources_table(summ: dict[str, Any]) -> Table | None:
    """Read / kept / used / skipped per source with the skip reasons."""
    srcs = [s for s in summ.get("sources") or [] if isinstance(s, dict)]
    has_used = any("used" in s for s in srcs)
    rows = []
    for src in srcs:
        skipped = src.get("skipped") or {}
        n_skip = sum(v for v in skipped.values() if isinstance(v, (int, float)))
        why = ", ".join(f"{k}: {v}" for k, v in skipped.items() if v) or "—"
        row = [str(src.get("name", "?")), str(src.get("kind", "")), fmt_num(src.get("read", "—")),
               fmt_num(src.get("kept", "—"))] + ([fmt_num(src.get("used", "—"))] if has_used else [])
        rows.append(row + [fmt_num(n_skip), why])
    headers = ["Source", "Kind", "Read", "Kept"] + (["Used"] if has_used else []) + ["Skipped", "Skip reasons"]
    return Table(headers, rows, caption="Sources") if rows else None


def _length_bias_table(stats: dict[str, Any]) -> Table | None:
    bias = stats.get("length_bias")
    if not isinstance(bias, dict):
        return None
    rows = []
    for unit, b in bias.items():
        if isinstance(b, dict) and b.get("count"):
            rows.append([unit, fmt_num(b.get("count")), fmt_num(b.get("mean_diff")), fmt_num(b.get("median_diff")),
                         f"{100 * b['frac_chosen_longer']:.1f}%" if isinstance(b.get("frac_chosen_longer"), float)
                         else "—"])
    if not rows:
        return None
    return Table(["Unit", "Pairs", "Mean chosen − rejected", "Median", "Chosen longer"], rows,
                 caption="Length bias (DPO can learn 'longer is better' when chosen answers are longer)")


def _data_facts(stats: dict[str, Any]) -> list[str]:
    facts = []
    if isinstance(stats.get("distinct_prompts"), int) and isinstance(stats.get("rows"), int):
        facts.append(f"{stats['distinct_prompts']:,} distinct prompts in {stats['rows']:,} pairs")
    tr = stats.get("template_refusals")
    if isinstance(tr, dict) and tr:
        facts.append("template refusals: " + ", ".join(f"{k} {v}" for k, v in tr.items()))
    trunc = stats.get("truncation")
    if isinstance(trunc, dict):
        for key, lim in (("prompts_over_max_prompt_length", "max_prompt_length"), ("pairs_over_max_length",
                                                                                   "max_length")):
            if key in trunc:
                facts.append(f"{trunc[key]} {key.split('_over_')[0]} over {lim} = {trunc.get(lim)} tokens")
    return facts


def data_section(run: RunData) -> Section:
    """Counts kept/skipped per source and reason, category and language split, data plots."""
    sec = Section("data", "Data")
    summ, stats = run.data_summary, run.data_stats or {}
    if summ is None and not stats and not any(run.plot(n) for n, _ in DATA_PLOTS):
        sec.blocks.append(not_run("data stage", "data/data_summary.json is missing"))
        return sec
    if summ:
        total = summ.get("total") or {}
        sec.blocks.append(Para(f"{fmt_num(total.get('read', '?'))} rows read, {fmt_num(total.get('kept', '?'))} "
                               f"kept; {fmt_num(summ.get('train_rows', '?'))} training pairs, "
                               f"{fmt_num(summ.get('eval_rows', '?'))} held-out pairs."))
        if table := _sources_table(summ):
            sec.blocks.append(table)
    side: list = [t for t in [_reason_table(((summ or {}).get("total") or {}).get("skipped") or {})] if t]
    if summ and not stats.get("by_lang") and isinstance(summ.get("by_lang"), dict) and summ["by_lang"]:
        stats = {**stats, "by_lang": summ["by_lang"]}
    if facts := _data_facts(stats):
        side.append(Note("Data checks", facts, kind="info"))
    for names, title in ((("by_lang", "per_language", "languages"), "Language"),
                         (("by_category", "per_category", "categories"), "Category"),
                         (("by_source", "per_source"), "Source")):
        split = _split_from_stats(stats, names)
        if split:
            side.append(_split_table(title, split))
    if bias := _length_bias_table(stats):
        side.append(bias)
    if side:
        sec.blocks.append(Columns(side))
    images = [Image(path, caption, caption) for name, caption in DATA_PLOTS if (path := run.plot(name))]
    if images:
        sec.blocks.append(Gallery(images))
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
    if plots:
        sec.blocks.append(Gallery([Image(p, p.stem.replace("_", " ").capitalize(), "") for p in plots]))
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
