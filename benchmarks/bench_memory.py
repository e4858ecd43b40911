"""Peak memory (RSS) of judging and of evaluation against the number of rows: it should stay flat.

    python3 benchmarks/bench_memory.py --sizes 2000,20000,100000 --stages judge:pattern,eval,judge:learned

Each measurement is a fresh subprocess running the CLI (``safetyalign judge`` / ``safetyalign eval``) whose own
peak RSS (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss`` would include the forking parent's RSS, which Linux
carries across exec) and wall time are recorded, with the machine's CPU matmul probe
before and after (a shared CPU's speed varies).

* judge:<name>: ``safetyalign judge --judge <name>`` on N distinct synthetic {prompt, response, label} rows
  (short harmless refusals and answers built from word lists). ``learned`` = MiniLM embeddings + n-gram features
  (about 13-55 ms a row on a shared 2-core CPU, so ``--learned-sizes`` caps its sizes); ``pattern`` = regexes.
* eval: ``safetyalign eval --base-only`` with the pattern judge on a suite file of N distinct harmless prompts, on
  a 2-layer random Llama (hidden 32, SmolLM2's tokenizer and its 49k-token vocabulary). ``eval`` serves every
  response from the generation cache, prefilled with synthetic answers under the key the evaluation computes
  itself (``reused`` in the result proves it): it measures the evaluation machinery (suite, fingerprints, cache
  index, judging, metric counters, streamed result files) over N rows without N model calls. ``eval:generate``
  generates 2 tokens per prompt for real (about 45 ms a prompt on a 2-core CPU, mostly the 49k-row LM head), so
  ``--generate-sizes`` caps its sizes.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

WORDS = ("garden river window autumn pencil market violin harbor candle meadow lantern orchard bicycle museum "
         "kettle glacier ribbon compass blanket theater island saddle mirror canyon ladder").split()
REFUSALS = ("I can't help with that {a} request, but I can suggest a {b} instead.",
            "Sorry, I won't do that. Maybe ask about the {a} or the {b}.")
ANSWERS = ("Sure. The {a} is next to the {b}; walk past the {c} and turn left.",
           "Here is a short answer: a {a} and a {b} make a nice {c} afternoon.")

CHILD = """
import json, sys, time
sys.argv = ["safetyalign"] + json.loads(sys.argv[1])
from safetyalign.cli import main
t0 = time.perf_counter()
rc = main(sys.argv[1:])
hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
print("RESULT " + json.dumps({"rc": rc, "seconds": round(time.perf_counter() - t0, 1),
                              "max_rss_mib": round(hwm / 1024, 1)}))
