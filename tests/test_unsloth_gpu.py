"""``safetyalign train … train.backend=unsloth`` end to end on a CUDA GPU (the device): Unsloth's FastLanguageModel
+ PatchDPOTrainer + TRL's DPOTrainer on a small random Qwen2, through the project's CLI, in a fresh process (Unsloth
must be imported before transformers). Unsloth's pins differ from the project's (see benchmarks/fetch_wheels.sh
--unsloth): $SAFETYALIGN_UNSLOTH_SITE, when set, is put first on that process's PYTHONPATH."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = [{"prompt": f"Question {i}: how do I stay safe online?", "chosen": "Use strong, unique passwords.",
         "rejected": "No idea."} for i in range(8)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    site = env.get("SAFETYALIGN_UNSLOTH_SITE")
    paths = [p for p in (site, str(ROOT / "src"), env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@pytest.mark.gpu
def test_safetyalign_train_unsloth_on_gpu(tmp_path, request):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    site = os.environ.get("SAFETYALIGN_UNSLOTH_SITE")
    if importlib.util.find_spec("unsloth") is None and not (site and (Path(site) / "unsloth").is_dir()):
        pytest.skip("unsloth not installed (benchmarks/fetch_wheels.sh --unsloth)")
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    folder = os.environ.get("SAFETYALIGN_TEST_TOKENIZER")
    tok = AutoTokenizer.from_pretrained(folder) if folder else request.getfixturevalue("smollm_tokenizer")
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).to(torch.bfloat16).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    cmd = [sys.executable, "-m", "safetyalign", "train", str(ROOT / "configs/train/qwen2.5-7b_lora_dpo.yaml"),
           f"model.name_or_path={tmp_path / 'model'}", "model.max_length=128", "model.max_prompt_length=64",
           "data.sources[0].kind=preference", f"data.sources[0].path={data}", "data.sources[0].split=train",
           "data.eval_fraction=0", "train.backend=unsloth", "train.max_steps=4", "train.save_steps=2",
           "train.learning_rate=1e-3", "train.gradient_accumulation_steps=1", "train.warmup_steps=0",
           "train.disable_tqdm=true", f"run.run_dir={tmp_path / 'run'}", f"train.output_dir={tmp_path / 'legacy'}",
           f"run.plots_dir={tmp_path / 'plots'}", f"run.logs_dir={tmp_path / 'logs'}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    summary = json.loads((run / "adapter/training_summary.json").read_text())
    assert summary["backend"] == "unsloth" and summary["steps"] == 4 and summary["schema_version"] >= 2
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 4 and losses[0] == pytest.approx(0.693147, abs=2e-3)
    assert (run / "adapter/adapter_model.safetensors").is_file() and list((run / "plots").glob("*.png"))
