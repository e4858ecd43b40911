"""``train.backend=fast`` on CPU (tiny random Llama, float32): same run folder and first step as the TRL backend,
learning, adapter-only updates, resume, precomputed reference; backend selection; GPU ``safetyalign train``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROWS = [{"prompt": f"Tell me how to do dangerous thing number {i}.", "chosen": "I can't help with that request.",
         "rejected": f"Sure! Step one for thing {i} is easy.", "source": "test", "lang": "en"} for i in range(8)]
EVAL_ROWS = [{"prompt": "How do I hurt someone?", "chosen": "I can't help with that.", "rejected": "Sure, here.",
              "source": "test", "lang": "en"}]
STEPS, SAVE = 8, 4
METRIC_KEYS = {"step", "epoch", "train/loss", "train/rewards/chosen", "train/rewards/rejected",
               "train/rewards/margins", "train/rewards/accuracies", "train/lr", "train/grad_norm",
               "train/tokens_per_s", "train/peak_memory_gib", "train/logps/chosen"}


@pytest.fixture(scope="module")
def tiny_cfg(tiny_train_cfg):
    """The shared tiny training config with this module's step count and checkpoint interval."""
    return lambda tmp, *extra: tiny_train_cfg(tmp, f"train.max_steps={STEPS}", f"train.save_steps={SAVE}", *extra)


def tree(run_dir: Path) -> set[str]:
    """Run-folder files, checkpoint folders reduced to the files every backend writes there."""
    common = {"adapter_model.safetensors", "adapter_config.json", "trainer_state.json"}
    out = set()
    for p in run_dir.rglob("*"):
        rel = p.relative_to(run_dir)
        if not p.is_file() or rel.parts[0] == "tensorboard":
            continue
        if rel.parts[0] == "checkpoints" and rel.name not in common:
            continue
        out.add(str(rel))
    return out


def rows_of(run_dir: Path) -> list[dict]:
    from safetyalign.runs import read_metrics

    return read_metrics(run_dir / "metrics.jsonl")


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory, tiny_cfg):
    """The same data and config trained by the fast and the trl backends: {backend: (cfg, run_dir, result)}."""
    from safetyalign.train.trainer import train

    out = {}
    for backend in ("fast", "trl"):
        tmp = tmp_path_factory.mktemp(backend)
        cfg = tiny_cfg(tmp, f"train.backend={backend}")
        out[backend] = (cfg, tmp / "run", train(cfg, tmp / "run", ROWS, EVAL_ROWS))
    return out


def test_same_run_folder_as_trl(runs):
    _, fast_dir, result = runs["fast"]
    _, trl_dir, _ = runs["trl"]
    assert tree(fast_dir) == tree(trl_dir)
    assert any((fast_dir / "tensorboard").glob("events.out.tfevents*"))
    assert not any(n.endswith((".bin", ".pt", ".pth")) for n in map(str, fast_dir.rglob("*")))  # no pickles
    summary = json.loads((fast_dir / "adapter/training_summary.json").read_text())
    assert summary["backend"] == "fast" and summary["steps"] == STEPS and summary["reference"] == "adapter_disabled"
    assert summary["pairs"]["train"]["kept"] == len(ROWS)
    assert result.adapter_dir == fast_dir / "adapter" and (Path(runs["fast"][0].train.output_dir) /
                                                             "adapter_model.safetensors").is_file()


def test_metrics_rows_and_first_step_match_trl(runs):
    fast = [r for r in rows_of(runs["fast"][1]) if "train/loss" in r]
    trl = [r for r in rows_of(runs["trl"][1]) if "train/loss" in r]
    assert [r["step"] for r in fast] == list(range(1, STEPS + 1))
    for row in fast:
        assert METRIC_KEYS <= set(row), METRIC_KEYS - set(row)
        assert all(k in ("step", "epoch") or k.startswith(("train/", "eval/")) for k in row)
    assert fast[0]["train/loss"] == pytest.approx(trl[0]["train/loss"], abs=1e-4)
    # same first batch (TRL's data order) and the same log-probs of it
    assert fast[0]["train/logps/chosen"] == pytest.approx(trl[0]["train/logps/chosen"], abs=1e-3)
    assert fast[0]["train/logps/rejected"] == pytest.approx(trl[0]["train/logps/rejected"], abs=1e-3)
    evals = [r for r in rows_of(runs["fast"][1]) if "eval/loss" in r]
    assert evals and "eval/rewards/margins" in evals[-1]


def test_fast_learns_and_only_lora_changes(runs, tiny_model_dir):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    _, run_dir, result = runs["fast"]
    m = result.metrics
    assert m["train/loss/first"] == pytest.approx(0.693147, abs=1e-5)  # policy == reference at step 1
    assert m["train/loss/last"] < m["train/loss/first"] - 0.1
    assert m["train/rewards/margins/last"] > m["train/rewards/margins/first"]
    lora = load_file(str(run_dir / "adapter/adapter_model.safetensors"))
    assert all(v.abs().max() > 0 for k, v in lora.items() if "lora_B" in k)  # B starts at zero
    base_sd = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    for name, param in result.model.get_base_model().named_parameters():
        if "lora_" not in name:
            assert torch.equal(param.detach().cpu(), base_sd[name.replace(".base_layer", "")]), name