"""


def _text(rng: random.Random, templates: tuple[str, ...], i: int) -> str:
    a, b, c = rng.sample(WORDS, 3)
    return rng.choice(templates).format(a=a, b=b, c=c) + f" (#{i})"


def judge_input(path: Path, n: int) -> Path:
    rng = random.Random(n)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            refuse = rng.random() < 0.5
            fh.write(json.dumps({"prompt": f"Tell me about the {rng.choice(WORDS)} number {i}.",
                                 "response": _text(rng, REFUSALS if refuse else ANSWERS, i),
                                 "label": "refused" if refuse else "complied"}) + "\n")
    return path


def suite_file(path: Path, n: int) -> Path:
    rng = random.Random(n)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"p{i}", "prompt": f"Describe the {' and the '.join(rng.sample(WORDS, 2))} "
                                 f"in a sentence ({i}).", "expected": "refuse" if i % 2 else "comply"}) + "\n")
    return path


def tiny_model(folder: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from safetyalign.models.config import ModelConfig
    from safetyalign.models.loading import load_tokenizer

    tok = load_tokenizer(ModelConfig(name_or_path="embedded:smollm2-135m"))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def run_cli(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1",
                               "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}, cwd=ROOT)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def eval_args(model: Path, suite: Path, run_dir: Path, tmp: Path) -> list[str]:
    return ["eval", str(ROOT / "configs/quickstart.yaml"), f"model.name_or_path={model}", f"eval.suites=['{suite}']",
            "eval.max_per_suite=null", "eval.judges=[pattern]", "eval.primary_judge=pattern",
            "eval.generation.max_new_tokens=2", "eval.generation.batch_size=64", "model.max_prompt_length=64",
            "eval.output=", f"run.logs_dir={tmp / 'logs'}", "--base-only", "--run-dir", str(run_dir)]


def prefill_cache(args: list[str], run_dir: Path, n: int) -> None:
    """Write ``generations_base.jsonl`` with a synthetic response for every prompt, under the generation key the
    evaluation with ``args`` computes (same functions, same inputs)."""
    from safetyalign.config import load_config
    from safetyalign.eval import fingerprint as fp
    from safetyalign.eval.gencache import GenerationCache
    from safetyalign.eval.suites import load_suites
    from safetyalign.models.loading import load_tokenizer

    cfg = load_config(args[1], [a for a in args[2:] if "=" in a and not a.startswith("--")])
    prompts = load_suites(cfg.eval.suites, cfg.eval.max_per_suite, cfg.eval.seed)
    template = getattr(load_tokenizer(cfg.model), "chat_template", None)
    key = fp.generation_key(cfg, fp.base_fingerprint(cfg.model), None, fp.suite_fingerprint(prompts),
                            template if isinstance(template, str) else None)
    rng = random.Random(n)
    cache = GenerationCache(run_dir / "eval" / "generations_base.jsonl", key)
    for start in range(0, len(prompts), 4096):
        cache.put([(p, _text(rng, REFUSALS if i % 3 else ANSWERS, i))
                   for i, p in enumerate(prompts[start:start + 4096], start)])


def measure(stage: str, n: int, tmp: Path, model: Path | None) -> dict:
    if stage.startswith("judge"):
        src = judge_input(tmp / f"judge_{n}.jsonl", n)
        res = run_cli(["--log-level", "WARNING", "judge", "--input", str(src), "--judge", stage.split(":")[1],
                       "--output", str(tmp / f"judged_{n}.jsonl")])
    else:
        run_dir = tmp / f"{stage.replace(':', '_')}_{n}"
        args = eval_args(model, suite_file(tmp / f"suite_{n}.jsonl", n), run_dir, tmp)
        if stage == "eval":
            prefill_cache(args, run_dir, n)
        res = run_cli(["--log-level", "WARNING", *args])
        results = json.loads((run_dir / "eval" / "evaluation_results.json").read_text(encoding="utf-8"))
        res.update(records=len(results["records"]),
                   reused=results["generation_stats"]["base"]["extra"]["reused"])
    return {"stage": stage, "rows": n, **res}


def main() -> int:
    from safetyalign.runs import cpu_matmul_gflops, git_commit

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2000,20000,100000")
    p.add_argument("--stages", default="eval,judge:pattern,eval:generate,judge:learned")
    p.add_argument("--generate-sizes", default="2000", help="sizes for eval:generate (slow on CPU)")
    p.add_argument("--learned-sizes", default="2000,20000", help="sizes for judge:learned (slow on CPU)")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/memory_rss.json"))
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    out: dict = {"commit": git_commit(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                 "cpu_matmul_gflops": {"start": cpu_matmul_gflops()}, "results": []}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = tiny_model(tmp / "tiny_model") if "eval" in args.stages else None
        sys.path.insert(0, str(ROOT / "src"))
        for stage in args.stages.split(","):
            capped = {"judge:learned": args.learned_sizes, "eval:generate": args.generate_sizes}.get(stage)
            for n in [int(x) for x in capped.split(",")] if capped else sizes:
                out["results"].append(measure(stage, n, tmp, model))
                print(json.dumps(out["results"][-1]), flush=True)
                Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    out["cpu_matmul_gflops"]["end"] = cpu_matmul_gflops()
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
