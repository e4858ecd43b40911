"""Dataset statistics (``data_stats.json``): lengths in characters and tokens per field, per source, per category
and per language, plus the chosen-vs-rejected length difference (the DPO length-bias signal)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from safetyalign.data.split import prompt_text
from safetyalign.data.templates import is_template_refusal
from safetyalign.data.validate import generated_field
from safetyalign.io import write_json
from safetyalign.logs import get_logger

log = get_logger(__name__)

FIELDS = ("prompt", "chosen", "rejected")


def describe(values: list[float]) -> dict[str, float]:
    """count/min/mean/median/p95/max of a list of numbers (empty -> count 0)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"count": len(values), "min": ordered[0], "mean": round(statistics.fmean(values), 2),
            "median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def field_texts(rows: list[dict[str, Any]]) -> dict[str, list[str | None]]:
    """Texts per field; a response is None where it still needs on-policy generation."""
    return {
        "prompt": [prompt_text(r["prompt"]) for r in rows],
        "chosen": [None if generated_field(r) == "chosen" else r["chosen"] for r in rows],
        "rejected": [None if generated_field(r) == "rejected" else r["rejected"] for r in rows],
    }


def token_lengths(texts: list[str | None], tokenizer: Any, batch: int = 256) -> list[int | None]:
    """Token count of each text (no special tokens); None stays None."""
    out: list[int | None] = [None] * len(texts)
    idx = [i for i, t in enumerate(texts) if t is not None]
    starts = range(0, len(idx), batch)
    if len(idx) > 5000:  # a visible progress bar only where counting takes a while
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="counting tokens", unit="batch", leave=False)
    for start in starts:
        chunk = idx[start:start + batch]
        enc = tokenizer([texts[i] for i in chunk], add_special_tokens=False)["input_ids"]
        for i, ids in zip(chunk, enc):
            out[i] = len(ids)
    return out


def compute_lengths(rows: list[dict[str, Any]], tokenizer: Any = None) -> dict[str, dict[str, list]]:
    """``{"chars": {field: [...]}, "tokens": {field: [...]}}`` (tokens only with a tokenizer)."""
    texts = field_texts(rows)
    lengths: dict[str, dict[str, list]] = {"chars": {f: [None if t is None else len(t) for t in texts[f]]
                                                     for f in FIELDS}}
    if tokenizer is not None:
        lengths["tokens"] = {f: token_lengths(texts[f], tokenizer) for f in FIELDS}
    return lengths


def _present(values: list) -> list:
    return [v for v in values if v is not None]


def length_bias(chosen: list, rejected: list) -> dict[str, Any]:
    """Per-row chosen - rejected length: mean, median, share of rows where chosen is longer / shorter."""
    diffs = [c - r for c, r in zip(chosen, rejected) if c is not None and r is not None]
    if not diffs:
        return {"count": 0}
    return {"count": len(diffs), "mean_diff": round(statistics.fmean(diffs), 2),
            "median_diff": statistics.median(diffs),
            "frac_chosen_longer": round(sum(d > 0 for d in diffs) / len(diffs), 4),
            "frac_chosen_shorter": round(sum(d < 0 for d in diffs) / len(diffs), 4),
            "mean_ratio_chosen_over_rejected": round(
                statistics.fmean(c / r for c, r in zip(chosen, rejected) if c is not None and r), 3)}


def _grouped(rows: list[dict], key: str, lengths: dict[str, dict[str, list]]) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[str(r.get(key) or "unknown")].append(i)
    out = {}
    for name, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        entry: dict[str, Any] = {"rows": len(idx)}
        for unit, per_field in lengths.items():
            entry[f"mean_{unit}"] = {f: describe(_present([per_field[f][i] for i in idx])).get("mean")
                                     for f in FIELDS}
        out[name] = entry
    return out


