"""Side-by-side timing of one LoRA-DPO training step: the project's fast path vs TRL+PEFT (+Liger, +Unsloth).

Workload: Qwen2.5-7B-shaped model with random bf16 weights (seeded, identical for every method), LoRA r=16/alpha=32
on all seven projections, gradient checkpointing, 2 preference pairs of 512 prompt + 512 answer tokens, sigmoid DPO
(beta 0.1) against the adapter-disabled base, AdamW. Each method runs in its own subprocess (clean peak memory).

    PYTHONPATH=src python3 benchmarks/bench_train_step.py --out-dir $OUT          # on the GPU machine
    PYTHONPATH=src python3 benchmarks/bench_train_step.py --smoke                 # tiny model, CPU, 2 steps

Writes ``train_step_<tag>.json`` and ``.md`` to --out-dir (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/workload.py, baselines.py

T0 = time.perf_counter()
from workload import (  # noqa: E402
    H100_BF16_PEAK,
    PROJ,
    build_model,
    make_pairs,
    qwen_config,
    step_flops,
    weights_checksum,
)

TRAIN_METHODS = ("fast", "fast_refcache", "fast_gpuembed", "fast_noprefetch", "fast_prev", "fast_nogradref",
                 "fast_eager", "trl", "trl_liger", "unsloth")
# fast_prev: the fast path's previous defaults (non-reentrant checkpoints, embedding on the GPU, eager LM-head math)
PREV = {"reentrant_checkpoint": False, "offload_embedding": False, "fused_logprobs": False, "prefetch": False}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny Qwen2 on CPU, 2 steps, fast + trl, in-process")
    p.add_argument("--methods", default="fast,fast_eager,trl,trl_liger,unsloth,gen",
                   help=f"comma list of {', '.join(TRAIN_METHODS)}, gen, profile")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (the first one is reported as first-step)")
    p.add_argument("--steps", type=int, default=10, help="timed steps after warm-up")
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--response-len", type=int, default=512)
    p.add_argument("--lr", type=float, default=5e-6, help="constant LR (the reference recipe's peak LR)")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attention", default="flex", help="fast path attention: flex | sdpa")
    p.add_argument("--compile", default="layer", help="fast path torch.compile scope: layer | pointwise | none")
    p.add_argument("--no-emulate-casts", action="store_true", help="let inductor skip bf16 rounding of intermediates")
    p.add_argument("--timeout", type=int, default=420, help="seconds per method subprocess")
    p.add_argument("--unsloth-site", default=None, help="folder put first on PYTHONPATH for the unsloth method only "
                   "(its pins: trl 1.15, datasets 4.8; see fetch_wheels.sh --unsloth)")
    p.add_argument("--model-dir", default=None, help="where the unsloth method writes the random model (default: tmp)")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default=None, help="file name tag (default: device name or 'smoke')")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.smoke:
        a.warmup, a.steps, a.prompt_len, a.response_len = 1, 1, 16, 16
        if a.methods == p.get_default("methods"):
            a.methods = "fast,trl"
    return a


def setup(args: argparse.Namespace):
    """Device, dtype, config, seeded model and pairs: identical for every method."""
    import torch

    cuda = torch.cuda.is_available() and not args.smoke
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    cfg = qwen_config(args.smoke)
    eos = cfg.vocab_size - 1 if args.smoke else 151643
    pairs = make_pairs(args.pairs, args.prompt_len, args.response_len, cfg.vocab_size, eos, args.seed)
    model = build_model(cfg, device, dtype, args.seed)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    return torch, cuda, cfg, model, pairs, eos


def summarize(times: list[float], losses: list[float], args: argparse.Namespace, cfg, cuda: bool) -> dict:
    """Median/spread of the timed steps, throughput, MFU, peak memory."""
    import torch

    timed = times[args.warmup:]
    med = statistics.median(timed)
    seq_tokens = 2 * args.pairs * (args.prompt_len + args.response_len)
    out = {"first_step_s": times[0], "median_s": med, "min_s": min(timed), "max_s": max(timed),
           "stdev_s": statistics.stdev(timed) if len(timed) > 1 else 0.0, "steps_timed": len(timed),
           "tokens_per_s": seq_tokens / med, "losses": losses, "times": times,
           "mfu": step_flops(cfg, args.pairs, args.prompt_len + args.response_len) / med / H100_BF16_PEAK}
    if cuda:
        out["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        out["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    return out


def run_fast(args: argparse.Namespace, variant: str) -> dict:
    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    torch, cuda, cfg, model, pairs, _ = setup(args)
    checksum = weights_checksum(model)
    if cuda:
        torch.cuda.reset_peak_memory_stats()  # peak of the training steps only
    fcfg = FastDPOConfig(beta=args.beta, lr=args.lr, attention=args.attention if cuda else "sdpa",
                         compile=(cuda and variant != "fast_eager" and args.compile != "none") and args.compile,
                         emulate_precision_casts=not args.no_emulate_casts)
    if variant == "fast_eager":
        fcfg.attention = "sdpa"
    if variant == "fast_nogradref":
        fcfg.exact_reference = False
    if variant == "fast_gpuembed":  # the default path without the embedding offload
        fcfg.offload_embedding = False
    if variant == "fast_noprefetch":  # the default path without preparing the next batch during the step
        fcfg.prefetch = False
    if variant == "fast_prev":
        for k, v in PREV.items():
            setattr(fcfg, k, v)
    trainer = FastDPOTrainer(model, fcfg)
    ref, t_pre = None, None
    if variant == "fast_refcache":  # reference log-probs precomputed once (as TRL's precompute_ref_log_probs)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        ref = trainer.reference_logps(pairs)
        if cuda:
            torch.cuda.synchronize()
        t_pre = time.perf_counter() - t0
    times, losses = [], []
    for _ in range(args.warmup + args.steps):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        m = trainer.step(pairs, ref_logps=ref, next_pairs=pairs)  # as the training loop: names the next batch
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(m["train/loss"])
    res = summarize(times, losses, args, cfg, cuda)
    d = trainer.decoder
    res.update(checksum=checksum, attention=d.spec.attention, compiled=fcfg.compile,
               emulate_precision_casts=fcfg.emulate_precision_casts, reentrant_checkpoint=d.reentrant,
               embedding_offloaded=d.embed_offloaded, fused_logprobs=d.fused_logprobs, precompute_s=t_pre,
               prefetch=fcfg.prefetch)
    return res


def run_profile(args: argparse.Namespace) -> dict:
    """torch.profiler over one fast step after warm-up; the top kernels go to profile_fast.txt."""
    from torch.profiler import ProfilerActivity, profile

    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    torch, cuda, cfg, model, pairs, _ = setup(args)
    trainer = FastDPOTrainer(model, FastDPOConfig(beta=args.beta, lr=args.lr, attention=args.attention))
    for _ in range(3):
        trainer.step(pairs)
    phases: dict = {}

    def phase(name: str, fn):  # noqa: ANN001, ANN202
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        phases[name] = {"s": time.perf_counter() - t0, "peak_gib": torch.cuda.max_memory_allocated() / 2**30}
        return out

    ref = phase("reference_forward", lambda: trainer.reference_logps(pairs))
    loss = phase("policy_forward", lambda: trainer.loss(pairs, ref)[0])
    phase("backward", loss.backward)
    trainer.optimizer.zero_grad(set_to_none=True)
    print(json.dumps(phases, indent=1))
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        trainer.step(pairs)
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=70)
    Path(args.out_dir, "profile_fast.txt").write_text(table)
    print(table[:6000])
    return {"profile": "profile_fast.txt", "phases": phases}


def run_trl_method(args: argparse.Namespace, liger: bool) -> dict:
    from baselines import run_trl

    torch, cuda, cfg, model, pairs, eos = setup(args)
    checksum = weights_checksum(model)
    if cuda:
        torch.cuda.reset_peak_memory_stats()  # peak of the training steps only
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    r = run_trl(model, pairs, eos, cfg.vocab_size, args.warmup + args.steps, args.lr, args.beta, args.seed, cuda,
                liger=liger, sync=sync)
    res = summarize(r["times"], r["losses"], args, cfg, cuda)
    res["checksum"] = checksum
    return res


def run_unsloth(args: argparse.Namespace) -> dict:
    """Unsloth's engine on the same workload: the same seeded base weights (written to a local folder, which
    ``FastLanguageModel.from_pretrained`` needs), LoRA r16/alpha32 on all projections through
    ``FastLanguageModel.get_peft_model`` (Unsloth's own gradient checkpointing), then TRL's DPOTrainer after
    ``PatchDPOTrainer()``, timed exactly as the ``trl`` method. LoRA A is initialised by Unsloth (B = 0, so the
    first loss is the same as every other method's)."""
    import importlib.util
    import tempfile

    if importlib.util.find_spec("unsloth") is None:
        raise RuntimeError("unsloth is not installed (benchmarks/fetch_wheels.sh --unsloth, --unsloth-site DIR)")
    if not args.smoke and "transformers" in sys.modules:
        raise RuntimeError("transformers was imported before unsloth; its patches would be incomplete")
    import torch
    import unsloth  # noqa: F401  (patches transformers / TRL; must come first)
    from baselines import run_trl, word_tokenizer
    from transformers import AutoModelForCausalLM
    from unsloth import FastLanguageModel, PatchDPOTrainer

    t_import = time.perf_counter() - T0
    cfg = qwen_config(args.smoke)
    eos = cfg.vocab_size - 1 if args.smoke else 151643
    pairs = make_pairs(args.pairs, args.prompt_len, args.response_len, cfg.vocab_size, eos, args.seed)
    with tempfile.TemporaryDirectory(dir=args.model_dir) as folder:
        t0 = time.perf_counter()
        torch.manual_seed(args.seed)  # the base weights of build_model
        with torch.device("cuda"):
            base = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        base.save_pretrained(folder, safe_serialization=True)
        word_tokenizer(cfg.vocab_size, eos, pad_id=eos + 1).save_pretrained(folder)
        del base
        torch.cuda.empty_cache()
        t_write = time.perf_counter() - t0
        PatchDPOTrainer()  # as safetyalign.engines.unsloth does: before loading
        model, _ = FastLanguageModel.from_pretrained(model_name=folder, max_seq_length=args.prompt_len
                                                     + args.response_len, dtype=torch.bfloat16, load_in_4bit=False)
    model = FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0.0, target_modules=PROJ,
                                             bias="none", use_gradient_checkpointing="unsloth",
                                             random_state=args.seed + 1)
    checksum = weights_checksum(model)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()  # peak of the training steps only
    r = run_trl(model, pairs, eos, cfg.vocab_size, args.warmup + args.steps, args.lr, args.beta, args.seed, True,
                sync=torch.cuda.synchronize, gradient_checkpointing=False,
                tokenizer=word_tokenizer(cfg.vocab_size, eos, pad_id=eos + 1))
    res = summarize(r["times"], r["losses"], args, cfg, True)
    import trl

    res.update(checksum=checksum, import_s=round(t_import, 1), write_model_s=round(t_write, 1),
               versions={"unsloth": unsloth.__version__, "trl": trl.__version__,
                         "transformers": sys.modules["transformers"].__version__})
    return res


def run_gen(args: argparse.Namespace) -> dict:
    """HF generate tokens/s at batch 1 vs batch 32 on the 7B shape (greedy, left padding, 128 new tokens)."""
    import torch
    from baselines import hf_generate_tokens_per_s
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available() and not args.smoke
    cfg = qwen_config(args.smoke)
    torch.manual_seed(args.seed)
    with torch.device("cuda" if cuda else "cpu"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16 if cuda else torch.float32).eval()
    model.generation_config.eos_token_id = None
    g = torch.Generator().manual_seed(args.seed)
    n, new = (4, 4) if args.smoke else (32, 128)
    lens = torch.randint(64 if not args.smoke else 4, 257 if not args.smoke else 12, (n,), generator=g).tolist()
    prompts = [torch.randint(0, cfg.vocab_size - 1, (k,), generator=g).tolist() for k in lens]
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    hf_generate_tokens_per_s(model, prompts[:2], 2, 4, 0, sync)  # warm-up
    b1 = hf_generate_tokens_per_s(model, prompts[: max(2, n // 8)], 1, new, 0, sync)
    b32 = hf_generate_tokens_per_s(model, prompts, min(32, n), new, 0, sync)
    return {"batch1": b1, "batch32": b32, "speedup": b32["tokens_per_s"] / b1["tokens_per_s"],
            "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None}


def run_equiv(args: argparse.Namespace) -> dict:
    """Tiny Qwen2 on the GPU: TRL vs fast path (flex+compile, SDPA eager) in float32 and bfloat16, 4 steps each."""
    import torch
    from baselines import run_trl

    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    cfg = qwen_config(smoke=True)
    eos = cfg.vocab_size - 1
    pairs = make_pairs(2, 128, 128, cfg.vocab_size, eos, args.seed)
    out: dict = {}
    for dt_name, dt in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        model = build_model(cfg, "cuda", dt, args.seed)
        out[f"trl/{dt_name}"] = run_trl(model, pairs, eos, cfg.vocab_size, 4, args.lr, args.beta, args.seed, True,
                                        bf16=dt == torch.bfloat16)["losses"]
        for att, comp, emu in (("flex", "layer", True), ("flex", "layer", False), ("flex", "pointwise", True),
                               ("sdpa", False, True)):
            model = build_model(cfg, "cuda", dt, args.seed)
            tr = FastDPOTrainer(model, FastDPOConfig(beta=args.beta, lr=args.lr, attention=att, compile=comp,
                                                     emulate_precision_casts=emu))
            out[f"fast_{att}_{comp or 'eager'}_emu{int(emu)}/{dt_name}"] = [
                tr.step(pairs)["train/loss"] for _ in range(4)]
    for k, v in out.items():
        print(k, [round(x, 5) for x in v])
    return out


def run_equiv7b(args: argparse.Namespace) -> dict:
    """The 7B shape in float32 on the GPU: first 3 losses of TRL vs the fast path (flex + compiled layers)."""
    import torch
    from baselines import run_trl

    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    cfg = qwen_config()
    eos = 151643
    pairs = make_pairs(args.pairs, args.prompt_len, args.response_len, cfg.vocab_size, eos, args.seed)
    model = build_model(cfg, "cuda", torch.float32, args.seed)
    trl = run_trl(model, pairs, eos, cfg.vocab_size, 3, args.lr, args.beta, args.seed, True, bf16=False)["losses"]
    del model
    torch.cuda.empty_cache()
    model = build_model(cfg, "cuda", torch.float32, args.seed)
    tr = FastDPOTrainer(model, FastDPOConfig(beta=args.beta, lr=args.lr, attention=args.attention))
    fast = [tr.step(pairs)["train/loss"] for _ in range(3)]
    out = {"trl_fp32": trl, "fast_fp32": fast, "max_abs_diff": max(abs(a - b) for a, b in zip(trl, fast, strict=True))}
    print(out)
    return out


RUNNERS = {"equiv": run_equiv, "equiv7b": run_equiv7b, "fast": lambda a: run_fast(a, "fast"),
           "fast_eager": lambda a: run_fast(a, "fast_eager"),
           "fast_refcache": lambda a: run_fast(a, "fast_refcache"),
           "fast_nogradref": lambda a: run_fast(a, "fast_nogradref"), "fast_prev": lambda a: run_fast(a, "fast_prev"),
           "fast_gpuembed": lambda a: run_fast(a, "fast_gpuembed"),
           "fast_noprefetch": lambda a: run_fast(a, "fast_noprefetch"),
           "trl": lambda a: run_trl_method(a, False),
           "trl_liger": lambda a: run_trl_method(a, True), "unsloth": run_unsloth, "gen": run_gen,
           "profile": run_profile}


def run_one(method: str, args: argparse.Namespace, argv: list[str]) -> dict:
    """Run a method in-process (smoke) or in a fresh subprocess; errors become {'error': ...}."""
    if args.smoke:
        try:
            return RUNNERS[method](args)
        except Exception as exc:  # noqa: BLE001 - recorded in the results, the others still run
            return {"error": f"{type(exc).__name__}: {exc}"}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, __file__, *argv, "--worker", method, "--worker-out", out]
    env = dict(os.environ)
    if method == "unsloth" and args.unsloth_site:
        env["PYTHONPATH"] = os.pathsep.join([args.unsloth_site, *filter(None, [env.get("PYTHONPATH")])])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, timeout=args.timeout, capture_output=True, text=True, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout}s"}
    print(f"--- {method} ({time.perf_counter() - t0:.0f}s, rc={proc.returncode})\n{proc.stdout[-3000:]}"
          f"{proc.stderr[-3000:]}", flush=True)
    text = Path(out).read_text() if Path(out).exists() else ""
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    return json.loads(text) if text.strip() else {"error": f"exit {proc.returncode}: {last[-300:]}"}


def markdown(results: dict, meta: dict) -> str:
    rows = ["| method | median s/step (min-max) | tokens/s | MFU | peak GiB | first step s | loss steps 1..3 | "
            "max abs loss diff vs TRL |", "|---|---|---|---|---|---|---|---|"]
    for name in TRAIN_METHODS:
        r = results.get(name)
        if r is None:
            continue
        if "error" in r:
            err = " ".join(r["error"].split())[-160:].replace("|", "/")
            rows.append(f"| {name} | not run: {err} |  |  |  |  |  |  |")
            continue
        mem = f"{r['peak_mem_gib']:.1f}" if r.get("peak_mem_gib") is not None else "-"
        diff = r.get("loss_diff_vs_trl")
        rows.append(f"| {name} | {r['median_s']:.3f} ({r['min_s']:.3f}-{r['max_s']:.3f}) | {r['tokens_per_s']:.0f} | "
                    f"{100 * r['mfu']:.1f}% | {mem} | {r['first_step_s']:.1f} | "
                    f"{', '.join(f'{x:.4f}' for x in r['losses'][:3])} | {'-' if diff is None else f'{diff:.1e}'} |")
    g = results.get("gen")
    if g and "error" not in g:
        rows += ["", "| generation (greedy, 128 new tokens) | tokens/s |", "|---|---|",
                 f"| HF generate, batch 1 | {g['batch1']['tokens_per_s']:.1f} |",
                 f"| HF generate, batch 32 | {g['batch32']['tokens_per_s']:.1f} (x{g['speedup']:.1f}) |"]
    return f"Device: {meta['device']}; {meta['workload']}\n\n" + "\n".join(rows) + "\n"


def main(args: argparse.Namespace, argv: list[str]) -> int:
    if args.worker:
        res = RUNNERS[args.worker](args)
        Path(args.worker_out).write_text(json.dumps(res))
        return 0
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for m in [m for m in args.methods.split(",") if m]:
        results[m] = run_one(m, args, argv)
        write_results(args, results)
    write_results(args, results, final=True)
    return 0


def write_results(args: argparse.Namespace, results: dict, final: bool = False) -> None:
    """Write JSON (and Markdown) after every method, so a cut-off run keeps what it measured."""
    import torch

    trl = results.get("trl", {})
    for r in results.values():
        if "losses" in r and "losses" in trl:
            k = min(5, len(r["losses"]), len(trl["losses"]))
            r["loss_diff_vs_trl"] = max(abs(a - b) for a, b in zip(r["losses"][:k], trl["losses"][:k], strict=True))
    cuda = torch.cuda.is_available() and not args.smoke
    meta = {"device": torch.cuda.get_device_name() if cuda else "cpu (smoke)", "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv),
            "workload": f"Qwen2 {'tiny' if args.smoke else '7B-shape'} random weights, LoRA r16 all proj, "
                        f"{args.pairs} pairs x (prompt {args.prompt_len} + answer {args.response_len}), "
                        f"beta {args.beta}, lr {args.lr}, {args.warmup} warm-up + {args.steps} timed steps"}
    tag = args.tag or ("smoke" if args.smoke else meta["device"].split()[-1].lower().replace("/", "_"))
    out = Path(args.out_dir)
    (out / f"train_step_{tag}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    md = markdown(results, meta)
    (out / f"train_step_{tag}.md").write_text(md)
    if final:
        print(md)


if __name__ == "__main__":
    sys.exit(main(parse_args(), [a for a in sys.argv[1:]]))
