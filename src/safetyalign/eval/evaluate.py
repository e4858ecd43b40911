"""The evaluation stage: suites -> generations (base and tuned from one model) -> judges -> metrics -> JSON.

``evaluate(cfg, run_dir, model=None, tokenizer=None, adapter_dir=None)`` writes
``run_dir/eval/evaluation_results.json`` (schema in docs/run_folder.md), a copy at ``cfg.eval.output`` and
``run_dir/eval/generations_<base|tuned>.jsonl`` (every response with every judge's verdict and raw output).
Prompts are processed in chunks of ``CHUNK`` (generate base and tuned, judge, count, write), so memory stays flat
in the number of prompts: metrics are counted as rows go by and the records are streamed into the results file.
Generations are cached per model as they are produced, so an interrupted evaluation resumes where it stopped;
cached rows are reused only when the base and adapter weights, the decoding settings and the suite are identical
(content digests, see :mod:`safetyalign.eval.fingerprint`). Result files appear complete or not at all.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safetyalign.eval.judges.base import Judge
from safetyalign.eval.results_writer import StreamedOutputs
from safetyalign.eval.suites import SuitePrompt, load_suites
from safetyalign.logs import get_logger

log = get_logger(__name__)
JUDGE_ACCURACY_FILE = Path(__file__).resolve().parent / "judge_assets" / "judge_accuracy.json"


def run_judges(judges: list[Judge], prompts: list[str], responses: list[str]) -> list[dict[str, dict[str, Any]]]:
    """``[{judge_name: verdict_dict}]`` per response."""
    out: list[dict[str, dict[str, Any]]] = [{} for _ in responses]
    for judge in judges:
        for row, v in zip(out, judge.judge(prompts, responses)):
            row[judge.name] = v.to_dict()
    return out


def judge_accuracy() -> dict[str, Any]:
    """Measured accuracy per judge on the hand-labelled set (written by benchmarks/judge_accuracy.py)."""
    try:
        data = json.loads(JUDGE_ACCURACY_FILE.read_text(encoding="utf-8"))
        return {k: v["accuracy"] for k, v in data.get("judges", {}).items() if isinstance(v, dict)}
    except (OSError, ValueError, KeyError):
        return {}


def judge_accuracy_by_source() -> dict[str, Any]:
    """``{judge: {test source: {verdict: scores}}}`` on sources the judges never saw in training
    (written by benchmarks/judge_cross_source.py)."""
    try:
        data = json.loads(JUDGE_ACCURACY_FILE.read_text(encoding="utf-8"))
        return dict(data.get("cross_source", {}).get("judges", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def _load(cfg: Any, model: Any, tokenizer: Any, adapter_dir: Path | None) -> tuple[Any, Any]:
    from safetyalign.models.loading import load_model, load_tokenizer

    if model is None:
        model = load_model(cfg.model)
    if tokenizer is None:
        tokenizer = load_tokenizer(cfg.model)
    if adapter_dir is not None and not hasattr(model, "peft_config"):
        from peft import PeftModel

        from safetyalign.models.loading import check_adapter_folder

        model = PeftModel.from_pretrained(model, str(check_adapter_folder(adapter_dir)))
        model.eval()
    return model, tokenizer


def _judges(cfg: Any) -> tuple[list[Judge], str, str]:
    """The judges, the primary judge's name (refusal verdicts) and the harm judge's name (attack success)."""
    from safetyalign.eval.judges.registry import make_judge

    harm = getattr(cfg.eval, "harm_judge", None)
    names = list(dict.fromkeys(cfg.eval.judges + [cfg.eval.primary_judge] + ([harm] if harm else [])))
    kwargs = {"strongreject": getattr(cfg.eval, "strongreject", False), "fmt": getattr(cfg.eval, "judge_format", None)}
    judges = [make_judge(n, **kwargs) if n.startswith("llm:") else make_judge(n) for n in names]
    by_name = dict(zip(names, judges))  # an llm judge's name carries its format
    return judges, by_name[cfg.eval.primary_judge].name, by_name[harm or cfg.eval.primary_judge].name


CHUNK = 512  # prompts per chunk: generation, judging and writing proceed chunk by chunk


def _gen_keys(cfg: Any, model: Any, tokenizer: Any, models: dict[str, dict[str, Any]],
              prompts: list[SuitePrompt]) -> dict[str, str]:
    """Content-based cache key per model; the digests are also recorded in ``models``."""
    from safetyalign.eval import fingerprint as fp

    base, suite = fp.base_fingerprint(cfg.model), fp.suite_fingerprint(prompts)
    template = getattr(tokenizer, "chat_template", None)
    keys = {}
    for key, info in models.items():
        adapter = fp.adapter_fingerprint(model) if key == "tuned" else None
        info.update(base_sha256=base, adapter_sha256=adapter)
        keys[key] = fp.generation_key(cfg, base, adapter, suite, template if isinstance(template, str) else None)
    return keys


def _chunk_rows(key: str, model: Any, tokenizer: Any, chunk: list[SuitePrompt], cfg: Any, cache: Any,
                stats: Any, judges: list[Judge], primary: str, harm: str | None = None) -> list[dict[str, Any]]:
    """Generate (base = adapter disabled) and judge one chunk for one model."""
    from safetyalign.eval.gencache import generate_cached
    from safetyalign.eval.generate import adapter_disabled, adapter_merged

    with adapter_disabled(model) if key == "base" else adapter_merged(model):
        responses = generate_cached(model, tokenizer, chunk, cfg, cache, stats, f"generate {key}")
    verdicts = run_judges(judges, [p.prompt for p in chunk], responses)
    return [{"response": resp, "verdict": js[primary]["verdict"], "refused": js[primary]["refused"],
             "harmful": js[harm or primary]["harmful"], "judges": js} for resp, js in zip(responses, verdicts)]


def _suites_info(prompts: list[SuitePrompt]) -> dict[str, dict[str, Any]]:
    suites: dict[str, dict[str, Any]] = {}
    for p in prompts:
        s = suites.setdefault(p.suite, {"n": 0, "expected": p.expected})
        s["n"] += 1
        if s["expected"] != p.expected:
            s["expected"] = "mixed"
    return suites


def _leave_source_out(cfg: Any, run_dir: Path, prompts: list[SuitePrompt]) -> dict[str, Any]:
    """Label every prompt unseen / in_distribution from the run's training sources, and flag held-out categories."""
    from safetyalign.eval.provenance import label_suites, training_sources

    trained = training_sources(cfg, run_dir)
    suites = label_suites(prompts, trained, cfg.eval.require_unseen)
    held = set(getattr(cfg.data, "holdout_categories", []) or [])
    for p in prompts:
        p.category_heldout = p.expected == "refuse" and p.harm in held
    unseen = sorted(s for s, v in suites.items() if v["split"] == "unseen")
    log.info("leave-source-out: %d unseen suites (%s); in-distribution: %s", len(unseen), ", ".join(unseen),
             ", ".join(sorted(set(suites) - set(unseen))) or "none")
    return {"training_sources": trained, "suites": suites, "holdout_categories": sorted(held)}


