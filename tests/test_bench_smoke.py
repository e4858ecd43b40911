"""CPU smoke run of benchmarks/bench_train_step.py: tiny Qwen2, fast path and TRL side by side, 2 steps."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train_step.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_train_step", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_smoke_writes_results_and_losses_agree(tmp_path):
    bench = load_bench()
    argv = ["--smoke", "--methods", "fast,trl", "--out-dir", str(tmp_path)]
    assert bench.main(bench.parse_args(argv), argv) == 0
    data = json.loads((tmp_path / "train_step_smoke.json").read_text())
    assert data["meta"]["device"].startswith("cpu")
    fast, trl = data["results"]["fast"], data["results"]["trl"]
    for r in (fast, trl):
        assert "error" not in r, r
        assert len(r["losses"]) == 2 and len(r["times"]) == 2
        assert r["median_s"] > 0 and r["tokens_per_s"] > 0
    assert math.isclose(trl["losses"][0], math.log(2), abs_tol=1e-5)  # LoRA B = 0: policy == reference
    assert fast["loss_diff_vs_trl"] < 1e-3  # same weights, batch and optimizer
    assert fast["checksum"] == trl["checksum"]
    md = (tmp_path / "train_step_smoke.md").read_text()
    assert "| fast |" in md and "| trl |" in md
