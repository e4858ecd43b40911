"""Fast unit tests of the training stage: tokenization, loss mapping, metrics rows, plots, checkpoints, CLI args."""

from __future__ import annotations

import json

import pytest

from safetyalign.config import load_config
from safetyalign.errors import ConfigError, DataError


def test_tokenize_pairs_single_eos_no_extra_bos(smollm_tokenizer):
    from safetyalign.chat import end_of_turn, render_prompt
    from safetyalign.train.pairs import render_rows, tokenize_pairs

    tok = smollm_tokenizer
    rows = [{"prompt": "How do I pick a lock?", "chosen": "I can't help with that.", "rejected": "Sure, first..."}]
    text = render_rows(rows, tok, system_prompt="Be safe.")
    assert text[0]["prompt"] == render_prompt(tok, "How do I pick a lock?", "Be safe.")  # identical to eval
    examples, stats = tokenize_pairs(text, tok, max_length=256, max_prompt_length=128)
    ex = examples[0]
    eot = tok.convert_tokens_to_ids(end_of_turn(tok))
    for key in ("chosen_ids", "rejected_ids"):
        assert ex[key][-1] == eot and ex[key].count(eot) == 1 and ex[key].count(tok.eos_token_id) <= 1
    assert ex["prompt_ids"] == tok(text[0]["prompt"], add_special_tokens=False)["input_ids"]
    bos = tok.bos_token_id
    assert bos is None or ex["prompt_ids"][:2].count(bos) <= 1  # never a tokenizer BOS in front of the template's
    assert stats.kept == 1 and stats.tokens > 0


def test_tokenize_pairs_truncation_and_skips(smollm_tokenizer):
    from safetyalign.train.pairs import render_rows, tokenize_pairs

    tok = smollm_tokenizer
    long_prompt = "word " * 300
    rows = [{"prompt": long_prompt, "chosen": "No. " * 50, "rejected": "Yes. " * 50},
            {"prompt": "hi", "chosen": "same", "rejected": "same"}]
    examples, stats = tokenize_pairs(render_rows(rows, tok), tok, max_length=64, max_prompt_length=32)
    assert len(examples) == 1 and stats.prompt_truncated == 1 and stats.completion_truncated == 1
    assert stats.skipped == {"identical_after_truncation": 1}
    ex = examples[0]
    assert len(ex["prompt_ids"]) == 32 and len(ex["prompt_ids"]) + len(ex["chosen_ids"]) <= 64
    # left truncation keeps the end of the prompt: the assistant generation header
    assert tok.decode(ex["prompt_ids"]).endswith("assistant\n")


def test_render_rows_rejects_bad_rows(smollm_tokenizer):
    from safetyalign.train.pairs import render_rows

    with pytest.raises(DataError, match="row 1: field 'rejected'"):
        render_rows([{"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "a", "chosen": "b"}],
                    smollm_tokenizer)
    with pytest.raises(DataError, match="on-policy"):
        render_rows([{"prompt": "a", "chosen": "b", "rejected": "", "needs_generation": True}], smollm_tokenizer)


def test_loss_config_validation_and_mapping():
    from safetyalign.train.dpo_args import loss_spec

    cfg = load_config(None, ["train.loss_type=[sigmoid,sft]", "train.loss_weights=[1.0,0.5]"])
    assert loss_spec(cfg.train) == (["sigmoid", "sft"], [1.0, 0.5])
    cfg = load_config(None, ["train.rpo_alpha=0.3"])
    assert loss_spec(cfg.train) == (["sigmoid", "sft"], [1.0, 0.3])
    with pytest.raises(ConfigError, match="unknown"):
        load_config(None, ["train.loss_type=[sigmoid,dpo_magic]"])
    with pytest.raises(ConfigError, match="loss_weights"):
        load_config(None, ["train.loss_type=[sigmoid,sft]", "train.loss_weights=[1.0]"])


def test_dpo_config_mapping(tmp_path):
    import torch

    from safetyalign.train.dpo_args import dpo_config

    cfg = load_config("configs/train/smollm2_cpu.yaml", ["train.eval_steps=5"])
    args = dpo_config(cfg, tmp_path, "cpu", torch.float32, has_eval=True)
    assert args.loss_type == ["sigmoid", "sft"] and args.loss_weights == [1.0, 0.5]
    assert not args.bf16 and not args.fp16 and args.use_cpu and not args.gradient_checkpointing
    assert args.max_length == 192 and args.save_steps == 10 and args.eval_steps == 5
    assert args.output_dir == str(tmp_path / "checkpoints") and args.report_to == []


def test_namespace_logs():
    from safetyalign.train.metrics import namespace_logs

    row = namespace_logs({"loss": 0.6, "learning_rate": 1e-4, "rewards/margins": 0.1, "grad_norm": 1.0,
                          "epoch": 0.5, "num_tokens": 10}, step=3, epoch=0.5)
    assert row == {"step": 3, "epoch": 0.5, "train/loss": 0.6, "train/lr": 1e-4, "train/rewards/margins": 0.1,
                   "train/grad_norm": 1.0}
    row = namespace_logs({"eval_loss": 0.5, "eval_rewards/accuracies": 1.0, "epoch": 1.0}, step=4, epoch=1.0)
    assert row["eval/loss"] == 0.5 and row["eval/rewards/accuracies"] == 1.0


def test_truncate_metrics(tmp_path):
    from safetyalign.train.metrics import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "train/loss": 1.0}) + "\n" for s in range(1, 6)) + '{"step": 6, ')
    assert truncate_metrics(path, 3) == 2
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]