def _capability(cfg: Any, run_dir: Path, model: Any, tokenizer: Any, has_adapter: bool) -> dict[str, Any]:
    from safetyalign.data.split import normalize_prompt
    from safetyalign.eval.capability import capability
    from safetyalign.io import iter_jsonl

    if not cfg.eval.capability.sources:
        return {}
    train = Path(run_dir) / "data" / "train.jsonl"
    exclude = {normalize_prompt(r["prompt"]) for _, r in iter_jsonl(train) if isinstance(r.get("prompt"), str)} \
        if train.is_file() else set()
    return capability(model, tokenizer, cfg, exclude, has_adapter)


def _run_chunks(cfg: Any, model: Any, tokenizer: Any, prompts: list[SuitePrompt], models: dict[str, Any],
                judges: list[Judge], primary: str, out: StreamedOutputs, harm: str | None = None) -> dict[str, Any]:
    """Every chunk through every model; rows go to disk as they are made. Returns the generation stats."""
    from safetyalign.eval.gencache import GenerationCache
    from safetyalign.eval.generate import GenerationStats

    keys = _gen_keys(cfg, model, tokenizer, models, prompts)
    caches = {k: GenerationCache(out.dir / f"generations_{k}.jsonl", keys[k]) for k in models}
    stats = {k: GenerationStats() for k in models}
    seconds = dict.fromkeys(models, 0.0)
    for start in range(0, len(prompts), CHUNK):
        chunk = prompts[start:start + CHUNK]
        rows = {}
        for k in models:
            t0 = time.perf_counter()
            rows[k] = _chunk_rows(k, model, tokenizer, chunk, cfg, caches[k], stats[k], judges, primary, harm)
            seconds[k] += time.perf_counter() - t0
        out.add(chunk, rows, keys)
    for k in models:
        out.timings.record(f"eval_{k}", seconds[k])
        stats[k].extra.setdefault("reused", 0)
    return {k: v.to_dict() for k, v in stats.items()}


