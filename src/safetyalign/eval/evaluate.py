"""The evaluation stage: suites -> generations (base and tuned from one model) -> judges -> metrics -> JSON.

``evaluate(cfg, run_dir, model=None, tokenizer=None, adapter_dir=None)`` writes
``run_dir/eval/evaluation_results.json`` (schema in docs/run_folder.md), a copy at ``cfg.eval.output`` and
``run_dir/eval/generations_<base|tuned>.jsonl`` (every response with every judge's verdict and raw output).
Generations are cached per model as they are produced, so an interrupted evaluation resumes where it stopped
(cached rows are reused only when prompt, model, adapter and decoding settings are identical).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safetyalign.eval.judges.base import Judge
from safetyalign.eval.suites import SuitePrompt, load_suites
from safetyalign.logs import get_logger

log = get_logger(__name__)
JUDGE_ACCURACY_FILE = Path(__file__).resolve().parent / "judge_assets" / "judge_accuracy.json"


def _gen_key(cfg: Any, model_name: str, adapter: str | None) -> str:
    gen = json.dumps({"gen": vars(cfg.eval.generation), "model": model_name, "adapter": adapter,
                      "system": cfg.model.system_prompt, "maxlen": cfg.model.max_prompt_length}, sort_keys=True,
                     default=str)
    return hashlib.sha256(gen.encode()).hexdigest()[:16]


def _cached(path: Path, key: str) -> dict[str, str]:
    from safetyalign.io import iter_jsonl

    if not path.is_file():
        return {}
    return {f"{r['id']}\x00{r['prompt']}": r["response"] for _, r in iter_jsonl(path)
            if r.get("gen_key") == key and isinstance(r.get("response"), str) and "id" in r and "prompt" in r}


def generate_cached(model: Any, tokenizer: Any, prompts: list[SuitePrompt], cfg: Any, path: Path, key: str,
                    desc: str) -> tuple[list[str], dict[str, Any]]:
    """Responses for ``prompts``, reusing rows cached in ``path`` and appending new ones batch by batch."""
    from safetyalign.eval.generate import GenerationStats, generate
    from safetyalign.io import append_jsonl

    cache = _cached(path, key)
    todo = [i for i, p in enumerate(prompts) if f"{p.id}\x00{p.prompt}" not in cache]
    if len(todo) < len(prompts):
        log.info("%s: %d of %d generations reused from %s", desc, len(prompts) - len(todo), len(prompts), path)
    stats = GenerationStats()

    def save(idx: list[int], responses: list[str]) -> None:
        for j, resp in zip(idx, responses):
            p = prompts[todo[j]]
            cache[f"{p.id}\x00{p.prompt}"] = resp
            append_jsonl(path, {"id": p.id, "prompt": p.prompt, "response": resp, "gen_key": key})

    if todo:
        generate(model, tokenizer, [prompts[i].prompt for i in todo], cfg.eval.generation,
                 system_prompt=cfg.model.system_prompt, max_prompt_length=cfg.model.max_prompt_length, stats=stats,
                 on_batch=save, desc=desc)
    stats.extra["reused"] = len(prompts) - len(todo)
    return [cache[f"{p.id}\x00{p.prompt}"] for p in prompts], stats.to_dict()


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

        from safetyalign.errors import ModelLoadError

        if not (Path(adapter_dir) / "adapter_config.json").is_file():
            raise ModelLoadError(f"{adapter_dir}: no adapter_config.json (not a PEFT adapter folder)")
        model = PeftModel.from_pretrained(model, str(adapter_dir))
        model.eval()
    return model, tokenizer


def _judges(cfg: Any) -> tuple[list[Judge], str, str]:
    """The judges, the primary judge's name (refusal verdicts) and the harm judge's name (attack success)."""
    from safetyalign.eval.judges.base import make_judge

    harm = getattr(cfg.eval, "harm_judge", None)
    names = list(dict.fromkeys(cfg.eval.judges + [cfg.eval.primary_judge] + ([harm] if harm else [])))
    kwargs = {"strongreject": getattr(cfg.eval, "strongreject", False), "fmt": getattr(cfg.eval, "judge_format", None)}
    judges = [make_judge(n, **kwargs) if n.startswith("llm:") else make_judge(n) for n in names]
    by_name = dict(zip(names, judges))  # an llm judge's name carries its format
    return judges, by_name[cfg.eval.primary_judge].name, by_name[harm or cfg.eval.primary_judge].name


def _eval_model(key: str, info: dict[str, Any], model: Any, tokenizer: Any, prompts: list[SuitePrompt], cfg: Any,
                judges: list[Judge], primary: str, out_dir: Path, harm: str | None = None
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Generate (base = adapter disabled), judge and write ``generations_<key>.jsonl`` for one model."""
    from safetyalign.eval.generate import adapter_disabled, adapter_merged
    from safetyalign.io import write_jsonl

    path = out_dir / f"generations_{key}.jsonl"
    gen_key = _gen_key(cfg, info["name_or_path"], info["adapter"])
    with adapter_disabled(model) if key == "base" else adapter_merged(model):
        responses, stats = generate_cached(model, tokenizer, prompts, cfg, path, gen_key, f"generate {key}")
    verdicts = run_judges(judges, [p.prompt for p in prompts], responses)
    rows = [{"response": resp, "verdict": js[primary]["verdict"], "refused": js[primary]["refused"],
             "harmful": js[harm or primary]["harmful"], "judges": js} for resp, js in zip(responses, verdicts)]
    write_jsonl(path, [{**p.to_dict(), **r, "gen_key": gen_key} for p, r in zip(prompts, rows)])
    return rows, stats


