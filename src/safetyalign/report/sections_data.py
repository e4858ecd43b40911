"""The data section of the report: kept/skipped counts per source and reason, splits, length bias, data plots."""

from __future__ import annotations

from typing import Any

from safetyalign.report.doc import Columns, Image, Note, Para, Section, Table, layout_images
from safetyalign.report.loaders import RunData
from safetyalign.report.sections_run import fmt_num, not_run

DATA_PLOTS = [("data_distribution.png", "Data distribution"), ("category_counts.png", "Pairs per category"),
              ("language_split.png", "Language split"), ("length_bias.png", "Length bias (chosen vs rejected)")]
LENGTH_FIELDS = ("prompt", "chosen", "rejected")


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
    sec.blocks += layout_images(images)
    return sec
