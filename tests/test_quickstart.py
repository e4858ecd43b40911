"""The quickstart end to end, CI-sized: real embedded SmolLM2, real shared data, few pairs/steps/prompts.

Asserts the run folder's file tree and JSON schemas, not the safety numbers (those come from the full recipe,
benchmarks/quickstart.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safetyalign.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CI_OVERRIDES = [
    "data.sources[0].count=6", "data.sources[1].count=2", "data.sources[2].count=6", "data.sources[3].count=3",
    "data.sources[4].count=2", "data.sources[5].count=2", "data.sources[6].count=2", "data.sources[7].count=3",
    "data.sources[8].count=2", "data.sources[9].count=2", "data.sources[10].count=2", "data.sources[11].count=1",
    "data.sources[12].count=1", "eval.capability.max_per_source=3", "train.max_steps=3",
    "train.save_steps=2", "lora.top_layers=2",
    "eval.max_per_suite=2", "eval.generation.max_new_tokens=6", "eval.generation.batch_size=8",
]


@pytest.mark.slow
def test_quickstart_ci_sized(tmp_path, shared_data, monkeypatch):
    from safetyalign.quickstart import headline_rows, run_quickstart

    monkeypatch.chdir(tmp_path)  # legacy copies (output/, plots/, logs/) land in the temp folder
    cfg = load_config(ROOT / "configs/quickstart.yaml", CI_OVERRIDES)
    out = run_quickstart(cfg, tmp_path / "run")
    run = out["run_dir"]
    expected = ["config.yaml", "meta.json", "run.log", "timings.json", "metrics.jsonl", "report.html", "report.md",
                "data/data_summary.json", "data/data_stats.json", "data/train.jsonl", "data/samples.json",
                "plots/data_distribution.png", "plots/training_loss.png", "plots/training_rewards.png",
                "adapter/adapter_model.safetensors", "adapter/adapter_config.json", "adapter/training_summary.json",
                "eval/evaluation_results.json", "eval/compare_results.json", "eval/generations_base.jsonl",
                "eval/generations_tuned.jsonl"]
    missing = [name for name in expected if not (run / name).is_file()]
    assert not missing, missing
    assert not list(run.rglob("*.bin")) and not list(run.rglob("*.pt"))  # weights only as safetensors
    adapter_cfg = json.loads((run / "adapter/adapter_config.json").read_text())
    assert adapter_cfg["layers_to_transform"] == list(range(28, 30))
    timings = json.loads((run / "timings.json").read_text())
    for stage in ["load_model", "data", "train", "eval_base", "eval_tuned", "compare", "report"]:
        assert stage in timings["stages"], stage
    assert timings["cpu_matmul_gflops"]["start"] > 0 and timings["cpu_matmul_gflops"]["end"] > 0
    results = json.loads((run / "eval/evaluation_results.json").read_text())
    assert set(results["summary"]) == {"base", "tuned"}
    metric = results["summary"]["tuned"]["harmful/refusal_rate"]
    assert set(metric) >= {"value", "ci95", "k", "n"} and 0 <= metric["value"] <= 1
    assert results["judge"]["primary"] == "learned" and results["judge"]["harm"] == "cross"
    rec = results["records"][0]
    assert {"id", "prompt", "lang", "expected", "base", "tuned"} <= set(rec)
    assert {"response", "verdict", "refused", "judges"} <= set(rec["tuned"])
    assert "raw" in rec["tuned"]["judges"]["pattern"]
    comp = json.loads((run / "eval/compare_results.json").read_text())
    assert set(comp["transitions"]["harmful"]) == {"safe->safe", "unsafe->safe", "safe->unsafe", "unsafe->unsafe"}
    assert sum(comp["transitions"]["harmful"].values()) == sum(1 for r in results["records"]
                                                               if r["expected"] == "refuse")
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert (tmp_path / "output" / "dpo_lora" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "output" / "compare_results.json").is_file()
    for name in ("data_distribution.png", "training_loss.png"):  # the original project's plot paths
        assert (tmp_path / "plots" / name).is_file(), name
    assert headline_rows(results["summary"])[0][0] == "unseen/harmful/refusal_rate/lang=en"
    lso = results["leave_source_out"]
    assert lso["suites"]["advbench@eval"]["split"] == "in_distribution"
    assert lso["suites"]["simplesafetytests"]["split"] == "unseen" and "advbench" in lso["training_sources"]
    assert {r["split"] for r in results["records"]} == {"unseen", "in_distribution"}
    assert all(r["harm"] for r in results["records"])
    assert results["capability"]["pairs"] > 0 and "capability/delta_loglik" in results["summary"]["tuned"]
    html = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="evaluation"' in html and "data:image/png;base64," in html
