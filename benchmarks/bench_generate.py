"""Evaluation-shaped generation: the project's engine vs the best Hugging Face-native paths, in one run.

Workload: 1,000 requests, prompt lengths drawn from the shipped suites' rendered lengths
(``results/suite_prompt_lengths.json``, clipped to 32..512), answer lengths uniform in 16..256 and forced (EOS
emulated: each answer ends after its drawn length), tuned model = Qwen2.5-7B shape with random bf16 weights and a
random LoRA r=16 on all seven projections. Methods: the engine (``safetyalign.generation``, LoRA merged into
temporary copies), HF ``generate`` (dynamic cache, batches of 32 sorted by prompt length, left padding), HF
``generate`` with a static cache + ``torch.compile`` (reduce-overhead, fullgraph), HF continuous batching
(``generate_batch`` manager, paged SDPA, CUDA graphs). HF methods run on the LoRA-merged model (their best case) and
under a time budget: they run a random part of the workload (whole batches / a request subset) and report
tokens/s on it plus the suite time it implies. Also checks correctness (``--checks``): greedy token identity vs HF
``generate`` in float32 on the SmolLM2-135M shape (random weights: the real GGUF does not fit the device carry), and
the 7B shape in bf16 teacher-forced through the engine (max log-prob difference per step).

    PYTHONPATH=src python3 benchmarks/bench_generate.py --out-dir $OUT            # on the GPU machine
    PYTHONPATH=src python3 benchmarks/bench_generate.py --smoke                   # tiny Qwen2, CPU
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gen_workload import (  # noqa: E402
    cuda_mem,
    hf_cb,
    hf_generate,
    markdown,
    reset_peak,
    smollm_check,
    teacher_force_check,
)

EOS = 151643


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny Qwen2 on the CPU, 24 requests")
    p.add_argument("--methods", default="checks,engine,hf_generate,hf_static,hf_cb")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--slots", default="256", help="engine max_slots (comma list: one engine run each)")
    p.add_argument("--engine-repeats", type=int, default=2, help="engine runs (the first one captures the graphs)")
    p.add_argument("--hf-budget", type=float, default=45.0, help="seconds of timed work per HF method")
    p.add_argument("--cb-requests", type=int, default=300, help="requests given to HF continuous batching")
    p.add_argument("--sample", action="store_true", help="also time the engine with sampling (T 0.7, top-p 0.9)")
    p.add_argument("--batch-size", type=int, default=32, help="HF generate batch size")
    p.add_argument("--check-steps", type=int, default=64, help="tokens per prompt in the correctness checks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default=None)
    return p.parse_args(argv)


def workload(n: int, smoke: bool, seed: int) -> tuple[list[list[int]], list[int]]:
    """Prompts (random token ids, EOS-free) and forced answer lengths."""
    rng = random.Random(seed)
    hist = json.loads((ROOT / "benchmarks" / "results" / "suite_prompt_lengths.json").read_text())["counts"]
    lens = rng.choices([int(k) for k in hist], weights=list(hist.values()), k=n)
    if smoke:
        lens = [max(4, k // 8) for k in lens]
    vocab = 500 if smoke else EOS
    prompts = [[rng.randrange(vocab) for _ in range(k)] for k in lens]
    answers = [rng.randint(4, 24) if smoke else rng.randint(16, 256) for _ in range(n)]
    return prompts, answers


def build(smoke: bool, seed: int):
    """The tuned model: Qwen2 (7B shape in bf16 on CUDA, tiny in float32 on CPU) + a random LoRA on 7 projections."""
    import torch
    from workload import build_model, qwen_config

    cuda = torch.cuda.is_available() and not smoke
    cfg = qwen_config(smoke)
    model = build_model(cfg, "cuda" if cuda else "cpu", torch.bfloat16 if cuda else torch.float32, seed).eval()
    torch.manual_seed(seed + 2)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:  # PEFT starts B at zero: give the adapter a real (small) effect
                p.normal_(0, 0.02 if smoke else 2e-3)
    return model, cfg


def run_engine(model, prompts, answers, slots: int, repeats: int, sample: bool) -> dict:
    import torch

    from safetyalign.generation import GenerationEngine, Request

    base = reset_peak()
    t0 = time.perf_counter()
    eng = GenerationEngine(model, use_adapter=True, lora="auto", max_slots=slots)
    setup = time.perf_counter() - t0
    reqs = [Request(p, a, seed=i) for i, (p, a) in enumerate(zip(prompts, answers))]
    runs = []
    kw = {"do_sample": True, "temperature": 0.7, "top_p": 0.9} if sample else {}
    for _ in range(repeats):
        out = eng.generate(reqs, **kw)
        st = eng.stats.to_dict()
        st["exact_lengths"] = all(len(o) == a for o, a in zip(out, answers))
        runs.append(st)
        print(f"engine slots={slots} sample={sample}: {st['new_tokens']} tokens in {st['seconds']:.1f}s "
              f"({st['tokens_per_s']:.0f} tok/s), graphs {st['graphs']} in {st['capture_seconds']:.1f}s", flush=True)
    res = {"slots": slots, "sample": sample, "setup_seconds": setup, "runs": runs, "lora": eng.w.lora_mode,
           "kv_gib": eng.cache.nbytes / 2**30, "peak_gib_over_model": (cuda_mem(peak=True) - base) / 2**30}
    del eng
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return res


def main(args: argparse.Namespace) -> int:
    import torch

    cuda = torch.cuda.is_available() and not args.smoke
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = args.tag or ("smoke" if not cuda else torch.cuda.get_device_name().split()[-1].lower())
    import transformers

    meta = {"device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__,
            "transformers": transformers.__version__, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(sys.argv), "requests": args.requests}
    results: dict = {}
    path = out_dir / f"generate_{tag}.json"

    def save() -> None:
        path.write_text(json.dumps({"meta": meta, "results": results}, indent=1))

    def section(name: str, fn) -> None:  # noqa: ANN001
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as e:  # noqa: BLE001 - one failing method must not lose the others
            traceback.print_exc()
            results[name] = {"error": f"{type(e).__name__}: {e}"[:2000]}
        results[name]["wall_seconds"] = time.perf_counter() - t0
        save()
        print(f"== {name} done in {time.perf_counter() - t0:.0f}s", flush=True)

    methods = args.methods.split(",")
    prompts, answers = workload(args.requests, args.smoke, args.seed)
    meta["workload"] = {"prompt_tokens": sum(map(len, prompts)), "answer_tokens": sum(answers),
                        "prompt_len_mean": sum(map(len, prompts)) / len(prompts),
                        "answer_len_mean": sum(answers) / len(answers)}
    if "checks" in methods:
        section("check_smollm_fp32", lambda: smollm_check(args.smoke, args.check_steps))
    model, cfg = build(args.smoke, args.seed)
    meta["model_gib"] = cuda_mem() / 2**30
    if "checks" in methods:
        section("check_7b_teacher_forced", lambda: teacher_force_check(model, prompts[:4], args.check_steps))
    if "engine" in methods:
        for s in [int(x) for x in args.slots.split(",")]:
            section(f"engine_{s}", lambda s=s: run_engine(model, prompts, answers, s, args.engine_repeats, False))
        if args.sample:
            s = int(args.slots.split(",")[0])
            section("engine_sample", lambda: run_engine(model, prompts, answers, s, 1, True))
    model = model.merge_and_unload().eval()  # HF paths: LoRA merged, their fastest form
    order = list(range(len(prompts)))
    random.Random(args.seed + 1).shuffle(order)
    if "hf_generate" in methods:
        section("hf_generate", lambda: hf_generate(model, prompts, answers, EOS if cuda else 499, args.batch_size,
                                                   args.hf_budget, static=False, cuda=cuda, seed=args.seed))
    if "hf_static" in methods:
        section("hf_static", lambda: hf_generate(model, prompts, answers, EOS if cuda else 499, args.batch_size,
                                                 args.hf_budget, static=True, cuda=cuda, seed=args.seed))
    if "hf_cb" in methods:
        idx = order[:args.cb_requests]
        section("hf_cb", lambda: hf_cb(model, [prompts[i] for i in idx], [answers[i] for i in idx], cuda))
    save()
    md = markdown(meta, results)
    (out_dir / f"generate_{tag}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
