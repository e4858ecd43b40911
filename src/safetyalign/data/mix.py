"""Mixing several sources by ``count`` or ``weight``, capping by ``max_rows``, and the prompt-grouped split.

Rules (all deterministic by ``data.seed``):

* a source with ``count`` contributes ``min(count, kept)`` rows, drawn at random;
* a source with neither count nor weight contributes all its rows;
* sources with ``weight`` share what is left: with ``max_rows`` the remaining budget, else the largest total
  that every weighted source can fill without repeating rows (like LLaMA-Factory's ``interleave_under``);
* the mix is shuffled and cut to ``max_rows``;
* the eval part is a set of whole prompt groups (a prompt never lands in both parts).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from safetyalign.data.config import DataConfig
from safetyalign.data.split import normalize_prompt
from safetyalign.logs import get_logger

log = get_logger(__name__)


def _take(rows: list[dict], n: int, seed: int, index: int) -> list[dict]:
    if n >= len(rows):
        return list(rows)
    rng = random.Random(f"{seed}:take:{index}")
    picked = sorted(rng.sample(range(len(rows)), n))
    return [rows[i] for i in picked]


def plan_counts(available: list[int], cfg: DataConfig) -> list[int]:
    """How many rows each source contributes (see the module doc)."""
    sources = cfg.sources
    plan = [0] * len(sources)
    weighted = []
    for i, (src, n) in enumerate(zip(sources, available)):
        if src.count is not None:
            plan[i] = min(src.count, n)
            if src.count > n:
                log.warning("source %d asks count=%d but only %d rows are valid: using %d", i, src.count, n, n)
        elif src.weight is None:
            plan[i] = n
        else:
            weighted.append(i)
    if weighted:
        total_w = sum(sources[i].weight for i in weighted)  # type: ignore[misc]
        shares = {i: sources[i].weight / total_w for i in weighted}  # type: ignore[operator]
        if cfg.max_rows is not None:
            budget = max(0, cfg.max_rows - sum(plan))
        else:
            filled = [i for i in weighted if available[i]]
            budget = min(available[i] / shares[i] for i in filled) if filled else 0
        for i in weighted:
            plan[i] = min(available[i], int(round(budget * shares[i])))
    return plan


def mix(per_source: list[list[dict[str, Any]]], cfg: DataConfig) -> tuple[list[dict[str, Any]], list[int]]:
    """The shuffled mixture and the number of rows used from each source."""
    plan = plan_counts([len(r) for r in per_source], cfg)
    mixed = [row for i, rows in enumerate(per_source) for row in _take(rows, plan[i], cfg.seed, i)]
    random.Random(f"{cfg.seed}:shuffle").shuffle(mixed)
    if cfg.max_rows is not None and len(mixed) > cfg.max_rows:
        mixed = mixed[:cfg.max_rows]
    used = [sum(1 for r in mixed if r["source"] == rows[0]["source"]) if rows else 0 for rows in per_source]
    return mixed, used


def split_train_eval(rows: list[dict[str, Any]], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out about ``fraction`` of the rows as whole prompt groups; row order is kept inside each part."""
    if fraction <= 0 or len(rows) < 2:
        return list(rows), []
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[normalize_prompt(row["prompt"])].append(i)
    keys = sorted(groups)
    random.Random(f"{seed}:split").shuffle(keys)
    target = max(1, round(len(rows) * fraction))
    eval_idx: set[int] = set()
    for key in keys:
        if len(eval_idx) >= target:
            break
        if len(groups) > 1 and len(eval_idx) + len(groups[key]) > 2 * target and eval_idx:
            continue  # skip a very large group that would overshoot the target
        eval_idx.update(groups[key])
    train = [r for i, r in enumerate(rows) if i not in eval_idx]
    evals = [r for i, r in enumerate(rows) if i in eval_idx]
    return train, evals
