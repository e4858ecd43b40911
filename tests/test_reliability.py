"""Issue #23 reproductions: each bad input is one line on stderr with a non-zero exit, before anything loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from safetyalign.cli import main as cli_main

BAD_VALUES = [
    ("train.learning_rate=-1", "train.learning_rate"), ("train.learning_rate=.nan", "train.learning_rate"),
    ("train.learning_rate=0", "train.learning_rate"),
    ("lora.r=0", "lora.r"), ("model.max_length=-5", "model.max_length"),
    ("model.max_prompt_length=0", "model.max_prompt_length"), ("train.logging_steps=0", "train.logging_steps"),
    ("eval.max_per_suite=-2", "eval.max_per_suite"), ("train.warmup_steps=700", "train.warmup_steps"),
    ("train.warmup_steps=-0.1", "train.warmup_steps"), ("train.warmup_steps=2.5", "train.warmup_steps"),
    ("train.warmup_ratio=0.1", "warmup_steps"),
    ("train.beta=-0.5", "train.beta"), ("train.beta=.inf", "train.beta"), ("lora.lora_alpha=0", "lora.lora_alpha"),
    ("lora.lora_dropout=1.5", "lora.lora_dropout"), ("train.max_grad_norm=-1", "train.max_grad_norm"),
    ("train.weight_decay=-0.1", "train.weight_decay"), ("eval.generation.max_new_tokens=0", "max_new_tokens"),
    ("eval.generation.temperature=0", "temperature"), ("eval.generation.top_p=1.5", "top_p"),
    ("eval.generation.batch_size=0", "batch_size"), ("data.max_chars=0", "data.max_chars"),
    ("train.save_total_limit=0", "train.save_total_limit"), ("train.eval_steps=0", "train.eval_steps"),
    ("train.label_smoothing=0.7", "train.label_smoothing"), ("train.ld_alpha=2", "train.ld_alpha"),
    ("lora.top_layers=0", "lora.top_layers"), ("train.num_threads=0", "train.num_threads"),
]


@pytest.mark.parametrize(("override", "key"), BAD_VALUES)
def test_config_range_errors_are_one_line(override, key, capsys):
    rc = cli_main(["config", "configs/quickstart.yaml", "--set", override])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and key in err, err


def test_config_good_edges_pass(capsys):
    ok = [["train.warmup_steps=0"], ["train.warmup_steps=0.5"], ["train.max_steps=10", "train.warmup_steps=10"],
          ["lora.lora_dropout=0"], ["eval.max_per_suite=1"], ["train.weight_decay=0"], ["train.learning_rate=1e-4"]]
    for overrides in ok:
        assert cli_main(["config", "configs/quickstart.yaml", *[a for o in overrides for a in ("--set", o)]]) == 0


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "a\\b"])
def test_run_name_confined_to_output_root(name, capsys):
    assert cli_main(["config", "configs/quickstart.yaml", "--set", f"run.name={name}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run.name" in err


@pytest.mark.parametrize("path", ["shared:../../etc/passwd", "shared:/../x", "pkg:../../../etc/passwd"])
def test_shared_and_pkg_paths_confined(path, tmp_path, monkeypatch):
    from safetyalign.errors import DataError
    from safetyalign.paths import resolve_data_path

    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "MANIFEST.md").write_text("x")
    monkeypatch.setenv("SAFETYALIGN_SHARED_DATA", str(tmp_path / "shared"))
    with pytest.raises(DataError, match="outside"):
        resolve_data_path(path)
    assert resolve_data_path("shared:MANIFEST.md").is_file()


def test_report_md_escapes_metadata(tmp_path):
    """A source name, suite, category or run name carrying HTML must not land raw in report.md (#23 case 8)."""
    import json

    from safetyalign.report import write_report
    from test_report_fixtures import make_fake_run

    evil = '<img src=x onerror=alert(1)>'
    run = make_fake_run(tmp_path / "run", name="x")
    summary_path = run / "data" / "data_summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary["sources"][0]["name"] = f"src {evil}"
    summary["sources"][0]["skipped"] = {f"why {evil}": 3}
    summary_path.write_text(json.dumps(summary), encoding="utf-8")
    stats_path = run / "data" / "data_stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    stats["by_category"][f"cat {evil}"] = stats["by_category"].pop("violence")
    stats["by_source"][f"src {evil}"] = stats["by_source"].pop("pku_saferlhf")
    stats_path.write_text(json.dumps(stats), encoding="utf-8")
    res_path = run / "eval" / "evaluation_results.json"
    res = json.loads(res_path.read_text(encoding="utf-8"))
    res["suites"][f"suite {evil}"] = res["suites"].pop("redteam_basic")
    for rec in res["records"]:
        rec["category"] = f"cat {evil}"
        rec["suite"] = f"suite {evil}" if rec["suite"] == "redteam_basic" else rec["suite"]
    res["models"]["tuned"]["name_or_path"] = f"model {evil}"
    res["judge"]["primary"] = f"learned{evil}"
    for model in ("base", "tuned"):
        res["summary"][model][f"harmful/refusal_rate/category={evil}"] = {"value": 0.5, "ci95": [0, 1], "k": 1,
                                                                          "n": 2}
    res_path.write_text(json.dumps(res), encoding="utf-8")
    samples_path = run / "data" / "samples.json"
    samples = json.loads(samples_path.read_text(encoding="utf-8"))
    for sample in samples:
        sample.update(source=f"src {evil}", category=f"cat {evil}")
    samples_path.write_text(json.dumps(samples), encoding="utf-8")
    cmp_path = run / "eval" / "compare_results.json"
    cmp = json.loads(cmp_path.read_text(encoding="utf-8"))
    for rec in cmp["records"]:
        rec["category"] = f"cat {evil}"
    cmp_path.write_text(json.dumps(cmp), encoding="utf-8")
    stats["template_refusals"] = {f"chosen {evil}": 1}
    stats_path.write_text(json.dumps(stats), encoding="utf-8")
    _, md_path = write_report(run)
    md = md_path.read_text(encoding="utf-8")
    assert "<img" not in md
    assert md.count("&lt;img src=x onerror=alert(1)") >= 8


def _bad_byte_jsonl(path, n_good: int = 3, bad_at: int = 2) -> Path:
    import json

    lines = [json.dumps({"prompt": f"question {i}", "chosen": "good answer", "rejected": "bad answer",
                         "response": "I can't help with that."}).encode() for i in range(n_good)]
    lines.insert(bad_at - 1, b'{"prompt": "caf\xe9 \xff", "chosen": "a", "rejected": "b", "response": "x"}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_bad_bytes_skip_one_row_as_encoding(tmp_path, fmt):
    """One non-UTF-8 byte skips that row as file:row (encoding); the other rows are kept (#23 case 7)."""
    from safetyalign.config import load_config
    from safetyalign.data.build import build_dataset
    from safetyalign.data.config import SourceConfig

    if fmt == "jsonl":
        path = _bad_byte_jsonl(tmp_path / "pairs.jsonl")
    elif fmt == "csv":
        path = tmp_path / "pairs.csv"
        path.write_bytes(b"prompt,chosen,rejected\nq0,good,bad\nq1 \xff\xfe,good,bad\nq2,good,bad\nq3,good,bad\n")
    else:
        path = tmp_path / "pairs.json"
        path.write_bytes(b'[{"prompt": "q0", "chosen": "g", "rejected": "b"},\n{"prompt": "q1 \xff", "chosen": "g", '
                         b'"rejected": "b"},\n{"prompt": "q2", "chosen": "g", "rejected": "b"},\n'
                         b'{"prompt": "q3", "chosen": "g", "rejected": "b"}]')
    cfg = load_config(None, ["data.eval_fraction=0"])
    cfg.data.sources = [SourceConfig(kind="preference", path=str(path))]
    summary = build_dataset(cfg, None).summary["sources"][0]
    assert summary["read"] == 4 and summary["kept"] == 3 and summary["skipped"] == {"encoding": 1}
    row = 3 if fmt == "csv" else 2
    assert summary["examples"][0].startswith(f"{path.name}:{row}") and "(encoding" in summary["examples"][0]


def test_judge_input_with_bad_bytes_skips_the_row(tmp_path, capsys):
    path = _bad_byte_jsonl(tmp_path / "answers.jsonl", n_good=3, bad_at=2)
    out = tmp_path / "judged.jsonl"
    assert cli_main(["judge", "--input", str(path), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{path}:2" in text.replace("\n", "") and "encoding" in text
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_suite_file_with_bad_bytes_skips_the_row(tmp_path):
    from safetyalign.eval.suites import load_suite

    path = _bad_byte_jsonl(tmp_path / "suite.jsonl", n_good=3, bad_at=2)
    prompts = load_suite(f"{path}:prompt:refuse")
    assert [p.prompt for p in prompts] == ["question 0", "question 1", "question 2"]


@pytest.mark.parametrize(("exc", "expected"), [
    (PermissionError(13, "Permission denied", "/ro/out/plots"), "error: /ro/out/plots: Permission denied"),
    (FileNotFoundError(2, "No such file or directory", "/x/y.yaml"), "error: /x/y.yaml: No such file or directory"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "error: cannot decode text as utf-8"),
])
def test_outside_errors_are_one_line_and_debug_shows_traceback(exc, expected, monkeypatch, capsys):
    import safetyalign.config_cli as stage

    def boom(args):
        raise exc

    monkeypatch.setattr(stage, "main", boom)
    assert cli_main(["config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and len(err.splitlines()) == 1, err
    with pytest.raises(type(exc)):
        cli_main(["--debug", "config"])


def test_unpickling_error_is_one_line(monkeypatch, capsys):
    import pickle

    import safetyalign.config_cli as stage

    def boom(args):
        raise pickle.UnpicklingError("Weights only load failed. In PyTorch 2.6, we changed the default value of\n"
                                     "the `weights_only` argument ... weights_only=False ...")

    monkeypatch.setattr(stage, "main", boom)
    assert cli_main(["config"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "weights_only=False" not in err and err.startswith("error: "), err


def _tiny_eval_args(tiny_model_dir, tmp_path, *extra):
    return ["eval", "configs/quickstart.yaml", f"model.name_or_path={tiny_model_dir}", "eval.max_per_suite=1",
            "eval.generation.max_new_tokens=2", f"eval.output={tmp_path / 'legacy.json'}", "--run-dir",
            str(tmp_path / "run"), *extra]


def test_pickle_adapter_is_refused_in_one_line(tiny_model_dir, tmp_path, capsys):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4}', encoding="utf-8")
    (adapter / "adapter_model.bin").write_bytes(b"\x80\x04not really a pickle")
    assert cli_main(_tiny_eval_args(tiny_model_dir, tmp_path, "--adapter", str(adapter))) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(adapter) in err and "safetensors" in err, err


def test_model_folder_with_custom_code_is_one_line(tmp_path, capsys):
    import json

    model = tmp_path / "custom_model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "my_custom_arch", "auto_map": {
        "AutoConfig": "configuration_x.XConfig", "AutoModelForCausalLM": "modeling_x.XForCausalLM"}}))
    (model / "configuration_x.py").write_text("raise SystemExit('remote code must not run')\n")
    assert cli_main(_tiny_eval_args(model, tmp_path, "--base-only")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(model) in err and "trust_remote_code" in err, err


PAIRS = [{"prompt": f"Tell me how to do dangerous thing number {i}.", "chosen": "I can't help with that request.",
          "rejected": f"Sure! Step one for thing {i} is easy."} for i in range(6)]


def _train_args(tiny_model_dir, tmp_path, data_path, *extra):
    """``safetyalign train`` on the tiny model: 2 steps, checkpoint every step, legacy copies under tmp_path."""
    return ["train", "configs/quickstart.yaml", f"model.name_or_path={tiny_model_dir}", "model.max_length=48",
            "model.max_prompt_length=32", "lora.r=4", "lora.lora_alpha=8", "train.learning_rate=2e-2",
            "train.warmup_steps=0", "train.lr_scheduler_type=constant", "train.per_device_train_batch_size=2",
            "train.gradient_accumulation_steps=1", "train.disable_tqdm=true", "train.report_to=[]",
            "train.max_steps=2", "train.save_steps=1", "train.backend=trl",
            f"data.sources=[{{kind: preference, path: '{data_path}'}}]", "data.eval_fraction=0",
            f"train.output_dir={tmp_path / 'legacy_adapter'}", f"run.plots_dir={tmp_path / 'legacy_plots'}",
            f"run.logs_dir={tmp_path / 'logs'}", *extra]


@pytest.fixture()
def pairs_file(tmp_path):
    import json

    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PAIRS), encoding="utf-8")
    return path


def test_run_folder_refuses_second_training_resume_checks_config(tiny_model_dir, tmp_path, pairs_file, capsys):
    """#23 cases 2 and 3: no second run mixed into a run folder; --resume refuses a changed config in one line."""
    import json

    run = tmp_path / "run"
    args = _train_args(tiny_model_dir, tmp_path, pairs_file, "--run-dir", str(run))
    assert cli_main(args) == 0
    first = (run / "adapter" / "adapter_model.safetensors").read_bytes()
    capsys.readouterr()
    assert cli_main([*args, "train.beta=0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and "--overwrite" in err and str(run) in err, err
    assert (run / "adapter" / "adapter_model.safetensors").read_bytes() == first
    for bad, key in ((["train.learning_rate=0.5", "train.beta=0.5"], "train.learning_rate"), (["lora.r=8"], "lora.r")):
        assert cli_main([*args, "--resume", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and key in err and "0.02" not in err.split(key)[0], err
    assert "learning_rate: 0.02" in (run / "config.yaml").read_text()
    assert cli_main([*args, "--resume", "train.max_steps=3"]) == 0  # allow-listed change
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines() if '"train/loss"' in x]
    assert steps == [1, 2, 3]
    assert cli_main([*args, "--overwrite", "train.beta=0.5"]) == 0
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines() if '"train/loss"' in x]
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("checkpoint-"))
    assert steps == [1, 2] and ckpts == ["checkpoint-1", "checkpoint-2"]  # nothing of the 3-step run is left
    assert "beta: 0.5" in (run / "config.yaml").read_text()


@pytest.mark.parametrize("backend", ["trl", "prefix_cache"])
def test_zero_usable_pairs_is_one_line_in_every_backend(backend, tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "wrong_columns.csv"
    data.write_text("question,good,bad\nq1,a,b\nq2,c,d\n", encoding="utf-8")
    args = _train_args(tiny_model_dir, tmp_path, data, f"train.backend={backend}", "lora.top_layers=1",
                       "--run-dir", str(tmp_path / "run"))
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no usable training pairs" in err, err


def test_data_stage_with_no_usable_pairs_exits_nonzero(tmp_path, capsys):
    data = tmp_path / "wrong_columns.csv"
    data.write_text("question,good,bad\nq1,a,b\n", encoding="utf-8")
    rc = cli_main(["data", "configs/quickstart.yaml", f"data.sources=[{{kind: preference, path: '{data}'}}]",
                   f"run.logs_dir={tmp_path / 'logs'}", "--no-tokens", "--run-dir", str(tmp_path / "run"),
                   "--plots-dir", str(tmp_path / "plots")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no usable pairs" in err and "missing_field" in err, err


def test_adapter_records_the_model_by_name(tiny_model_dir, tmp_path):
    """#23 case 9: the local load path (a cache under $HOME) never lands in adapter_config.json or README.md."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from safetyalign.config import dump_config, load_config
    from safetyalign.train.artifacts import save_adapter

    home_path = str(Path.home() / ".cache" / "safetyalign" / "models" / "SmolLM2-135M-Instruct")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.name_or_path = home_path  # what PEFT records for a model loaded from the dequantized cache
    model.config._name_or_path = home_path
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    cfg = load_config(None, ["model.name_or_path=embedded:smollm2-135m"])
    out = save_adapter(peft_model, None, tmp_path / "adapter", {"config.yaml": dump_config(cfg)})
    for name in ("adapter_config.json", "README.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert home_path not in text and str(Path.home()) + "/" not in text, name
    import json

    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "embedded:smollm2-135m"


@pytest.mark.parametrize("backend", ["trl", "prefix_cache"])
def test_unwritable_legacy_folders_do_not_lose_the_run(backend, tiny_model_dir, tmp_path, pairs_file, capsys):
    """#23 case 6: a legacy copy target that cannot be written (read-only, or a file in the way) is a warning;
    the run folder still gets its adapter and plots."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    run = tmp_path / "run"
    args = _train_args(tiny_model_dir, tmp_path, pairs_file, f"train.backend={backend}", "lora.top_layers=1",
                       f"train.output_dir={blocker / 'adapter'}", f"run.plots_dir={blocker / 'plots'}",
                       "--run-dir", str(run))
    assert cli_main(args) == 0
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "plots" / "training_loss.png").is_file()
