"""Fault injection (#23): each stage runs as a child process and is killed at a random point (SIGKILL, SIGTERM or
SIGINT, several seeds). Afterwards nothing in the run folder is unreadable, a resumed or repeated run gives the
same result as an uninterrupted one, and a rerun never mixes two runs in one folder.

CPU, tiny random Llama, a few seconds per child; the kill lands a random time after the child has started writing
(its first run-folder file appeared), so it hits different stages of the work for different seeds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
PAIRS = [{"prompt": f"Tell me how to do dangerous thing number {i}.", "chosen": "I can't help with that request.",
          "rejected": f"Sure! Step one for thing {i} is easy."} for i in range(8)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def run(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``safetyalign ARGS`` to completion in a child process."""
    return subprocess.run([sys.executable, "-m", "safetyalign", *args], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=300)


def run_and_kill(args: list[str], marker: Path, seed: int, window: float) -> int:
    """Start ``safetyalign ARGS``, wait until ``marker`` exists, then signal it after a random delay in
    ``[0, window)`` seconds (signal and delay drawn from ``seed``). Returns the child's exit status."""
    rng = random.Random(seed)
    sig, delay = rng.choice(SIGNALS), rng.uniform(0, window)
    child = subprocess.Popen([sys.executable, "-m", "safetyalign", *args], cwd=ROOT, env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    if child.poll() is None:
        child.send_signal(sig)
    return child.wait(timeout=120)


def assert_readable(folder: Path, killed: bool = False) -> None:
    """Every JSON/YAML file parses; every JSONL file is readable line by line except, for append-only streams, a
    torn last line (which every reader of the project skips). Right after a kill (``killed``) the checkpoint being
    written may be incomplete: ``--resume`` detects and removes it, so ``checkpoints/`` is checked after resuming."""
    import yaml

    for path in folder.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        if killed and "checkpoints" in path.relative_to(folder).parts:
            continue
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            for i, line in enumerate(lines):
                try:
                    json.loads(line)
                except json.JSONDecodeError:
                    assert i == len(lines) - 1, f"{path}:{i + 1} unreadable"
        elif path.suffix in (".html", ".md") and path.parent == folder:
            text = path.read_text(encoding="utf-8")
            assert text.rstrip().endswith("</html>") if path.suffix == ".html" else text.startswith("# ")


def no_temp_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(".*") if ".tmp" in p.name or ".old" in p.name]


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fi_data") / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PAIRS), encoding="utf-8")
    return path


def _train_args(model: Path, data: Path, run_dir: Path, tmp: Path, *extra: str) -> list[str]:
    return ["train", "configs/quickstart.yaml", f"model.name_or_path={model}", "model.max_length=48",
            "model.max_prompt_length=32", "lora.r=4", "lora.lora_alpha=8", "train.learning_rate=2e-2",
            "train.warmup_steps=0", "train.lr_scheduler_type=constant", "train.per_device_train_batch_size=2",
            "train.gradient_accumulation_steps=1", "train.disable_tqdm=true", "train.report_to=[]",
            "train.max_steps=4", "train.save_steps=1", "train.save_total_limit=10", "train.backend=trl",
            "train.num_threads=1",
            f"data.sources=[{{kind: preference, path: '{data}'}}]", "data.eval_fraction=0",
            f"train.output_dir={tmp / 'legacy_adapter'}", f"run.plots_dir={tmp / 'legacy_plots'}",
            f"run.logs_dir={tmp / 'logs'}", "--run-dir", str(run_dir), *extra]


@pytest.fixture(scope="module")
def reference_training(tiny_model_dir, pairs_file, tmp_path_factory) -> Path:
    """One uninterrupted 4-step run."""
    tmp = tmp_path_factory.mktemp("fi_ref")
    proc = run(_train_args(tiny_model_dir, pairs_file, tmp / "run", tmp))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp / "run"


