"""How long the default judge takes for 1,000 (prompt, response) pairs with responses of at most 256 tokens.

    .venv/bin/python benchmarks/bench_judge_speed.py [--judge cross] [--threads 2] [--n 1000]

Rows: the longest responses of at most 256 MiniLM tokens from the judge's test sources (jbb-artifacts, rbr-gold,
llm-self-defense, zh-latent-jailbreak ChatGPT answers; read from ../shared/data), so the timing is close to the
worst case the target allows. The model load is timed separately. The CPU of the development machine is shared:
the matmul probe (GFLOP/s of a 1024x1024 fp32 matmul) and the load average are recorded, and so is the CPU time of
the process (contention inflates wall time, not CPU time). Target: <= 120 s on 2 cores.
Writes benchmarks/results/judge/speed_<judge>.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def pick_rows(n: int) -> list[dict]:
    from safetyalign.eval.judge_data import TEST_SOURCES, build
    from safetyalign.eval.judges.cross_model import load_encoder

    tok, _ = load_encoder()
    rows = build(tuple(s for s in TEST_SOURCES if s != "handchecked"))
    lengths = [len(ids) for ids in tok([r["response"] for r in rows], add_special_tokens=False)["input_ids"]]
    fit = sorted((ln, i) for i, ln in enumerate(lengths) if ln <= 256)
    return [dict(rows[i], resp_tokens=ln) for ln, i in fit[-n:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", default="cross")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    import torch

    from safetyalign.eval.judges import make_judge
    from safetyalign.io import write_json
    from safetyalign.runs import cpu_matmul_gflops

    torch.set_num_threads(args.threads)
    rows = pick_rows(args.n)
    probe_start = cpu_matmul_gflops()
    t0 = time.perf_counter()
    judge = make_judge(args.judge)
    judge.judge(["warm-up"], ["I can't help with that."])  # loads the model
    load_s = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    verdicts = judge.judge([r["prompt"] for r in rows], [r["response"] for r in rows])
    judge_s, cpu_s = time.perf_counter() - t1, time.process_time() - c1
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "judge": args.judge, "rows": len(rows),
        "response_tokens": {"max": max(r["resp_tokens"] for r in rows), "mean": round(
            sum(r["resp_tokens"] for r in rows) / len(rows), 1)},
        "torch_threads": args.threads, "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_seconds": round(load_s, 1), "judge_seconds": round(judge_s, 1),
        # CPU seconds of this process (all its threads): on 2 free cores the wall time is about half of this
        "judge_cpu_seconds": round(cpu_s, 1), "load_average_1min_end": round(os.getloadavg()[0], 2),
        "rows_per_second": round(len(rows) / judge_s, 1), "target_seconds_per_1000": 120,
        "meets_target": judge_s * 1000 / len(rows) <= 120, "verdicts": len(verdicts),
        "cpu_matmul_gflops": {"start": probe_start, "end": cpu_matmul_gflops()},
        "command": f"python benchmarks/bench_judge_speed.py --judge {args.judge} --threads {args.threads} "
                   f"--n {args.n}",
    }
    write_json(ROOT / "results" / "judge" / f"speed_{args.judge}.json", result)
    print(result)


if __name__ == "__main__":
    main()
