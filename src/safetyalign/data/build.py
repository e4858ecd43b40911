"""``build_dataset``: every configured source loaded, validated, mixed and split; files written to the run folder.

Outputs under ``<run_dir>/data/`` (see docs/run_folder.md): ``data_summary.json``, ``train.jsonl``,
``eval.jsonl``, ``samples.json``. Rows of ``refusal_pairs`` sources without a rejected column carry
``needs_generation: true`` and an empty ``rejected``; fill them with
:func:`safetyalign.data.formatting.fill_rejected` before training.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetyalign.data.load import load_excluded_prompts, load_source, source_name
from safetyalign.data.mix import mix, split_train_eval
from safetyalign.data.samples import draw_samples
from safetyalign.io import write_json, write_jsonl
from safetyalign.logs import get_logger

log = get_logger(__name__)


@dataclass
class DatasetBundle:
    """The built dataset: train/eval rows, the summary (data_summary.json) and whether generation is needed."""

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    summary: dict[str, Any]
    needs_generation: bool = False
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Train and eval rows together."""
        return self.train + self.eval


def unique_names(sources: list) -> list[str]:
    """Display names of the sources, with ``#index`` added to repeats."""
    names, seen = [], Counter()
    for i, src in enumerate(sources):
        name = source_name(src, i)
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}#{i}")
    return names


def build_dataset(cfg: Any, run_dir: Path | None = None, tokenizer: Any = None) -> DatasetBundle:
    """Load, validate, mix and split ``cfg.data``; write the data files when ``run_dir`` is given.

    ``tokenizer`` is accepted for symmetry with the other stages and not needed here (token statistics are
    computed by :func:`safetyalign.data.stats.analyse`).
    Raises :class:`~safetyalign.errors.DataError` (one line, naming the file) when a source cannot be read.
    """
    data = cfg.data
    if not data.sources:
        from safetyalign.errors import DataError

        raise DataError("data.sources is empty: add at least one source")
    _check_holdout_sources(data)
    names = unique_names(data.sources)
    excluded = load_excluded_prompts(data.exclude_prompts_from) if data.exclude_prompts_from else None
    per_source, summaries = [], []
    for i, src in enumerate(data.sources):
        rows, summary = load_source(src, i, data, excluded, name=names[i])
        per_source.append(rows)
        summaries.append(summary)
    mixed, used = mix(per_source, data)
    for summary, n in zip(summaries, used):
        summary["used"] = n
    train, evals = split_train_eval(mixed, data.eval_fraction, data.seed)
    summary = _summary(summaries, train, evals, data)
    bundle = DatasetBundle(train, evals, summary, summary["needs_generation"],
                           draw_samples(mixed, data.num_samples, data.seed))
    log.info("data: %d train / %d eval rows from %d sources (skipped %d)", len(train), len(evals),
             len(summaries), sum(summary["total"]["skipped"].values()))
    if not mixed:
        log.warning("data: no usable pairs left; see the skip reasons in data_summary.json")
    if run_dir is not None:
        write_bundle(bundle, Path(run_dir))
    return bundle


def _check_holdout_sources(data: Any) -> None:
    from safetyalign.errors import DataError
    from safetyalign.eval.provenance import origin, source_of_path

    held = {origin(s) for s in data.holdout_sources}
    for i, src in enumerate(data.sources):
        sid = source_of_path(src.path)
        if src.count != 0 and origin(sid) in held:
            raise DataError(f"data.sources[{i}] ({src.path}): source '{sid}' is in data.holdout_sources")


def training_sources(sources: list[dict]) -> dict[str, int]:
    """``{source id: rows used}`` over the sources that contributed at least one row (leave-source-out record)."""
    from safetyalign.eval.provenance import source_of_path

    out: dict[str, int] = {}
    for s in sources:
        if s.get("used"):
            sid = source_of_path(s["path"])
            out[sid] = out.get(sid, 0) + int(s["used"])
    return out


def _summary(sources: list[dict], train: list[dict], evals: list[dict], data: Any) -> dict[str, Any]:
    skipped: Counter = Counter()
    for s in sources:
        skipped.update(s["skipped"])
    rows = train + evals
    return {
        "sources": sources,
        "total": {"read": sum(s["read"] for s in sources), "kept": sum(s["kept"] for s in sources),
                  "used": len(rows), "skipped": dict(sorted(skipped.items()))},
        "train_rows": len(train),
        "eval_rows": len(evals),
        "needs_generation": any(r.get("needs_generation") for r in rows),
        "needs_generation_rows": sum(1 for r in rows if r.get("needs_generation")),
        "by_lang": dict(Counter(r.get("lang", "unknown") for r in rows)),
        "seed": data.seed,
        "eval_fraction": data.eval_fraction,
        "max_rows": data.max_rows,
        "excluded_from": list(data.exclude_prompts_from),
        "training_sources": training_sources(sources),
        "holdout_sources": list(data.holdout_sources),
        "holdout_categories": list(data.holdout_categories),
    }


def write_bundle(bundle: DatasetBundle, run_dir: Path) -> Path:
    """Write data_summary.json, train.jsonl, eval.jsonl and samples.json under ``run_dir/data``."""
    out = run_dir / "data"
    write_jsonl(out / "train.jsonl", bundle.train)
    write_jsonl(out / "eval.jsonl", bundle.eval)
    write_json(out / "samples.json", bundle.samples)
    write_json(out / "data_summary.json", bundle.summary)
    return out


def load_bundle(run_dir: Path) -> DatasetBundle:
    """Read a bundle back from ``run_dir/data`` (e.g. after on-policy filling or on resume)."""
    from safetyalign.io import iter_jsonl, read_json

    out = Path(run_dir) / "data"
    train = [r for _, r in iter_jsonl(out / "train.jsonl")]
    evals = [r for _, r in iter_jsonl(out / "eval.jsonl")] if (out / "eval.jsonl").is_file() else []
    summary = read_json(out / "data_summary.json")
    samples = read_json(out / "samples.json") if (out / "samples.json").is_file() else []
    needs = any(r.get("needs_generation") for r in train + evals)
    return DatasetBundle(train, evals, summary, needs, samples)