def evaluate(cfg: Any, run_dir: Path, model: Any = None, tokenizer: Any = None, adapter_dir: Path | None = None,
             base_only: bool = False, keep_records: bool = True) -> dict[str, Any]:
    """Generate, judge and score; returns the evaluation_results dict (also written to disk).

    ``model``/``tokenizer`` are reused when given (a PEFT model counts as tuned, its disabled adapter as base);
    ``adapter_dir`` loads an adapter onto the base weights; ``base_only`` evaluates the base model alone.
    ``keep_records=False`` leaves ``records`` out of the returned dict (they are in the file), so memory does not
    grow with the number of prompts."""
    from safetyalign.runs import Timings

    out_dir = Path(run_dir) / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    if adapter_dir is not None and model is None and not base_only:  # refuse a bad adapter before loading
        from safetyalign.models.loading import check_adapter_folder

        check_adapter_folder(adapter_dir)
    prompts = load_suites(cfg.eval.suites, cfg.eval.max_per_suite, cfg.eval.seed)
    lso = _leave_source_out(cfg, run_dir, prompts)
    log.info("evaluating %d prompts from %s", len(prompts), ", ".join(cfg.eval.suites))
    model, tokenizer = _load(cfg, model, tokenizer, None if base_only else adapter_dir)
    has_adapter = hasattr(model, "peft_config") and not base_only
    judges, primary, harm = _judges(cfg)
    models = {"base": {"name_or_path": cfg.model.name_or_path, "adapter": None}}
    if has_adapter:
        adapter = str(adapter_dir) if adapter_dir else "<in-memory adapter>"
        models["tuned"] = {"name_or_path": cfg.model.name_or_path, "adapter": adapter}
    out = StreamedOutputs(out_dir, list(models), keep_records, Timings(Path(run_dir) / "timings.json"))
    try:
        gen_stats = _run_chunks(cfg, model, tokenizer, prompts, models, judges, primary, out, harm)
        with out.timings.stage("eval_capability"):
            cap = _capability(cfg, run_dir, model, tokenizer, has_adapter)
        summary = {k: c.summary() for k, c in out.counters.items()}
        for k in summary:
            if k in cap:
                summary[k]["capability/mean_loglik"] = cap[k]
        if "delta" in cap:
            summary["tuned"]["capability/delta_loglik"] = cap["delta"]
        head = {
            "schema_version": 1, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "models": models,
            "judge": {"primary": primary, "harm": harm, "all": [j.name for j in judges],
                      "accuracy": {k: v for k, v in judge_accuracy().items() if k in [j.name for j in judges]},
                      "accuracy_by_source": {k: v for k, v in judge_accuracy_by_source().items()
                                             if k in [j.name for j in judges]}},
            "generation": {**vars(cfg.eval.generation), "system_prompt": cfg.model.system_prompt},
            "generation_stats": gen_stats, "suites": _suites_info(prompts), "leave_source_out": lso,
            "summary": summary, "capability": cap,
        }
        out.finish(head, Path(cfg.eval.output) if cfg.eval.output else None)
    finally:
        out.cleanup()
    return {**head, "records": out.records} if keep_records else head