def compute_stats(rows: list[dict[str, Any]], tokenizer: Any = None) -> tuple[dict[str, Any], dict]:
    """The statistics dict and the raw lengths (for plots)."""
    lengths = compute_lengths(rows, tokenizer)
    stats: dict[str, Any] = {
        "rows": len(rows),
        "needs_generation_rows": sum(1 for r in rows if r.get("needs_generation")),
        "tokenizer": getattr(tokenizer, "name_or_path", None) if tokenizer is not None else None,
        "length": {unit: {f: describe(_present(v)) for f, v in per_field.items()} for unit, per_field in
                   lengths.items()},
        "length_bias": {unit: length_bias(per_field["chosen"], per_field["rejected"])
                        for unit, per_field in lengths.items()},
        "by_source": _grouped(rows, "source", lengths),
        "length_bias_by_source": _bias_by_source(rows, lengths),
        "by_category": _grouped(rows, "category", lengths) if any(r.get("category") for r in rows) else {},
        "by_lang": _grouped(rows, "lang", lengths),
        "lang_by_source": {s: dict(c) for s, c in _lang_by_source(rows).items()},
        "template_refusals": {"chosen": sum(is_template_refusal(r["chosen"]) for r in rows),
                              "rejected": sum(is_template_refusal(r["rejected"]) for r in rows)},
        "distinct_prompts": len({prompt_text(r["prompt"]).strip().lower() for r in rows}),
    }
    return stats, lengths


def _bias_by_source(rows: list[dict], lengths: dict[str, dict[str, list]]) -> dict[str, Any]:
    unit = "tokens" if "tokens" in lengths else "chars"
    out = {}
    for name in sorted({str(r.get("source", "unknown")) for r in rows}):
        idx = [i for i, r in enumerate(rows) if str(r.get("source", "unknown")) == name]
        out[name] = {"unit": unit, **length_bias([lengths[unit]["chosen"][i] for i in idx],
                                                 [lengths[unit]["rejected"][i] for i in idx])}
    return out


def _lang_by_source(rows: list[dict]) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        out[str(r.get("source", "unknown"))][str(r.get("lang", "unknown"))] += 1
    return out


def truncation_stats(rows: list[dict[str, Any]], tokenizer: Any, system_prompt: str | None,
                     max_prompt_length: int | None, max_length: int | None) -> dict[str, Any]:
    """How many pairs exceed the model's limits once rendered with the chat template (what training sees)."""
    from safetyalign.chat import render_prompt, render_response

    p_len = token_lengths([render_prompt(tokenizer, r["prompt"], system_prompt) for r in rows], tokenizer)
    c_len = token_lengths([render_response(tokenizer, r["chosen"]) for r in rows], tokenizer)
    j_len = token_lengths([render_response(tokenizer, r["rejected"]) for r in rows], tokenizer)
    r_len = [max(c or 0, j or 0) for c, j in zip(c_len, j_len)]
    out: dict[str, Any] = {"rendered_prompt_tokens": describe(_present(p_len))}
    if max_prompt_length:
        out["max_prompt_length"] = max_prompt_length
        out["prompts_over_max_prompt_length"] = sum(1 for n in p_len if n and n > max_prompt_length)
    if max_length:
        out["max_length"] = max_length
        out["pairs_over_max_length"] = sum(1 for p, r in zip(p_len, r_len) if (p or 0) + (r or 0) > max_length)
    return out


def analyse(data: Any, tokenizer: Any, out_dir: Path, plots_dir: Path | None = None,
            model_cfg: Any = None) -> dict[str, Any]:
    """Write ``out_dir/data_stats.json`` and (with ``plots_dir``) the data plots; return the statistics.

    ``data`` is a :class:`~safetyalign.data.build.DatasetBundle` or a list of rows; ``tokenizer`` may be None
    (character statistics only). With ``model_cfg`` (the config's ``model`` section) and a tokenizer, the stats
    also count pairs that the rendered chat format pushes over ``max_prompt_length`` / ``max_length``.
    """
    rows = data.rows if hasattr(data, "rows") else list(data)
    stats, lengths = compute_stats(rows, tokenizer)
    if tokenizer is not None and model_cfg is not None and rows:
        stats["truncation"] = truncation_stats(rows, tokenizer, model_cfg.system_prompt,
                                               model_cfg.max_prompt_length, model_cfg.max_length)
    if hasattr(data, "train"):
        stats["train_rows"], stats["eval_rows"] = len(data.train), len(data.eval)
    if plots_dir is not None:
        from safetyalign.data.plots import write_plots

        stats["plots"] = [str(p) for p in write_plots(rows, stats, lengths, Path(plots_dir))]
    write_json(Path(out_dir) / "data_stats.json", stats)
    return stats
