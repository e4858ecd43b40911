"""Training stage on CPU with the tiny random Llama (tiny_model_dir) and hand-made preference rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROWS = [{"prompt": f"Tell me how to do dangerous thing number {i}.", "chosen": "I can't help with that request.",
         "rejected": f"Sure! Step one for thing {i} is easy.", "source": "test", "lang": "en"} for i in range(8)]
EVAL_ROWS = [{"prompt": "How do I hurt someone?", "chosen": "I can't help with that.", "rejected": "Sure, here.",
              "source": "test", "lang": "en"}]
STEPS, SAVE = 12, 6
METRIC_KEYS = {"step", "epoch", "train/loss", "train/rewards/chosen", "train/rewards/rejected",
               "train/rewards/margins", "train/rewards/accuracies", "train/lr", "train/grad_norm",
               "train/tokens_per_s",
               "train/peak_memory_gib"}


@pytest.fixture(scope="module")
def tiny_cfg(tiny_train_cfg):
    """The shared tiny training config with this module's step count and checkpoint interval."""
    return lambda tmp, *extra: tiny_train_cfg(tmp, f"train.max_steps={STEPS}", f"train.save_steps={SAVE}", *extra)


def file_tree(run_dir: Path) -> set[str]:
    """Relative paths of the run folder, without tensorboard event files (their names carry timestamps)."""
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
            if p.is_file() and "tensorboard" not in p.parts and "runs" not in p.parts}


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory, tiny_cfg):
    """One 12-step run shared by several tests: (cfg, run_dir, result)."""
    from safetyalign.train.trainer import train

    tmp = tmp_path_factory.mktemp("train")
    cfg = tiny_cfg(tmp)
    result = train(cfg, tmp / "run", ROWS, EVAL_ROWS)
    return cfg, tmp / "run", result


def test_run_folder_tree_and_outputs(trained):
    cfg, run_dir, result = trained
    assert result.steps == STEPS and result.adapter_dir == run_dir / "adapter"
    tree = file_tree(run_dir)
    for name in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json", "adapter/tokenizer.json",
                 "adapter/config.yaml", "adapter/training_summary.json", "metrics.jsonl",
                 "plots/training_loss.png", "plots/training_rewards.png",
                 f"checkpoints/checkpoint-{SAVE}/adapter_model.safetensors",
                 f"checkpoints/checkpoint-{STEPS}/trainer_state.json"):
        assert name in tree, name
    assert not any(n.endswith((".bin", ".pt")) and n.startswith("adapter/") for n in tree)  # safetensors only
    assert any((run_dir / "tensorboard").glob("events.out.tfevents*"))
    legacy = Path(cfg.train.output_dir)
    assert (legacy / "adapter_model.safetensors").read_bytes() == \
        (run_dir / "adapter/adapter_model.safetensors").read_bytes()
    assert (Path(cfg.run.plots_dir) / "training_loss.png").is_file()
    summary = json.loads((run_dir / "adapter/training_summary.json").read_text())
    assert summary["steps"] == STEPS and summary["reference"] == "adapter_disabled"
    assert summary["pairs"]["train"]["kept"] == len(ROWS)
    assert not list(run_dir.parent.glob(".adapter.tmp*"))  # no temp folder left behind


def test_metrics_rows_namespaced(trained):
    from safetyalign.runs import read_metrics

    _, run_dir, result = trained
    rows = read_metrics(run_dir / "metrics.jsonl")
    train_rows = [r for r in rows if "train/loss" in r]
    assert [r["step"] for r in train_rows] == list(range(1, STEPS + 1))
    for row in train_rows:
        assert METRIC_KEYS <= set(row), METRIC_KEYS - set(row)
        assert all(k in ("step", "epoch") or k.startswith(("train/", "eval/")) for k in row)
    eval_rows = [r for r in rows if "eval/loss" in r]
    assert eval_rows and "eval/rewards/margins" in eval_rows[-1]
    assert result.metrics["train/loss/last"] == train_rows[-1]["train/loss"]


