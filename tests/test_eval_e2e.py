"""End to end on the tiny random model: eval (base + adapter), resume, compare, result-file schemas."""

from __future__ import annotations

import json

import pytest

from safetyalign.config import load_config
from safetyalign.eval.compare import compare_from_results
from safetyalign.eval.evaluate import evaluate

METRICS = ["harmful/refusal_rate", "harmful/attack_success_rate", "benign/over_refusal_rate",
           "benign/compliance_rate"]


def _cfg(tiny_model_dir, tmp_path, judges="[pattern]"):
    return load_config(None, [f"model.name_or_path={tiny_model_dir}", "eval.suites=[redteam_basic,benign_lookalike]",
                              "eval.max_per_suite=3", f"eval.judges={judges}", "eval.primary_judge=pattern",
                              "eval.generation.max_new_tokens=6", "eval.generation.batch_size=4",
                              f"eval.output={tmp_path / 'legacy' / 'evaluation_results.json'}"])


def _check_metric(m):
    assert set(m) == {"value", "ci95", "k", "n"} and 0 <= m["value"] <= 1 and m["ci95"][0] <= m["ci95"][1]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    out = tmp_path_factory.mktemp("adapter")
    peft.save_pretrained(out)
    return out


def test_eval_base_and_tuned_schema_and_resume(tiny_model_dir, adapter_dir, tmp_path):
    cfg = _cfg(tiny_model_dir, tmp_path)
    run = tmp_path / "run"
    res = evaluate(cfg, run, adapter_dir=adapter_dir)
    on_disk = json.loads((run / "eval" / "evaluation_results.json").read_text(encoding="utf-8"))
    assert on_disk["schema_version"] == 1 and (tmp_path / "legacy" / "evaluation_results.json").is_file()
    assert set(on_disk["models"]) == {"base", "tuned"} and on_disk["models"]["tuned"]["adapter"] == str(adapter_dir)
    assert on_disk["judge"]["primary"] == "pattern" and on_disk["suites"]["redteam_basic"] == {"n": 3,
                                                                                              "expected": "refuse"}
    assert len(on_disk["records"]) == 6
    for model in ("base", "tuned"):
        for key in METRICS:
            _check_metric(on_disk["summary"][model][key])
        assert any("/lang=" in k for k in on_disk["summary"][model])
        assert any("/category=" in k for k in on_disk["summary"][model])
    rec = on_disk["records"][0]
    assert {"id", "suite", "prompt", "lang", "category", "expected", "base", "tuned"} <= set(rec)
    assert {"response", "verdict", "refused", "harmful", "judges"} <= set(rec["base"])
    assert set(rec["base"]["judges"]["pattern"]) == {"verdict", "refused", "harmful", "score", "raw"}
    gens = (run / "eval" / "generations_tuned.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(gens) == 6 and "judges" in json.loads(gens[0])
    # adapter with random LoRA weights changes at least the logits; base responses come from the disabled adapter
    assert res["generation_stats"]["base"]["prompts"] == 6
    again = evaluate(cfg, run, adapter_dir=adapter_dir)  # resume: everything reused
    assert again["generation_stats"]["tuned"]["extra"]["reused"] == 6
    assert [r["tuned"]["response"] for r in again["records"]] == [r["tuned"]["response"] for r in res["records"]]

    comp = compare_from_results(on_disk, [{"prompt": "p", "chosen": "c", "rejected": "r", "safe_to_show": True},
                                          {"prompt": "bad", "chosen": "x", "rejected": "y", "safe_to_show": False}])
    assert comp["schema_version"] == 1 and comp["dataset_samples"][1]["prompt"].startswith("[hidden")
    assert sum(comp["transitions"]["harmful"].values()) == 3 and sum(comp["transitions"]["benign"].values()) == 3
    assert set(comp["records"][0]) >= {"id", "prompt", "lang", "category", "expected", "safe_to_show",
                                       "base_response", "tuned_response", "base_verdict", "tuned_verdict"}


def test_eval_cli_base_only_and_compare_cli(tiny_model_dir, adapter_dir, tmp_path, monkeypatch, capsys):
    from safetyalign.cli import main

    monkeypatch.chdir(tmp_path)
    over = [f"model.name_or_path={tiny_model_dir}", "eval.max_per_suite=2", "eval.judges=[pattern]",
            "eval.primary_judge=pattern", "eval.generation.max_new_tokens=4"]
    assert main(["eval", "--run-dir", "r1", "--base-only", *_cfgfile(tmp_path), *over]) == 0
    res = json.loads((tmp_path / "r1" / "eval" / "evaluation_results.json").read_text(encoding="utf-8"))
    assert list(res["summary"]) == ["base"] and "tuned" not in res["records"][0]
    assert (tmp_path / "output" / "evaluation_results.json").is_file()
    assert main(["compare", "--run-dir", "r1", "--adapter", str(adapter_dir), *_cfgfile(tmp_path), *over]) == 0
    comp = json.loads((tmp_path / "output" / "compare_results.json").read_text(encoding="utf-8"))
    assert set(comp["summary"]) == {"base", "tuned"} and len(comp["records"]) == 4
    assert (tmp_path / "r1" / "eval" / "compare_results.json").is_file()
    assert "Transitions" in capsys.readouterr().out


def _cfgfile(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("eval:\n  suites: [redteam_basic, benign_lookalike]\n", encoding="utf-8")
    return [str(path)]
