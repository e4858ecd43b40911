"""Write a local HF model folder with random bf16 weights of the Qwen2.5-7B-Instruct architecture (no real weights
are reachable offline), plus a tokenizer folder's files, for running the real recipe end to end on a GPU.

    python3 benchmarks/make_random_model.py --tokenizer TOKENIZER_DIR --out /tmp/qwen2.5-7b-random

The config is :func:`workload.qwen_config` (vocab 152064, untied embeddings); the tokenizer's
special-token ids go into the config. A smaller tokenizer (e.g. SmolLM2's 49152 tokens with a ChatML template, as
Qwen's) only uses the first ids of the 152064-row embedding, as Qwen's own tokenizer leaves its last rows unused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/workload.py, baselines.py


def main() -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from workload import qwen_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    cfg = qwen_config()
    if len(tok) > cfg.vocab_size:
        raise SystemExit(f"tokenizer has {len(tok)} tokens, more than the model's {cfg.vocab_size}")
    cfg.bos_token_id, cfg.eos_token_id = tok.bos_token_id, tok.eos_token_id
    cfg.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    torch.manual_seed(args.seed)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: {n / 1e9:.3f}B parameters, tokenizer {len(tok)} tokens, {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