@pytest.mark.parametrize("seed", [0, 1])
def test_killed_training_resumes_to_the_uninterrupted_result(seed, tiny_model_dir, pairs_file, reference_training,
                                                             tmp_path):
    run_dir = tmp_path / "run"
    args = _train_args(tiny_model_dir, pairs_file, run_dir, tmp_path)
    run_and_kill(args, run_dir / "data" / "train.jsonl", seed, window=6.0)
    assert_readable(run_dir, killed=True)
    started = (run_dir / "checkpoints").exists() or (run_dir / "metrics.jsonl").exists()
    if started and seed == 0:  # a plain rerun must not start a second run in the same folder
        again = run(args)
        assert again.returncode == 2 and "--resume" in again.stderr.strip().splitlines()[-1]
    proc = run([*args, "--resume"] if started else args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_readable(run_dir)
    assert not no_temp_files(run_dir), no_temp_files(run_dir)
    ref = reference_training
    assert (run_dir / "adapter/adapter_model.safetensors").read_bytes() == \
        (ref / "adapter/adapter_model.safetensors").read_bytes()
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()
             if '"train/loss"' in x]
    assert steps == list(range(1, 5))  # no duplicated or missing step: one run, not two


def _eval_args(model: Path, suite: Path, run_dir: Path, tmp: Path) -> list[str]:
    return ["eval", "configs/quickstart.yaml", f"model.name_or_path={model}", f"eval.suites=['{suite}']",
            "eval.judges=[pattern]", "eval.primary_judge=pattern", "eval.max_per_suite=null",
            "eval.generation.max_new_tokens=3",
            "eval.generation.batch_size=4", f"eval.output={tmp / 'legacy.json'}", f"run.logs_dir={tmp / 'logs'}",
            "--base-only", "--run-dir", str(run_dir)]


def _results(run_dir: Path) -> dict:
    res = json.loads((run_dir / "eval/evaluation_results.json").read_text(encoding="utf-8"))
    return {"records": res["records"], "summary": res["summary"], "models": res["models"]}


@pytest.fixture(scope="module")
def eval_suite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fi_suite") / "suite.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "prompt": f"Describe garden number {i} in one line.",
                                        "expected": "comply" if i % 2 else "refuse"}) + "\n" for i in range(96)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference_eval(tiny_model_dir, eval_suite, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("fi_eval_ref")
    proc = run(_eval_args(tiny_model_dir, eval_suite, tmp / "run", tmp))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _results(tmp / "run")


@pytest.mark.parametrize("seed", [0, 1])
def test_killed_evaluation_reruns_to_the_uninterrupted_result(seed, tiny_model_dir, eval_suite, reference_eval,
                                                              tmp_path):
    run_dir = tmp_path / "run"
    args = _eval_args(tiny_model_dir, eval_suite, run_dir, tmp_path)
    run_and_kill(args, run_dir / "config.yaml", seed, window=5.0)
    assert_readable(run_dir)
    proc = run(args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_readable(run_dir)
    assert not no_temp_files(run_dir), no_temp_files(run_dir)
    assert _results(run_dir) == reference_eval


def _data_args(data: Path, run_dir: Path, tmp: Path) -> list[str]:
    return ["data", "configs/quickstart.yaml", f"data.sources=[{{kind: preference, path: '{data}'}}]",
            f"run.logs_dir={tmp / 'logs'}", "--no-tokens", "--run-dir", str(run_dir), "--plots-dir",
            str(tmp / "plots")]


@pytest.fixture(scope="module")
def reference_data(pairs_file, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("fi_data_ref")
    assert run(_data_args(pairs_file, tmp / "run", tmp)).returncode == 0
    return tmp / "run"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_killed_data_and_report_leave_readable_files_and_rerun_identically(seed, pairs_file, reference_data,
                                                                           tmp_path):
    from test_report_fixtures import make_fake_run

    run_dir = tmp_path / "run"
    args = _data_args(pairs_file, run_dir, tmp_path)
    run_and_kill(args, run_dir / "config.yaml", seed, window=3.0)
    assert_readable(run_dir)
    assert run(args).returncode == 0
    ref = reference_data
    for name in ("train.jsonl", "eval.jsonl", "data_summary.json"):
        assert (run_dir / "data" / name).read_bytes() == (ref / "data" / name).read_bytes(), name
    report_run = make_fake_run(tmp_path / "report_run", real_plots=True)
    run_and_kill(["report", str(report_run)], report_run / "config.yaml", seed + 10, window=4.0)
    assert_readable(report_run)
    assert run(["report", str(report_run)]).returncode == 0
    assert_readable(report_run)
    assert not no_temp_files(report_run) and not no_temp_files(run_dir)
