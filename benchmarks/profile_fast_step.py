"""Where do the time and the memory of one fast LoRA-DPO step go? Variants of the fast path on one model, in one run.

Builds the benchmark workload once (Qwen2.5-7B shape, random bf16 weights, LoRA r16 on all projections, 2 pairs of
512 + 512 tokens), then for each variant (a set of FastDPOConfig flags; LoRA weights reset to the same start):
median s/step over timed steps, peak memory, phase times (reference forward / policy forward / backward / optimizer),
the summed GPU kernel time of one profiled step by kernel class (so that wall - kernel time = GPU idle), and, with
``--memory``, the live allocations at the peak of one step grouped by where they were made.

    PYTHONPATH=src python3 benchmarks/profile_fast_step.py --variants base,fusedlp,fuse --out-dir $OUT
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/workload.py, baselines.py

_OLD = {"reentrant_checkpoint": False, "offload_embedding": False, "fused_logprobs": True}  # run 1 (profile_s3)
_RE = {"reentrant_checkpoint": True, "offload_embedding": False, "fused_logprobs": True}
VARIANTS = {  # name -> FastDPOConfig overrides; "base" = the defaults before this profiling, "default" = now
    "base": {**_OLD, "fused_logprobs": False},
    "default": {},
    "fusedlp": _OLD,
    "fuse": {**_OLD, "fuse_projections": True},
    "fuse_offload": {**_OLD, "fuse_projections": True, "offload_embedding": True},
    "fuse_offload_chunk512": {**_OLD, "fuse_projections": True, "offload_embedding": True, "logits_chunk": 512},
    "fuse_nogradref": {**_OLD, "fuse_projections": True, "exact_reference": False},
    "fuse_noemulate": {**_OLD, "fuse_projections": True, "emulate_precision_casts": False},
    "re": _RE,
    "re_offload": {**_RE, "offload_embedding": True},
    "re_offload_nogradref": {**_RE, "offload_embedding": True, "exact_reference": False},
    "fuse_re": {**_RE, "fuse_projections": True},
    "fuse_re_offload": {**_RE, "fuse_projections": True, "offload_embedding": True},
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default="base,fusedlp,fuse,fuse_offload", help=f"comma list of {', '.join(VARIANTS)}"
                   " (a '+refcache' suffix also times the step with precomputed reference log-probs)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--memory", default="base", help="comma list of variants to take a memory snapshot of")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default="profile")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dropout-check", action="store_true", help="first: reentrant vs non-reentrant checkpointing with "
                   "LoRA dropout on a tiny compiled model (same dropout masks in forward and recompute?)")
    return p.parse_args()


def kernel_classes(prof) -> dict[str, float]:  # noqa: ANN001
    """Summed device time (ms) of one profiled step by kernel class."""
    out: dict[str, float] = {}
    for e in prof.key_averages():  # only CUDA activity is recorded: kernels, copies (runtime calls have no time)
        t = getattr(e, "self_device_time_total", 0) or getattr(e, "self_cuda_time_total", 0)
        if t <= 0:
            continue
        k = e.key.lower()
        cls = ("gemm" if any(s in k for s in ("gemm", "nvjet", "sm90_xmma", "cutlass", "cublas")) else
               "flex_attention" if "flex" in k else "memcpy/memset" if "memcpy" in k or "memset" in k else
               "triton" if k.startswith("triton") else "other")
        out[cls] = out.get(cls, 0.0) + t / 1e3
    out["total"] = sum(out.values())
    return {k: round(v, 2) for k, v in out.items()}


def backward_memory(torch, trainer, pairs, ref) -> dict:  # noqa: ANN001
    """Peak memory of each stretch of the backward: from its start until the gradient reaches the last layer's output
    (the LM-head backward), then layer by layer (recompute + backward of that layer), via gradient hooks."""
    marks: list[tuple[str, float, float]] = []
    orig = trainer.decoder.layer_fn
    count = {"i": 0}

    def mark(label: str) -> None:
        marks.append((label, torch.cuda.max_memory_allocated() / 2**30, torch.cuda.memory_allocated() / 2**30))
        torch.cuda.reset_peak_memory_stats()

    def wrapped(*a):  # noqa: ANN002, ANN202
        out = orig(*a)
        i = count["i"] % len(trainer.decoder.layers)
        count["i"] += 1
        if out.requires_grad and torch.is_grad_enabled():
            out.register_hook(lambda g, i=i: mark(f"until grad at layer {i} output"))
        return out

    trainer.decoder.layer_fn = wrapped
    try:
        batch = trainer.pack(pairs)
        r = ref if ref is not None else trainer.reference_logps(batch)
        loss = trainer.loss(batch, r)[0]
        torch.cuda.synchronize()
        after_fwd = torch.cuda.memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
        marks.clear()
        loss.backward()
        mark("rest of backward (layer 0 + embedding side)")
        trainer.optimizer.zero_grad(set_to_none=True)
    finally:
        trainer.decoder.layer_fn = orig
    top = sorted(marks, key=lambda m: -m[1])[:5]
    return {"after_policy_forward_gib": round(after_fwd, 3),
            "stretches": [{"until": m[0], "peak_gib": round(m[1], 3), "then_allocated_gib": round(m[2], 3)}
                          for m in marks[:3] + top]}


def run_variant(name: str, model, pairs, lora0, args, torch) -> dict:  # noqa: ANN001
    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    flags = dict(VARIANTS[name.split("+")[0]])
    import torch._inductor.config as ic

    ic.emulate_precision_casts = flags.get("emulate_precision_casts", True)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in lora0:
                p.copy_(lora0[n])
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    trainer = FastDPOTrainer(model, FastDPOConfig(beta=0.1, lr=5e-6, **flags))
    try:
        return _measure(name, trainer, pairs, args, torch, flags)
    finally:
        trainer.close()


def _measure(name: str, trainer, pairs, args, torch, flags: dict) -> dict:  # noqa: ANN001
    """Timed steps, phases, kernel classes and (optionally) backward memory of one variant."""
    from torch.profiler import ProfilerActivity, profile

    static = torch.cuda.memory_allocated() / 2**30
    torch.cuda.reset_peak_memory_stats()
    ref, t_pre = None, None
    if name.endswith("+refcache"):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        ref = trainer.reference_logps(pairs)
        torch.cuda.synchronize()
        t_pre = time.perf_counter() - t0
    times, losses = [], []
    for _ in range(args.warmup + args.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        losses.append(trainer.step(pairs, ref_logps=ref, next_pairs=pairs)["train/loss"])  # as the training loop
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    res = {"flags": flags, "static_gib": round(static, 3),
           "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
           "median_s": round(statistics.median(times[args.warmup:]), 4), "min_s": round(min(times[args.warmup:]), 4),
           "first_s": round(times[0], 2), "losses": [round(x, 5) for x in losses[:4]], "precompute_s": t_pre}
    res["phases"] = phases(trainer, pairs, ref, torch)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        trainer.step(pairs, ref_logps=ref, next_pairs=pairs)
        torch.cuda.synchronize()
    res["kernel_ms"] = kernel_classes(prof)
    print(name, json.dumps(res), flush=True)
    if name in args.memory.split(","):
        res["memory"] = backward_memory(torch, trainer, pairs, ref)
    return res


def phases(trainer, pairs, ref, torch) -> dict:  # noqa: ANN001
    """Seconds and peak GiB of each phase of one step."""
    out = {}

    def phase(label, fn):  # noqa: ANN001, ANN202
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        r = fn()
        torch.cuda.synchronize()
        out[label] = {"s": round(time.perf_counter() - t0, 4), "peak_gib": round(torch.cuda.max_memory_allocated()
                                                                                 / 2**30, 3)}
        return r

    batch = phase("pack+mask", lambda: trainer.prepare(pairs))
    r = ref if ref is not None else phase("reference_forward", lambda: trainer.reference_logps(batch))
    loss = phase("policy_forward", lambda: trainer.loss(batch, r)[0])
    phase("backward", loss.backward)
    phase("clip+adamw", lambda: (torch.nn.utils.clip_grad_norm_(trainer.params, 1.0), trainer.optimizer.step(),
                                 trainer.optimizer.zero_grad(set_to_none=True)))
    return out


def dropout_check(torch) -> dict:  # noqa: ANN001
    """Loss and LoRA gradients of one compiled step, reentrant vs non-reentrant checkpointing, float32 tiny Qwen2."""
    import peft
    from workload import PROJ, make_pairs, qwen_config

    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    cfg = qwen_config(smoke=True)
    pairs = make_pairs(2, 64, 64, cfg.vocab_size, cfg.vocab_size - 1, 1)
    out = {}
    for drop in (0.0, 0.1):
        res = {}
        for re in (False, True):
            from transformers import AutoModelForCausalLM

            torch.manual_seed(0)
            with torch.device("cuda"):
                m = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
            m = peft.get_peft_model(m, peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=drop, target_modules=PROJ))
            with torch.no_grad():
                for n, p in m.named_parameters():
                    if "lora_B" in n:
                        p.normal_(0, 0.05)
            tr = FastDPOTrainer(m, FastDPOConfig(reentrant_checkpoint=re, fuse_projections=True))
            torch.manual_seed(7)
            loss, _ = tr.loss(pairs)
            loss.backward()
            res[re] = (loss.item(), {n: p.grad.clone() for n, p in m.named_parameters() if "lora_" in n})
        diff = max(((res[True][1][n] - res[False][1][n]).abs().max() / res[False][1][n].abs().max()).item()
                   for n in res[True][1])
        out[f"drop{drop}"] = {"loss_nonreentrant": res[False][0], "loss_reentrant": res[True][0],
                              "max_rel_grad_diff": diff}
    return out


def main() -> int:
    import torch
    from workload import build_model, make_pairs, qwen_config

    args = parse_args()
    if args.dropout_check:
        print("dropout check", json.dumps(dropout_check(torch)), flush=True)
    torch._dynamo.config.cache_size_limit = 64  # variants add graphs; falling back to eager would skew timings
    cfg = qwen_config()
    pairs = make_pairs(2, 512, 512, cfg.vocab_size, 151643, args.seed)
    t0 = time.perf_counter()
    model = build_model(cfg, "cuda", torch.bfloat16, args.seed)
    lora0 = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if "lora_" in n}
    print(f"model built in {time.perf_counter() - t0:.1f}s; {torch.cuda.memory_allocated() / 2**30:.2f} GiB",
          flush=True)
    out: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "variants": {}}
    path = Path(args.out_dir) / f"{args.tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in [v for v in args.variants.split(",") if v]:
        t0 = time.perf_counter()
        try:
            res = run_variant(name, model, pairs, lora0, args, torch)
        except Exception as exc:  # noqa: BLE001 - keep the other variants
            import traceback

            traceback.print_exc()
            res = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        res["variant_wall_s"] = round(time.perf_counter() - t0, 1)
        out["variants"][name] = res
        path.write_text(json.dumps(out, indent=1))
    for name, res in out["variants"].items():
        if "memory" in res:
            print(f"  mem[{name}] {json.dumps(res['memory'])}")
    print("variant | median s | min s | peak GiB | static GiB | kernel ms (gemm/flex/triton/other/total) | losses")
    for name, r in out["variants"].items():
        if "error" in r:
            print(name, "ERROR", r["error"][:200])
            continue
        k = r["kernel_ms"]
        print(f"{name} | {r['median_s']} | {r['min_s']} | {r['peak_gib']} | {r['static_gib']} | "
              f"{k.get('gemm')}/{k.get('flex_attention')}/{k.get('triton')}/{k.get('other')}/{k.get('total')} | "
              f"{r['losses']} | {json.dumps(r['phases'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
