"""The engines are one equivalence class (TRL's ``tests/invariant`` idea): on the tiny model, for a config all of
``trl``, ``fast`` (its CPU path) and ``prefix_cache`` support, the same first-step loss and the same loss trajectory
within a stated tolerance over N steps; and for each engine, a run killed after a checkpoint and resumed ends
like the uninterrupted run."""

from __future__ import annotations

import pytest

from safetyalign.runs import read_metrics

ROWS = [{"prompt": f"How do I make dangerous thing {i}?", "chosen": "I can't help with that.",
         "rejected": f"Sure, thing {i} goes like this.", "source": "test", "lang": "en"} for i in range(4)]
STEPS, SAVE = 5, 2
FIRST_STEP_TOL = 1e-5  # every engine starts from the same weights (LoRA B = 0): loss log(2), to float32 rounding
TRAJECTORY_TOL = 1e-4  # absolute, per step (measured: fast 6.6e-7, prefix_cache 1.2e-6 from packed vs padded sums)
ENGINES = ("trl", "fast", "prefix_cache")


@pytest.fixture(scope="module")
def common(tiny_train_cfg):
    """A config every engine supports: sigmoid DPO, AdamW, constant LR, LoRA (no dropout) on every layer of the
    2-layer model, all pairs in one batch (so every engine sees the same pairs each step), no eval rows."""
    return lambda tmp, *extra: tiny_train_cfg(
        tmp, f"train.max_steps={STEPS}", f"train.save_steps={SAVE}", "train.learning_rate=5e-3",
        f"train.per_device_train_batch_size={len(ROWS)}", "lora.top_layers=2", "lora.lora_dropout=0",
        "data.eval_fraction=0", "train.report_to=[]", "train.num_threads=1", *extra)


def losses(run_dir) -> list[float]:
    return [r["train/loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "train/loss" in r]


@pytest.fixture(scope="module")
def trajectories(common, tmp_path_factory):
    from safetyalign.train.trainer import train

    out = {}
    for name in ENGINES:
        tmp = tmp_path_factory.mktemp(name)
        train(common(tmp, f"train.backend={name}"), tmp / "run", ROWS)
        out[name] = losses(tmp / "run")
    return out


def test_same_first_step_loss(trajectories):
    assert len(trajectories["trl"]) == STEPS
    for name in ENGINES:
        assert trajectories[name][0] == pytest.approx(trajectories["trl"][0], abs=FIRST_STEP_TOL), name


def test_same_loss_trajectory(trajectories):
    ref = trajectories["trl"]
    assert ref[-1] < ref[0] - 0.05  # it learns: the comparison is not between flat lines
    for name in ENGINES:
        assert len(trajectories[name]) == STEPS
        diffs = [abs(a - b) for a, b in zip(trajectories[name], ref)]
        print(f"{name}: max |loss - trl loss| over {STEPS} steps = {max(diffs):.2e}")
        assert max(diffs) < TRAJECTORY_TOL, (name, trajectories[name], ref)


def _killed_after_checkpoint(monkeypatch, name: str) -> None:
    """Make the run die right after checkpoint SAVE is written (the engine's own checkpoint writer)."""
    if name == "trl":
        from transformers import Trainer

        real = Trainer._save_checkpoint

        def crash(self, *a, **k):
            real(self, *a, **k)
            if self.state.global_step == SAVE:
                raise KeyboardInterrupt("simulated kill")

        monkeypatch.setattr(Trainer, "_save_checkpoint", crash)
        return
    module = {"fast": "safetyalign.fastdpo.loop", "prefix_cache": "safetyalign.prefix_cache.trainer"}[name]
    import importlib

    mod = importlib.import_module(module)
    real_save = mod.save_checkpoint

    def crash_after(*a, **k):
        real_save(*a, **k)
        raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(mod, "save_checkpoint", crash_after)


@pytest.mark.parametrize("name", ENGINES)
def test_resume_after_kill_equals_uninterrupted(name, common, trajectories, tmp_path, monkeypatch):
    from safetyalign.train.trainer import train

    cfg = common(tmp_path, f"train.backend={name}")
    with monkeypatch.context() as m:
        _killed_after_checkpoint(m, name)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path / "run", ROWS)
    result = train(cfg, tmp_path / "run", ROWS, resume=True)
    assert result.resumed_from == SAVE and result.steps == STEPS
    rows = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert [r["train/loss"] for r in rows] == pytest.approx(trajectories[name], abs=1e-5)
