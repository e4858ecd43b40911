"""Load one configured source: read, convert, validate, filter, hold out, exclude eval prompts, dedupe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetyalign.data.config import DataConfig, SourceConfig
from safetyalign.data.readers import RawRow, read_local, read_source
from safetyalign.data.sources import CONVERTERS
from safetyalign.data.split import in_holdout_part, normalize_prompt
from safetyalign.data.validate import Skip, SkipLog, check_pair
from safetyalign.errors import DataError, SafetyAlignError
from safetyalign.logs import get_logger
from safetyalign.paths import resolve_data_path

log = get_logger(__name__)

BENIGN_KINDS = ("helpful_pairs", "coconot")  # their prompts should be answered: no harm category to hold out
PROMPT_COLUMNS = ("prompt", "prompt_en", "goal", "Goal", "instruction", "question", "prompts_final", "text", "query")


def source_name(src: SourceConfig, index: int) -> str:
    """Display name: ``source.name`` or ``kind:file``."""
    if src.name:
        return src.name
    tail = src.path.rstrip("/").split("/")[-1].split(":")[-1] or src.path
    return f"{src.kind}:{tail}"


def _matches(value: Any, expected: str) -> bool:
    negate = expected.startswith("!")
    options = {o.strip() for o in expected.lstrip("!").split("|")}
    hit = value is not None and str(value).strip() in options
    return hit != negate


def apply_filter(raw: dict[str, Any], pair: dict[str, Any], flt: dict[str, str]) -> None:
    """Raise ``Skip('filtered')`` unless every ``field: value`` matches the raw row (or the converted pair)."""
    for key, expected in flt.items():
        value = raw.get(key, pair.get(key))
        if not _matches(value, expected):
            raise Skip("filtered", key, f"{value!r} does not match {expected!r}")


def load_source(src: SourceConfig, index: int, cfg: DataConfig, excluded: set[str] | None = None,
                name: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Validated pairs of one source and its summary ``{name, kind, path, read, kept, skipped, examples}``."""
    name = name or source_name(src, index)
    raw_rows = read_source(src.path, src.split, f"data.sources[{index}]", src.subset, src.data_dir)
    skips = SkipLog(name)
    convert = CONVERTERS[src.kind]
    seen: set[tuple] = set()
    rows: list[dict[str, Any]] = []
    for raw in raw_rows:
        try:
            pair = _convert_one(raw, src, cfg, convert, excluded)
        except Skip as skip:
            skips.add(raw.where, skip)
            continue
        key = (normalize_prompt(pair["prompt"]), pair["chosen"], pair["rejected"])
        if cfg.dedupe and key in seen:
            skips.add(raw.where, Skip("duplicate", "prompt/chosen/rejected", "repeats an earlier row"))
            continue
        seen.add(key)
        rows.append({**pair, "source": name, "kind": src.kind})
    summary = {"name": name, "kind": src.kind, "path": src.path, "split": src.split, "read": len(raw_rows),
               "kept": len(rows), "skipped": dict(sorted(skips.counts.items())), "examples": skips.examples}
    log.info("%s: read %d, kept %d, skipped %d %s", name, len(raw_rows), len(rows), skips.total,
             dict(skips.counts) or "")
    return rows, summary


def _convert_one(raw: RawRow, src: SourceConfig, cfg: DataConfig, convert, excluded: set[str] | None) -> dict:
    if "__invalid__" in raw.data:
        raise Skip(raw.data.get("__reason__", "invalid_json"), "row", raw.data["__invalid__"])
    pair = convert(raw.data, src, cfg.seed)
    check_pair(pair, cfg.max_chars)
    apply_filter(raw.data, pair, src.filter)
    if src.holdout and not in_holdout_part(pair["prompt"], src.holdout.part, src.holdout.fraction):
        raise Skip("holdout", "prompt", f"in the other ({'eval' if src.holdout.part == 'train' else 'train'}) part")
    if excluded and normalize_prompt(pair["prompt"]) in excluded:
        raise Skip("in_eval_set", "prompt", "appears in an exclude_prompts_from file")
    if cfg.holdout_categories and src.kind not in BENIGN_KINDS and isinstance(pair["prompt"], str):
        from safetyalign.eval.provenance import source_of_path
        from safetyalign.taxonomy import harm_category

        harm = harm_category(source_of_path(src.path), pair.get("category"), pair["prompt"])
        if harm in cfg.holdout_categories:
            raise Skip("held_out_category", "prompt", f"harm category {harm} is held out (data.holdout_categories)")
    return pair


def suite_prompts(spec: str) -> list[Any]:
    """Prompts of one exclusion entry: a file ('shared:' allowed; every prompt-like column), else an evaluation
    suite name as ``safetyalign.eval.suites.load_suite`` understands it (``redteam_basic``, ``xsafety_zh@eval``)."""
    path = resolve_data_path(spec)
    if path.exists():
        return [v for raw in read_local(path, display=spec) for col in PROMPT_COLUMNS
                if isinstance(v := raw.data.get(col), (str, list)) and v]
    try:
        from safetyalign.eval.suites import load_suite
    except ImportError:  # evaluation package not installed: built-in suite files only
        load_suite = None
    if load_suite is not None:
        try:
            return [p.prompt for p in load_suite(spec)]
        except SafetyAlignError:
            pass
    builtin = Path(__file__).resolve().parent.parent / "eval" / "suites" / f"{spec}.jsonl"
    if builtin.is_file():
        return [r.data["prompt"] for r in read_local(builtin) if isinstance(r.data.get("prompt"), str)]
    raise DataError(f"exclude_prompts_from: '{spec}' is neither a file nor an evaluation suite name")


def load_excluded_prompts(specs: list[str]) -> set[str]:
    """Normalised prompts of every given suite file or suite name."""
    prompts: set[str] = set()
    for spec in specs:
        found = {normalize_prompt(p) for p in suite_prompts(spec)}
        log.info("exclude_prompts_from %s: %d prompts", spec, len(found))
        prompts |= found
    return prompts
