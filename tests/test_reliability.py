"""Issue #23 reproductions: each bad input is one line on stderr with a non-zero exit, before anything loads."""

from __future__ import annotations

import pytest

from safetyalign.cli import main as cli_main

BAD_VALUES = [
    ("train.lr=-1", "train.lr"), ("train.lr=.nan", "train.lr"), ("train.lr=0", "train.lr"),
    ("lora.r=0", "lora.r"), ("model.max_length=-5", "model.max_length"),
    ("model.max_prompt_length=0", "model.max_prompt_length"), ("train.logging_steps=0", "train.logging_steps"),
    ("eval.max_per_suite=-2", "eval.max_per_suite"), ("train.warmup_ratio=7", "train.warmup_ratio"),
    ("train.beta=-0.5", "train.beta"), ("train.beta=.inf", "train.beta"), ("lora.alpha=0", "lora.alpha"),
    ("lora.dropout=1.5", "lora.dropout"), ("train.max_grad_norm=-1", "train.max_grad_norm"),
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
    ok = ["train.warmup_ratio=0", "train.warmup_ratio=1", "lora.dropout=0", "eval.max_per_suite=1",
          "train.weight_decay=0", "train.lr=1e-4"]
    assert cli_main(["config", "configs/quickstart.yaml", *[a for o in ok for a in ("--set", o)]]) == 0


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
