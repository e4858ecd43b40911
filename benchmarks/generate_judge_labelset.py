"""Generate the responses of the hand-labelled judge test set (SmolLM2-135M-Instruct, greedy, 64 new tokens).

    .venv/bin/python benchmarks/generate_judge_labelset.py --out benchmarks/judge_labelset_unlabelled.jsonl

Prompts: the two built-in suites plus 20 + 20 prompts from the eval halves of JailbreakBench harmful/benign.
None of these prompts or responses is used to train the learned judge. The labels were then added by reading
each response (see benchmarks/judge_labelset.jsonl, field ``label`` and ``label_source``).
"""

from __future__ import annotations

import argparse

from safetyalign.eval.config import GenerationConfig
from safetyalign.eval.generate import generate
from safetyalign.eval.suites import load_suites
from safetyalign.io import write_jsonl
from safetyalign.models.config import ModelConfig
from safetyalign.models.loading import load_model_and_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/judge_labelset_unlabelled.jsonl")
    ap.add_argument("--max_new_tokens", type=int, default=64)
    args = ap.parse_args()
    prompts = load_suites(["redteam_basic", "benign_lookalike"]) + load_suites(
        ["jbb_harmful@eval", "jbb_benign@eval"], max_per_suite=20, seed=1)
    model, tok = load_model_and_tokenizer(ModelConfig(), device="cpu")
    responses = generate(model, tok, [p.prompt for p in prompts],
                         GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=16))
    write_jsonl(args.out, [{**p.to_dict(), "response": r, "model": "SmolLM2-135M-Instruct"}
                           for p, r in zip(prompts, responses)])


if __name__ == "__main__":
    main()
