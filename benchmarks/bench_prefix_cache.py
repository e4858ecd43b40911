"""CPU timing of the prefix_cache backend on a real recipe: cache build (frozen bottom layers + reference) and DPO
steps, on the embedded SmolLM2-135M and the training pairs of a finished quickstart run.

    python3 scripts/dev.py run python benchmarks/bench_prefix_cache.py --pairs output/runs/<run>/data/train.jsonl

Uses the run's own config (``config.yaml`` next to ``data/``) for the LoRA, split layer, batch size and lengths.
Times two layouts on the same pairs and batches: one pair per row (how the backend packed before) and micro-batches
packed into rows behind the shared prompt prefix (``--max-row-tokens``, the default). Writes
``prefix_cache_<tag>.json`` (seconds for the cache and per step, tokens per step, matmul probe) to --out-dir.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", required=True, help="data/train.jsonl of a quickstart run (its config.yaml is used)")
    p.add_argument("--limit", type=int, default=96, help="pairs to cache (a multiple of the batch size)")
    p.add_argument("--steps", type=int, default=12, help="timed DPO steps (after 2 untimed)")
    p.add_argument("--max-row-tokens", type=int, default=1024)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default="cpu")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    from safetyalign.config import load_config
    from safetyalign.data import to_trl_rows
    from safetyalign.io import atomic_write_text, iter_jsonl
    from safetyalign.models.loading import load_model, load_tokenizer
    from safetyalign.prefix_cache.backend import _args, _peft_model, split_layer
    from safetyalign.prefix_cache.core import build_cache, dpo_step
    from safetyalign.prefix_cache.trainer import encode_rows
    from safetyalign.runs import cpu_matmul_gflops

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(Path(args.pairs).parents[1] / "config.yaml")
    tok, model = load_tokenizer(cfg.model), load_model(cfg.model, for_training=True)
    first = split_layer(cfg, model.config.num_hidden_layers)
    model = _peft_model(cfg, model, first, model.config.num_hidden_layers)
    targs = _args(cfg, first)
    rows = to_trl_rows([row for _, row in iter_jsonl(args.pairs)][: args.limit], tok, cfg.model.system_prompt)
    pairs = encode_rows(tok, rows, targs)
    layouts = {"one_pair_per_row": 1, "packed_rows": args.max_row_tokens}  # before / after row packing
    probe_start = cpu_matmul_gflops()
    cache, cache_s = None, {}
    for name, rows_max in layouts.items():
        t0 = time.perf_counter()
        cache = build_cache(model, pairs, first, max_row_tokens=rows_max)
        cache_s[name] = round(time.perf_counter() - t0, 2)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=targs.lr)
    step_s: dict[str, list[float]] = {name: [] for name in layouts}
    tokens: dict[str, list[float]] = {name: [] for name in layouts}
    bs = targs.batch_size
    for step in range(args.steps + 2):  # the layouts alternate on the same batches, so drifts in speed hit both
        batch = [cache.pairs[(step * bs + j) % len(cache.pairs)] for j in range(bs)]
        for name, rows_max in layouts.items():
            t = time.perf_counter()
            out = dpo_step(model, cache, batch, first, targs.beta, targs.loss_types,
                           targs.loss_weights or [1.0] * len(targs.loss_types), rows_max)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step >= 2:
                step_s[name].append(time.perf_counter() - t)
                tokens[name].append(out.stats["train/tokens"])
    result = {
        "command": "python benchmarks/bench_prefix_cache.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"threads": torch.get_num_threads(), "platform": platform.platform()},
        "pairs": len(pairs), "batch_size": bs, "split_layer": first, "max_row_tokens": args.max_row_tokens,
        "shared_prefix_tokens": int(cache.prefix.ids.shape[0]),
        "layouts": {name: {"cache_s": cache_s[name], "step_median_s": round(statistics.median(step_s[name]), 3),
                           "real_tokens_per_step": statistics.mean(tokens[name]), "steps": len(step_s[name])}
                    for name in layouts},
        "cpu_matmul_gflops": {"start": probe_start, "end": cpu_matmul_gflops()},
    }
    out_path = Path(args.out_dir) / f"prefix_cache_{args.tag}.json"
    atomic_write_text(out_path, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
