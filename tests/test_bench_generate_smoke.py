"""CPU smoke run of benchmarks/bench_generate.py: tiny Qwen2, the engine and HF generate (dynamic and static cache)
on the same forced-length workload; every method produces every requested token."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_generate.py"


def test_bench_generate_smoke(tmp_path):
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = bench.parse_args(["--smoke", "--requests", "12", "--batch-size", "4", "--engine-repeats", "1",
                             "--hf-budget", "60", "--methods", "engine,hf_generate,hf_static",
                             "--out-dir", str(tmp_path)])
    assert bench.main(args) == 0
    data = json.loads((tmp_path / "generate_smoke.json").read_text())
    res = data["results"]
    assert all("error" not in r for r in res.values()), res
    run = res["engine_256"]["runs"][0]
    assert run["exact_lengths"] and run["new_tokens"] == data["meta"]["workload"]["answer_tokens"]
    for k in ("hf_generate", "hf_static"):  # batches after the first one are timed: 2 of 3 here
        assert res[k]["requests_timed"] == 8 and res[k]["tokens_per_s"] > 0
    assert "| engine (256 slots) |" in (tmp_path / "generate_smoke.md").read_text()