def _suites_info(prompts: list[SuitePrompt]) -> dict[str, dict[str, Any]]:
    suites: dict[str, dict[str, Any]] = {}
    for p in prompts:
        s = suites.setdefault(p.suite, {"n": 0, "expected": p.expected})
        s["n"] += 1
        if s["expected"] != p.expected:
            s["expected"] = "mixed"
    return suites


def evaluate(cfg: Any, run_dir: Path, model: Any = None, tokenizer: Any = None, adapter_dir: Path | None = None,
             base_only: bool = False) -> dict[str, Any]:
    """Generate, judge and score; returns the evaluation_results dict (also written to disk).

    ``model``/``tokenizer`` are reused when given (a PEFT model counts as tuned, its disabled adapter as base);
    ``adapter_dir`` loads an adapter onto the base weights; ``base_only`` evaluates the base model alone."""
    from safetyalign.eval.metrics import summarize
    from safetyalign.io import write_json
    from safetyalign.runs import Timings

    out_dir = Path(run_dir) / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    prompts = load_suites(cfg.eval.suites, cfg.eval.max_per_suite, cfg.eval.seed)
    log.info("evaluating %d prompts from %s", len(prompts), ", ".join(cfg.eval.suites))
    model, tokenizer = _load(cfg, model, tokenizer, None if base_only else adapter_dir)
    has_adapter = hasattr(model, "peft_config") and not base_only
    judges, primary, harm = _judges(cfg)
    timings = Timings(Path(run_dir) / "timings.json")
    models = {"base": {"name_or_path": cfg.model.name_or_path, "adapter": None}}
    if has_adapter:
        adapter = str(adapter_dir) if adapter_dir else "<in-memory adapter>"
        models["tuned"] = {"name_or_path": cfg.model.name_or_path, "adapter": adapter}
    per_model: dict[str, list[dict[str, Any]]] = {}
    gen_stats: dict[str, Any] = {}
    for key, info in models.items():
        with timings.stage(f"eval_{key}"):
            per_model[key], gen_stats[key] = _eval_model(key, info, model, tokenizer, prompts, cfg, judges, primary,
                                                         out_dir, harm)
    records = [{**p.to_dict(), **{k: per_model[k][i] for k in per_model}} for i, p in enumerate(prompts)]
    results = {
        "schema_version": 1, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": models,
        "judge": {"primary": primary, "harm": harm, "all": [j.name for j in judges],
                  "accuracy": {k: v for k, v in judge_accuracy().items() if k in [j.name for j in judges]},
                  "accuracy_by_source": {k: v for k, v in judge_accuracy_by_source().items()
                                         if k in [j.name for j in judges]}},
        "generation": {**vars(cfg.eval.generation), "system_prompt": cfg.model.system_prompt},
        "generation_stats": gen_stats, "suites": _suites_info(prompts),
        "summary": {k: summarize((p.to_dict(), per_model[k][i]) for i, p in enumerate(prompts)) for k in per_model},
        "records": records,
    }
    write_json(out_dir / "evaluation_results.json", results)
    if cfg.eval.output:
        write_json(Path(cfg.eval.output), results)
    return results
