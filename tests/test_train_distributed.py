"""Multi-process training: shipped accelerate configs, the `--num_processes` launcher, and a real 2-process CPU run
(gloo) that must reproduce the 1-process loss trajectory with the same global batch, write one adapter and resume."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACCEL = ROOT / "configs" / "accelerate"
STEPS, SAVE = 4, 2
# Measured on CPU (float32): |loss(1 process, batch 2) - loss(2 processes, batch 1 each)| <= 4e-7 per step and
# LoRA weights within 3e-6 after 4 steps; the differences are float rounding (batched vs separate forwards,
# gradient mean over the batch vs all-reduce mean over processes). The bounds leave ~25x margin.
LOSS_TOL, WEIGHT_TOL = 1e-5, 1e-4


# ---- shipped accelerate configs -------------------------------------------------------------------------------

EXPECTED = {  # config -> (distributed_type in the file, what accelerate launch derives, use_cpu)
    "ddp.yaml": ("MULTI_GPU", "multi_gpu", False),
    "fsdp.yaml": ("FSDP", "use_fsdp", False),
    "zero2.yaml": ("DEEPSPEED", "use_deepspeed", False),
    "zero3.yaml": ("DEEPSPEED", "use_deepspeed", False),
    "cpu_gloo.yaml": ("MULTI_GPU", "multi_gpu", True),
}
REQUIRED = {"compute_environment", "distributed_type", "machine_rank", "mixed_precision", "num_machines",
            "num_processes", "use_cpu"}


def _validated(path: Path):
    """accelerate launch's own parsing + validation of a config file (no process is started)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    parsed = launch_command_parser().parse_args(["--config_file", str(path), "--num_processes", "2",
                                                 "--main_process_port", "29555", "-m", "safetyalign", "train", "x"])
    args, defaults, _ = _validate_launch_command(parsed)
    return args, defaults


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_accelerate_config_is_valid(name):
    path = ACCEL / name
    raw = yaml.safe_load(path.read_text())
    assert REQUIRED <= set(raw), REQUIRED - set(raw)
    dist_type, launcher_flag, use_cpu = EXPECTED[name]
    assert raw["distributed_type"] == dist_type and raw["use_cpu"] is use_cpu and raw["num_machines"] == 1
    assert raw["mixed_precision"] == ("no" if use_cpu else "bf16")
    assert bool(raw.get("fsdp_config")) == (dist_type == "FSDP")
    assert bool(raw.get("deepspeed_config")) == (dist_type == "DEEPSPEED")
    args, _ = _validated(path)
    assert getattr(args, launcher_flag) is True and args.use_cpu is use_cpu and args.cpu is False  # torchrun path
    for flag in {"multi_gpu", "use_fsdp", "use_deepspeed"} - {launcher_flag}:
        assert not getattr(args, flag), flag


