"""#23 case 1: the evaluation's generation cache is keyed by content (adapter and base weights, generation
settings, suite fingerprint), so a rerun never reports another adapter's answers."""

from __future__ import annotations

import shutil

import pytest

from safetyalign.config import load_config
from safetyalign.eval.evaluate import evaluate


def _cfg(tiny_model_dir, tmp_path, *extra):
    return load_config(None, [f"model.name_or_path={tiny_model_dir}", "eval.suites=[redteam_basic,benign_lookalike]",
                              "eval.max_per_suite=3", "eval.judges=[pattern]", "eval.primary_judge=pattern",
                              "eval.generation.max_new_tokens=4", "eval.generation.batch_size=6",
                              f"eval.output={tmp_path / 'legacy.json'}", *extra])


def _adapter(tiny_model_dir, out, seed):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                                            init_lora_weights=False))
    peft.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adapters")
    return _adapter(tiny_model_dir, tmp / "a1", 1), _adapter(tiny_model_dir, tmp / "a2", 2)


def _tuned(res):
    return [r["tuned"]["response"] for r in res["records"]]


def test_new_adapter_in_the_same_folder_is_not_served_from_cache(tiny_model_dir, adapters, tmp_path):
    a1, a2 = adapters
    cfg = _cfg(tiny_model_dir, tmp_path)
    folder = tmp_path / "run" / "adapter"
    shutil.copytree(a1, folder)
    first = evaluate(cfg, tmp_path / "run", adapter_dir=folder)
    assert first["generation_stats"]["tuned"]["extra"]["reused"] == 0
    again = evaluate(cfg, tmp_path / "run", adapter_dir=folder)  # same content: everything reused
    assert again["generation_stats"]["tuned"]["extra"]["reused"] == 6 and _tuned(again) == _tuned(first)
    shutil.rmtree(folder)
    shutil.copytree(a2, folder)  # retrained into the same folder: same path, other weights
    second = evaluate(cfg, tmp_path / "run", adapter_dir=folder)
    assert second["generation_stats"]["tuned"]["extra"]["reused"] == 0
    assert second["generation_stats"]["base"]["extra"]["reused"] == 6  # the base did not change
    fresh = evaluate(cfg, tmp_path / "fresh", adapter_dir=a2)
    assert _tuned(second) == _tuned(fresh) and _tuned(second) != _tuned(first)
    assert second["models"]["tuned"]["adapter_sha256"] == fresh["models"]["tuned"]["adapter_sha256"]


@pytest.mark.parametrize("change", ["eval.generation.max_new_tokens=5", "eval.max_per_suite=2",
                                    "model.system_prompt=Be brief."])
def test_generation_settings_and_suite_changes_invalidate_the_cache(change, tiny_model_dir, adapters, tmp_path):
    a1, _ = adapters
    evaluate(_cfg(tiny_model_dir, tmp_path), tmp_path / "run", adapter_dir=a1)
    res = evaluate(_cfg(tiny_model_dir, tmp_path, change), tmp_path / "run", adapter_dir=a1)
    assert res["generation_stats"]["base"]["extra"]["reused"] == 0
    assert res["generation_stats"]["tuned"]["extra"]["reused"] == 0


def test_changed_base_weights_invalidate_the_cache(tiny_model_dir, adapters, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    cfg = _cfg(base, tmp_path)
    evaluate(cfg, tmp_path / "run", base_only=True)
    model = AutoModelForCausalLM.from_pretrained(base)
    with torch.no_grad():
        model.model.norm.weight.mul_(3.0)
    model.save_pretrained(base, safe_serialization=True)
    res = evaluate(cfg, tmp_path / "run", base_only=True)
    assert res["generation_stats"]["base"]["extra"]["reused"] == 0
