"""Where does the GPU wait during a fast LoRA-DPO step? Timeline of profiled steps, GPU idle attributed to CPU work.

Builds the benchmark workload once (Qwen2.5-7B shape, random bf16 weights, LoRA r16 on all projections, 2 pairs of
512 + 512 tokens). For each variant (FastDPOConfig overrides; LoRA weights reset to the same start): median s/step
over timed steps run as the training loop runs them (``trainer.step(pairs, next_pairs=pairs)``), peak memory, then
two profiled steps (CPU + CUDA) with the step's parts annotated; per profiled step: wall, GPU busy (union of kernels
and copies), GPU idle, idle by the CPU part running at the time, and the CPU's wait at the end (how far ahead it was).

    PYTHONPATH=src python3 benchmarks/trace_fast_step.py --variants default,noprefetch --out-dir $OUT
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

VARIANTS = {"default": {}, "noprefetch": {"prefetch": False}, "gpuembed": {"offload_embedding": False},
            "gpuembed_noprefetch": {"offload_embedding": False, "prefetch": False},
            "fuse": {"fuse_projections": True}}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default="default,noprefetch",
                   help=f"comma list of {', '.join(VARIANTS)}; a '+<anything>' suffix: a repeat")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default="trace")
    p.add_argument("--save-trace", default="", help="variant whose filtered trace is written (gzip JSON)")
    p.add_argument("--prepare-timing", action="store_true", help="time the parts of preparing a batch")
    p.add_argument("--copy-origins", action="store_true", help="print which CPU ops issued the large GPU copies")
    return p.parse_args()


def annotate(trainer, torch) -> None:  # noqa: ANN001
    """Wrap the step's parts in profiler ranges (instance attributes and module functions the trainer calls)."""
    from torch.profiler import record_function

    def wrap(label, fn):  # noqa: ANN001, ANN202
        def inner(*a, **k):  # noqa: ANN002, ANN003, ANN202
            name = label(k) if callable(label) else label
            with record_function(name):
                return fn(*a, **k)
        return inner

    d = trainer.decoder
    trainer.prepare = wrap("prepare", trainer.prepare)
    d.reference_logps = wrap("ref_forward", d.reference_logps)
    d.sequence_logps = wrap(lambda k: "ref_inner" if k.get("ref") else "policy_forward", d.sequence_logps)
    trainer.optimizer.step = wrap("adamw", trainer.optimizer.step)
    torch.autograd.backward = wrap("backward", torch.autograd.backward)
    torch.nn.utils.clip_grad_norm_ = wrap("clip", torch.nn.utils.clip_grad_norm_)