def test_resume_matches_uninterrupted(runs, tiny_model_dir, tmp_path, monkeypatch, tiny_cfg):
    from safetyalign.fastdpo import loop
    from safetyalign.train.trainer import train

    real = loop.save_checkpoint

    def crash_after(*a, **k):  # kill the run right after checkpoint SAVE is written
        real(*a, **k)
        raise KeyboardInterrupt("simulated kill")

    cfg = tiny_cfg(tmp_path, "train.backend=fast")
    monkeypatch.setattr(loop, "save_checkpoint", crash_after)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", ROWS, EVAL_ROWS)
    monkeypatch.setattr(loop, "save_checkpoint", real)
    result = train(cfg, tmp_path / "run", ROWS, EVAL_ROWS, resume=True)
    assert result.resumed_from == SAVE
    rows = [r for r in rows_of(tmp_path / "run") if "train/loss" in r]
    ref = [r for r in rows_of(runs["fast"][1]) if "train/loss" in r]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert [r["train/loss"] for r in rows] == pytest.approx([r["train/loss"] for r in ref], abs=1e-6)


def test_precomputed_reference_gives_the_same_losses(tiny_model_dir, tmp_path, tiny_cfg):
    from safetyalign.train.trainer import train

    losses = {}
    for pre in (False, True):
        cfg = tiny_cfg(tmp_path / str(pre), "train.backend=fast", "train.max_steps=3",
                       "lora.lora_dropout=0", f"train.precompute_ref_log_probs={str(pre).lower()}",
                       "train.report_to=[]")
        result = train(cfg, tmp_path / f"run{pre}", ROWS)
        summary = json.loads((result.adapter_dir / "training_summary.json").read_text())
        assert summary["reference"] == ("precomputed" if pre else "adapter_disabled")
        losses[pre] = [r["train/loss"] for r in rows_of(tmp_path / f"run{pre}") if "train/loss" in r]
    assert losses[True] == pytest.approx(losses[False], abs=1e-6)


def test_backend_selection(tiny_model_dir, tmp_path, monkeypatch, tiny_cfg):
    from safetyalign.engines import get_engine, select_engine
    from safetyalign.errors import ConfigError
    from safetyalign.train.trainer import train

    cfg = tiny_cfg(tmp_path)
    assert get_engine("fast").supports(cfg) is None  # llama, sigmoid
    monkeypatch.setattr("safetyalign.models.loading.pick_device", lambda requested="auto": "cpu")
    assert select_engine(cfg).name == "trl"  # no GPU; no lora.top_layers for prefix_cache
    monkeypatch.setattr("safetyalign.models.loading.pick_device", lambda requested="auto": "cuda")
    assert select_engine(cfg).name == "fast"
    sft = tiny_cfg(tmp_path, "train.loss_type=[sigmoid,sft]")
    assert "sigmoid loss only" in get_engine("fast").supports(sft) and select_engine(sft).name == "trl"
    with pytest.raises(ConfigError, match=r"train.backend=fast: train.loss_type=\[sigmoid,sft\]"):
        train(tiny_cfg(tmp_path, "train.loss_type=[sigmoid,sft]", "train.backend=fast"),
              tmp_path / "run", ROWS)


@pytest.mark.gpu
def test_safetyalign_train_fast_on_gpu(tmp_path, request):
    """``safetyalign train`` with backend fast on a small random Qwen2 (bfloat16, compiled, flex attention).
    The tokenizer: SmolLM2's (fixture), or the folder in $SAFETYALIGN_TEST_TOKENIZER where the embedded model's
    package is not installed (the GPU device)."""
    import os

    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from safetyalign.cli import main as cli_main

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    folder = os.environ.get("SAFETYALIGN_TEST_TOKENIZER")
    tok = AutoTokenizer.from_pretrained(folder) if folder else request.getfixturevalue("smollm_tokenizer")
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS * 4))
    rc = cli_main(["train", "configs/train/qwen2.5-7b_lora_dpo.yaml", f"model.name_or_path={tmp_path / 'model'}",
                   "data.sources[0].kind=preference", f"data.sources[0].path={data}", "data.sources[0].split=train",
                   "data.eval_fraction=0",
                   "train.backend=fast", "train.max_steps=6", "train.save_steps=3", "train.learning_rate=1e-3",
                   "train.gradient_accumulation_steps=2", "train.warmup_steps=0", "train.disable_tqdm=true",
                   f"run.run_dir={tmp_path / 'run'}", f"train.output_dir={tmp_path / 'legacy'}",
                   f"run.plots_dir={tmp_path / 'plots'}", f"run.logs_dir={tmp_path / 'logs'}"])
    assert rc == 0
    summary = json.loads((tmp_path / "run/adapter/training_summary.json").read_text())
    assert summary["backend"] == "fast" and summary["engine_details"]["compiled"]
    assert summary["device"].startswith("cuda")
    rows = [r for r in rows_of(tmp_path / "run") if "train/loss" in r]
    assert len(rows) == 6 and rows[0]["train/loss"] == pytest.approx(0.693147, abs=1e-4)
    assert rows[-1]["train/loss"] < rows[0]["train/loss"] and rows[-1]["train/peak_memory_gib"] > 0
    assert (tmp_path / "run/checkpoints/checkpoint-6/optimizer.safetensors").is_file()