def test_fsdp_config_suits_peft_lora():
    from accelerate.utils.launch import prepare_multi_gpu_env

    fsdp = yaml.safe_load((ACCEL / "fsdp.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_use_orig_params"] is True  # frozen base + trainable LoRA in one FSDP unit
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"  # final adapter gathered by distributed.py
    args, _ = _validated(ACCEL / "fsdp.yaml")
    env = prepare_multi_gpu_env(args)  # raises if cpu_ram_efficient_loading lacks sync_module_states
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_USE_ORIG_PARAMS"] == "true"
    assert env["FSDP_CPU_RAM_EFFICIENT_LOADING"] == env["FSDP_SYNC_MODULE_STATES"] == "true"


@pytest.mark.parametrize("name,stage", [("zero2.yaml", "2"), ("zero3.yaml", "3")])
def test_deepspeed_configs_env(name, stage):
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    ds = yaml.safe_load((ACCEL / name).read_text())["deepspeed_config"]
    assert not {"gradient_accumulation_steps", "train_micro_batch_size_per_gpu"} & set(ds)  # from train.* config
    args, defaults = _validated(ACCEL / name)
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == stage
    if stage == "3":  # partitioned at load; 16-bit weights gathered so the adapter can be saved
        assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "true"
        assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"


# ---- launcher and helpers (no process started) ------------------------------------------------------------------

def _args(**kw) -> argparse.Namespace:
    base = dict(config="c.yaml", overrides=["train.learning_rate=1e-4"], resume=False, use_reference_model=False,
                num_processes=2, accelerate_config=None, main_process_port=0, log_level=None, run_dir=None)
    return argparse.Namespace(**{**base, **kw})


def test_launch_command_and_defaults(monkeypatch):
    from safetyalign.errors import ConfigError
    from safetyalign.train import launch

    for var in launch.LAUNCHER_ENV:
        monkeypatch.delenv(var, raising=False)
    assert launch.default_config(cuda=True).name == "ddp.yaml"
    assert launch.default_config(cuda=False).name == "cpu_gloo.yaml"
    assert launch.resolve_config("fsdp") == ACCEL / "fsdp.yaml"
    with pytest.raises(ConfigError, match="not found"):
        launch.resolve_config("nope.yaml")
    cmd = launch.launch_command(_args(resume=True, use_reference_model=True, log_level="DEBUG"), Path("R"),
                                ACCEL / "zero3.yaml")
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--config_file") + 1] == str(ACCEL / "zero3.yaml")
    assert cmd[cmd.index("--num_processes") + 1] == "2"
    tail = cmd[cmd.index("safetyalign") - 1:]
    assert tail == ["-m", "safetyalign", "--log-level", "DEBUG", "train", "c.yaml", "train.learning_rate=1e-4",
                    "--run-dir", "R", "--resume", "--use_reference_model"]
    assert launch.wants_launch(_args()) and not launch.wants_launch(_args(num_processes=1))
    assert launch.wants_launch(_args(num_processes=None, accelerate_config="ddp"))
    with pytest.raises(ConfigError):
        launch.wants_launch(_args(num_processes=0))
    monkeypatch.setenv("LOCAL_RANK", "0")  # inside a launched process: never launch again
    assert not launch.wants_launch(_args())


def test_distributed_helpers_env(monkeypatch):
    from safetyalign.errors import ConfigError
    from safetyalign.train import distributed as d

    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"):
        monkeypatch.delenv(var, raising=False)
    assert d.engine() == "none" and d.is_main_process() and d.broadcast("x") == "x" and d.load_device("cuda") == "cuda"
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert d.engine() == "ddp" and not d.is_main_process() and d.load_device("cuda") == "cuda:1"
    assert d.load_device("cpu") == "cpu"
    assert d.batch_layout(2, 3) == {"world_size": 4, "per_device_train_batch_size": 2,
                                    "gradient_accumulation_steps": 3, "global_batch_size": 24}
    d.check_backend("trl")
    with pytest.raises(ConfigError, match="one process only"):
        d.check_backend("prefix_cache")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert d.engine() == "fsdp"
    with pytest.raises(ConfigError, match="cpu_gloo"):
        d.setup(cpu=True)


def test_checkpoint_layouts_of_engines(tmp_path):
    from safetyalign.train.artifacts import is_complete, last_checkpoint

    def ckpt(step: int, files=(), dirs=()) -> Path:
        p = tmp_path / "checkpoints" / f"checkpoint-{step}"
        p.mkdir(parents=True)
        (p / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        for f in files:
            (p / f).write_text("x")
        for d in dirs:
            (p / d).mkdir()
        return p

    assert is_complete(ckpt(1, dirs=("pytorch_model_fsdp_0", "optimizer_0")))  # FSDP sharded
    assert is_complete(ckpt(2, files=("adapter_model.safetensors",), dirs=("global_step2",)))  # DeepSpeed
    assert is_complete(ckpt(3, files=("pytorch_model_fsdp.bin", "optimizer.bin")))  # FSDP full state dict
    assert not is_complete(ckpt(4, dirs=("pytorch_model_fsdp_0",)))  # optimizer shards missing: killed mid-save
    assert last_checkpoint(tmp_path / "checkpoints").name == "checkpoint-3"
    assert not (tmp_path / "checkpoints" / "checkpoint-4").exists()


def test_save_adapter_from_gathered_state_dict(tiny_model_dir, tmp_path):
    """The FSDP / ZeRO-3 save path: a full model state dict handed to save_adapter gives the same adapter file."""
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from safetyalign.train.artifacts import save_adapter

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    plain = save_adapter(model, None, tmp_path / "plain")
    full = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # the local copy is now useless, as a sharded one would be: only the gathered dict counts
    gathered = save_adapter(model, None, tmp_path / "gathered", state_dict=full)
    a, b = load_file(str(plain / "adapter_model.safetensors")), load_file(str(gathered / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and len(a) == 8
    assert all(torch.equal(a[k], b[k]) and a[k].abs().max() > 0 for k in a)


# ---- real runs: 1 process vs 2 processes (gloo) -------------------------------------------------------------------

ROWS = [{"prompt": f"Tell me how to do dangerous thing number {i}.",
         "chosen": "I can't help with that request." + " Sorry." * (i % 3),
         "rejected": f"Sure! Step one for thing {i} is easy.", "lang": "en"} for i in range(8)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp: Path, model_dir: Path) -> Path:
    (tmp / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    cfg = {"run": {"name": "dist", "output_root": str(tmp / "runs"), "plots_dir": str(tmp / "legacy_plots"),
                   "logs_dir": str(tmp / "logs")},
           "model": {"name_or_path": str(model_dir), "max_length": 48, "max_prompt_length": 32},
           "data": {"sources": [{"kind": "preference", "path": str(tmp / "pairs.jsonl")}], "eval_fraction": 0.0},
           "lora": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0},
           "train": {"output_dir": str(tmp / "legacy_adapter"), "max_steps": STEPS, "save_steps": SAVE,
                     "learning_rate": 2e-2, "lr_scheduler_type": "constant", "warmup_steps": 0.0,
                     "gradient_accumulation_steps": 1, "disable_tqdm": True, "num_threads": 1, "seed": 7}}
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train(*argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-m", "safetyalign", "train", *argv], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def _train_rows(run_dir: Path) -> list[dict]:
    from safetyalign.runs import read_metrics

    return [r for r in read_metrics(run_dir / "metrics.jsonl") if "train/loss" in r]


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    """(config, 1-process run folder with batch 2, 2-process run folder with batch 1 per process)."""
    tmp = tmp_path_factory.mktemp("dist")
    cfg = _config(tmp, tiny_model_dir)
    _train(str(cfg), "--run-dir", str(tmp / "one"), "train.per_device_train_batch_size=2")
    _train(str(cfg), "--num_processes", "2", "--main_process_port", str(_free_port()), "--run-dir",
           str(tmp / "two"), "train.per_device_train_batch_size=1")
    return cfg, tmp / "one", tmp / "two"


@pytest.mark.slow
def test_two_processes_match_one_process(runs):
    from safetensors.torch import load_file

    _, one, two = runs
    rows1, rows2 = _train_rows(one), _train_rows(two)
    assert [r["step"] for r in rows2] == list(range(1, STEPS + 1))  # one row per step: only rank 0 writes
    assert rows1[-1]["train/loss"] < rows1[0]["train/loss"] - 0.05  # it trains at all
    for r1, r2 in zip(rows1, rows2, strict=True):
        for key in ("train/loss", "train/rewards/margins", "train/rewards/chosen", "train/rewards/accuracies"):
            assert r2[key] == pytest.approx(r1[key], abs=LOSS_TOL), (r1["step"], key)
    w1 = load_file(str(one / "adapter" / "adapter_model.safetensors"))
    w2 = load_file(str(two / "adapter" / "adapter_model.safetensors"))
    assert w1.keys() == w2.keys()
    assert max(float((w1[k] - w2[k]).abs().max()) for k in w1) < WEIGHT_TOL


@pytest.mark.slow
def test_two_process_run_folder_written_once(runs):
    _, _, two = runs
    adapters = [p.parent for p in two.rglob("adapter_config.json") if "checkpoints" not in p.parts]
    assert adapters == [two / "adapter"] and (two / "adapter" / "adapter_model.safetensors").is_file()
    assert not list(two.parent.glob(".adapter.tmp*")) and not list(two.glob(".*tmp*"))
    assert len(list((two / "tensorboard").glob("events.out.tfevents*"))) == 1
    summary = json.loads((two / "adapter" / "training_summary.json").read_text())
    assert summary["distributed"] == {"engine": "ddp", "world_size": 2, "per_device_train_batch_size": 1,
                                      "gradient_accumulation_steps": 1, "global_batch_size": 2}
    assert summary["steps"] == STEPS
    ckpt = two / "checkpoints" / f"checkpoint-{STEPS}"
    assert {"rng_state_0.pth", "rng_state_1.pth", "adapter_model.safetensors"} <= {p.name for p in ckpt.iterdir()}
    log = (two / "run.log").read_text()
    assert log.count("training: backend=trl") == 1 and "2 processes = 2 pairs per step" in log
    assert "--num_processes" in json.loads((two / "meta.json").read_text())["command"]
    assert json.loads((two / "timings.json").read_text())["stages"].keys() == {"data", "train"}


@pytest.mark.slow
def test_resume_with_two_processes_and_explicit_reference(runs, tmp_path):
    """Drop the last checkpoint and the adapter (a kill after step SAVE), resume with 2 processes.

    The resumed part uses an explicit frozen reference model (`--use_reference_model`, prepared by TRL for the
    2 processes): it computes the same reference log-probs as the adapter-disabled policy of the first part, so
    steps SAVE+1.. must still match the uninterrupted run.
    """
    cfg, _, two = runs
    run = tmp_path / "two"
    shutil.copytree(two, run)
    shutil.rmtree(run / "checkpoints" / f"checkpoint-{STEPS}")
    shutil.rmtree(run / "adapter")
    _train(str(cfg), "--num_processes", "2", "--main_process_port", str(_free_port()), "--resume", "--run-dir",
           str(run), "--use_reference_model", "train.per_device_train_batch_size=1")
    rows, ref = _train_rows(run), _train_rows(two)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # rows after the checkpoint replaced, not duplicated
    for r, r0 in zip(rows, ref, strict=True):
        assert r["train/loss"] == pytest.approx(r0["train/loss"], abs=LOSS_TOL)
        assert r["train/rewards/margins"] == pytest.approx(r0["train/rewards/margins"], abs=LOSS_TOL)
    summary = json.loads((run / "adapter" / "training_summary.json").read_text())
    assert summary["resumed_from_step"] == SAVE and summary["distributed"]["world_size"] == 2
    assert summary["reference"] == "explicit"