def _merge(iv: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(iv):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def analyse(events: list[dict]) -> list[dict]:
    """Per annotated step: wall, GPU busy/idle (ms), idle by the innermost CPU range at each gap, CPU wait at end."""
    gpu = [(e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    ann = [e for e in events if e.get("cat") == "user_annotation" and e.get("ph") == "X"]
    rt = [e for e in events if e.get("cat") == "cuda_runtime" and "ynchronize" in e.get("name", "")]
    steps = sorted((e for e in ann if e["name"] == "step"), key=lambda e: e["ts"])
    out = []
    for st in steps:
        s0, s1 = st["ts"], st["ts"] + st["dur"]
        busy = _merge([(max(a, s0), min(b, s1)) for a, b in gpu if b > s0 and a < s1])
        gaps, prev = [], s0
        for a, b in busy:
            if a > prev:
                gaps.append((prev, a))
            prev = max(prev, b)
        if s1 > prev:
            gaps.append((prev, s1))
        by: dict[str, float] = {}
        inner = [e for e in ann if e["ts"] >= s0 and e["ts"] < s1 and e["name"] != "step"]
        for a, b in gaps:
            mid = (a + b) / 2
            cover = [e for e in inner if e["ts"] <= mid <= e["ts"] + e["dur"]]
            label = min(cover, key=lambda e: e["dur"])["name"] if cover else "other"
            by[label] = by.get(label, 0.0) + (b - a) / 1e3
        waits = [e["dur"] / 1e3 for e in rt if s0 <= e["ts"] < s1]
        parts = {}
        for e in inner:
            parts[e["name"]] = parts.get(e["name"], 0.0) + e["dur"] / 1e3
        out.append({"wall_ms": round(st["dur"] / 1e3, 2), "gpu_busy_ms": round(sum(b - a for a, b in busy) / 1e3, 2),
                    "gpu_idle_ms": round(sum(b - a for a, b in gaps) / 1e3, 2),
                    "idle_by_cpu_part_ms": {k: round(v, 2) for k, v in sorted(by.items(), key=lambda x: -x[1])},
                    "cpu_part_ms": {k: round(v, 2) for k, v in parts.items()},
                    "first_gpu_work_after_ms": round((busy[0][0] - s0) / 1e3, 2) if busy else None,
                    "sync_wait_ms": round(max(waits), 2) if waits else None})
    return out


def copy_origins(events: list[dict]) -> dict[str, int]:
    """Count of device-to-device copies over 1 MB by the chain of CPU ops (outermost first) that issued them."""
    ops = [e for e in events if e.get("cat") in ("cpu_op", "user_annotation") and e.get("ph") == "X"]
    runtime = {e["args"].get("correlation"): e for e in events if e.get("cat") == "cuda_runtime"}
    out: dict[str, int] = {}
    for e in events:
        if e.get("cat") != "gpu_memcpy" or "DtoD" not in e["name"] or e["args"].get("bytes", 0) < 2**20:
            continue
        r = runtime.get(e["args"].get("correlation"))
        if r is None:
            continue
        chain = sorted((o for o in ops if o.get("tid") == r.get("tid") and o["ts"] <= r["ts"] <= o["ts"] + o["dur"]),
                       key=lambda o: -o["dur"])
        key = f"{e['args']['bytes']}B: " + " > ".join(o["name"][:60] for o in chain[-6:])
        out[key] = out.get(key, 0) + 1
    return out


def trace_steps(trainer, pairs, torch, args, name: str) -> list[dict]:  # noqa: ANN001
    import gzip
    import tempfile

    from torch.profiler import ProfilerActivity, profile, record_function

    annotate(trainer, torch)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(2):
            with record_function("step"):
                trainer.step(pairs, next_pairs=pairs)
            torch.cuda.synchronize()
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        prof.export_chrome_trace(f.name)
        events = json.loads(Path(f.name).read_text())["traceEvents"]
    if args.copy_origins:
        print(name, "device-to-device copies > 1 MB by enclosing CPU ops:", json.dumps(copy_origins(events)))
    if name == args.save_trace:
        keep = [e for e in events if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset", "user_annotation",
                                                           "cuda_runtime")]
        Path(args.out_dir, f"{args.tag}_{name}_trace.json.gz").write_bytes(gzip.compress(json.dumps(keep).encode()))
    return analyse(events)


def prepare_timing(trainer, pairs, torch) -> dict:  # noqa: ANN001
    """Median seconds of each part of :meth:`FastDPOTrainer.prepare` (synchronised), over 10 repetitions."""
    from safetyalign.fastdpo.packing import pack_pairs

    parts: dict[str, list[float]] = {}

    def timed(label, fn):  # noqa: ANN001, ANN202
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        parts.setdefault(label, []).append(time.perf_counter() - t0)
        return out

    for _ in range(10):
        b = timed("pack_pairs", lambda: pack_pairs(pairs, trainer.pad_multiple))
        if trainer.decoder.embed_offloaded:
            b.inputs_embeds = timed("embedding_lookup", lambda b=b: trainer.decoder.lookup(b.input_ids))
        b = timed("to_device", lambda b=b: b.to(trainer.device))
        timed("block_mask", lambda b=b: trainer.decoder.attention_mask(b))
        timed("prepare_total", lambda: trainer.prepare(pairs))
    return {k: round(statistics.median(v), 5) for k, v in parts.items()}


def run_variant(name: str, model, pairs, lora0, args, torch) -> dict:  # noqa: ANN001
    from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer

    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in lora0:
                p.copy_(lora0[n])
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    flags = dict(VARIANTS[name.split("+")[0]])
    trainer = FastDPOTrainer(model, FastDPOConfig(beta=0.1, lr=5e-6, **flags))
    if args.prepare_timing:
        print(name, "prepare parts (s):", json.dumps(prepare_timing(trainer, pairs, torch)), flush=True)
    real = (torch.autograd.backward, torch.nn.utils.clip_grad_norm_)
    try:
        times, losses = [], []
        for _ in range(args.warmup + args.steps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            losses.append(trainer.step(pairs, next_pairs=pairs)["train/loss"])
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        t = times[args.warmup:]
        res = {"flags": flags, "median_s": round(statistics.median(t), 4), "min_s": round(min(t), 4),
               "max_s": round(max(t), 4), "first_s": round(times[0], 2),
               "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3), "losses": losses[:3]}
        res["traced_steps"] = trace_steps(trainer, pairs, torch, args, name)
    finally:
        torch.autograd.backward, torch.nn.utils.clip_grad_norm_ = real
        trainer.close()
    print(name, json.dumps(res), flush=True)
    return res


def main() -> int:
    import torch
    from workload import build_model, make_pairs, qwen_config

    args = parse_args()
    torch._dynamo.config.cache_size_limit = 64
    out: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "variants": {}}
    path = Path(args.out_dir) / f"{args.tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = qwen_config()
    pairs = make_pairs(2, 512, 512, cfg.vocab_size, 151643, 0)
    model = build_model(cfg, "cuda", torch.bfloat16, 0)
    lora0 = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if "lora_" in n}
    for name in [v for v in args.variants.split(",") if v]:
        try:
            out["variants"][name] = run_variant(name, model, pairs, lora0, args, torch)
        except Exception as exc:  # noqa: BLE001 - keep the other variants
            import traceback

            traceback.print_exc()
            out["variants"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        path.write_text(json.dumps(out, indent=1))
    print("variant | median s | min s | peak GiB | per traced step: wall / GPU busy / idle ms, idle by CPU part")
    for name, r in out["variants"].items():
        if "error" in r:
            print(name, "ERROR", r["error"][:300])
            continue
        print(f"{name} | {r['median_s']} | {r['min_s']} | {r['peak_gib']} | losses {r['losses']}")
        for s in r["traced_steps"]:
            print("   ", json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