def test_plot_training(tmp_path):
    from safetyalign.train.plots import plot_training

    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "train/loss": 0.7 - 0.02 * s, "train/rewards/chosen": 0.01 * s,
             "train/rewards/rejected": -0.02 * s, "train/rewards/margins": 0.03 * s,
             "train/rewards/accuracies": min(1.0, 0.1 * s)} for s in range(1, 11)]
    rows.append({"step": 10, "eval/loss": 0.5, "eval/rewards/accuracies": 0.9})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    files = plot_training(path, tmp_path / "plots")
    assert [f.name for f in files] == ["training_loss.png", "training_rewards.png"]
    assert all(f.stat().st_size > 10_000 and f.read_bytes()[:4] == b"\x89PNG" for f in files)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert plot_training(empty, tmp_path / "none") == []


def test_last_checkpoint_skips_incomplete(tmp_path):
    from safetyalign.train.artifacts import last_checkpoint

    ck = tmp_path / "checkpoints"
    for step, complete in ((5, True), (10, True), (15, False)):
        d = ck / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "adapter_model.safetensors").write_bytes(b"x")
        (d / "optimizer.pt").write_bytes(b"x")
        (d / "trainer_state.json").write_text(json.dumps({"global_step": step}) if complete else '{"glob')
    assert last_checkpoint(ck).name == "checkpoint-10"
    assert not (ck / "checkpoint-15").exists()
    assert last_checkpoint(tmp_path / "missing") is None


def test_backend_errors(monkeypatch):
    import importlib.util

    from safetyalign.engines import get_engine
    from safetyalign.engines.unsloth import import_unsloth

    assert get_engine("unsloth").name == "unsloth"
    with pytest.raises(ConfigError, match="unknown backend"):
        get_engine("jax")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "unsloth" else real(n, *a))
    with pytest.raises(ConfigError, match="unsloth is not installed"):
        import_unsloth()


def test_cli_arguments():
    import argparse

    from safetyalign.train import cli, export

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    a = p.parse_args(["c.yaml", "train.learning_rate=1e-4", "--resume", "--run-dir", "r", "--use_reference_model"])
    assert a.resume and a.run_dir == "r" and a.use_reference_model and a.overrides == ["train.learning_rate=1e-4"]
    p = argparse.ArgumentParser()
    export.add_arguments(p)
    a = p.parse_args(["output/runs/x", "--out", "merged", "--base", "embedded:smollm2-135m"])
    assert a.out == "merged" and a.base == "embedded:smollm2-135m"
    with pytest.raises(ConfigError, match="no adapter_config.json"):
        export.find_adapter("/nonexistent")