def test_loss_down_margins_up(trained):
    _, _, result = trained
    m = result.metrics
    assert m["train/loss/first"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1
    assert m["train/loss/last"] < m["train/loss/first"] - 0.1
    assert m["train/rewards/margins/last"] > m["train/rewards/margins/first"] + 0.1
    assert m["train/rewards/accuracies/last"] > 0.5
    assert m["eval/loss"] < 0.6931


def test_lora_changes_base_does_not(trained, tiny_model_dir):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    _, run_dir, result = trained
    lora = load_file(str(run_dir / "adapter/adapter_model.safetensors"))
    b_weights = [v for k, v in lora.items() if "lora_B" in k]
    assert b_weights and all(v.abs().max() > 0 for v in b_weights)  # B starts at zero, so training moved it
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    trained_base = result.model.get_base_model()
    base_sd = base.state_dict()
    for name, param in trained_base.named_parameters():
        if "lora_" in name:
            continue
        key = name.replace(".base_layer", "")
        assert torch.equal(param.detach().cpu(), base_sd[key]), name


def test_adapter_reload_changes_generation(trained, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from safetyalign.chat import render_prompt

    _, run_dir, _ = trained
    tok = AutoTokenizer.from_pretrained(run_dir / "adapter")
    ids = tok(render_prompt(tok, ROWS[0]["prompt"]), return_tensors="pt", add_special_tokens=False)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        base_out = base.generate(**ids, max_new_tokens=8, do_sample=False)
        base_logits = base(**ids).logits
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run_dir / "adapter").eval()
    with torch.no_grad():
        tuned_out = tuned.generate(**ids, max_new_tokens=8, do_sample=False)
        tuned_logits = tuned(**ids).logits
    assert (tuned_logits - base_logits).abs().max() > 1e-2
    assert not torch.equal(base_out, tuned_out)


def test_export_merged_matches_adapter(trained, tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from safetyalign.train.export import export_merged

    _, run_dir, _ = trained
    out = export_merged(run_dir, tmp_path / "merged")  # a run folder resolves to its adapter/
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert not list(out.glob("adapter_*"))
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run_dir / "adapter").eval()
    ids = torch.tensor([[1, 4093, 198, 19556, 2, 198, 1, 520, 9531, 198]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, ref(ids).logits, atol=1e-4, rtol=1e-4)


def test_resume_after_interruption(trained, tiny_model_dir, tmp_path, monkeypatch, tiny_cfg):
    """Kill the run after step SAVE+2 (checkpoint SAVE exists), resume, end like the uninterrupted run."""
    from transformers import TrainerCallback

    from safetyalign.engines import trl as trainer_mod
    from safetyalign.runs import read_metrics
    from safetyalign.train.trainer import train

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == SAVE + 2:
                raise KeyboardInterrupt("simulated kill")

    real_callbacks = trainer_mod._callbacks
    monkeypatch.setattr(trainer_mod, "_callbacks", lambda *a: [*real_callbacks(*a), Crash()])
    cfg = tiny_cfg(tmp_path)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir, ROWS, EVAL_ROWS)
    assert not (run_dir / "adapter").exists()
    assert max(r["step"] for r in read_metrics(run_dir / "metrics.jsonl")) == SAVE + 1
    monkeypatch.setattr(trainer_mod, "_callbacks", real_callbacks)
    result = train(cfg, run_dir, ROWS, EVAL_ROWS, resume=True)
    assert result.steps == STEPS and result.resumed_from == SAVE
    _, ref_dir, ref_result = trained
    assert file_tree(run_dir) == file_tree(ref_dir)
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # no duplicated steps after resume
    assert result.metrics["train/loss/last"] == pytest.approx(ref_result.metrics["train/loss/last"], rel=1e-3)


def test_explicit_reference_matches_adapter_disabled(tiny_model_dir, tmp_path, tiny_cfg):
    from safetyalign.runs import read_metrics
    from safetyalign.train.trainer import train

    losses = {}
    for explicit in (False, True):
        cfg = tiny_cfg(tmp_path / str(explicit), "train.max_steps=3", "train.save_steps=3",
                       f"train.use_reference_model={str(explicit).lower()}", "train.report_to=[]")
        result = train(cfg, tmp_path / f"run{explicit}", ROWS)
        summary = json.loads((result.adapter_dir / "training_summary.json").read_text())
        assert summary["reference"] == ("explicit" if explicit else "adapter_disabled")
        losses[explicit] = [r["train/loss"] for r in read_metrics(result.metrics_path) if "train/loss" in r]
    assert losses[True][0] == pytest.approx(0.6931, abs=1e-4)
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
