"""``safetyalign data``: prints counts, writes the run-folder data files, stats JSON and the four plots."""

from __future__ import annotations

import json
from pathlib import Path

from safetyalign.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_data_cli_writes_stats_and_plots(shared_data, smollm_tokenizer, tmp_path, capsys):
    run_dir, plots = tmp_path / "run", tmp_path / "plots"
    rc = main(["data", str(ROOT / "configs/data/pku_saferlhf_local.yaml"), "data.max_rows=300",
               f"run.logs_dir={tmp_path}/logs", "--run-dir", str(run_dir), "--plots-dir", str(plots)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "kept" in out and "duplicate=" in out and "train" in out
    summary = json.loads((run_dir / "data/data_summary.json").read_text())
    assert {"sources", "total", "train_rows", "eval_rows"} <= set(summary)
    src = summary["sources"][0]
    assert {"name", "kind", "path", "read", "kept", "skipped", "examples"} <= set(src)
    assert src["read"] == 2000 and src["kept"] + sum(src["skipped"].values()) == 2000
    assert summary["train_rows"] + summary["eval_rows"] == src["used"] == 300
    stats = json.loads((run_dir / "data/data_stats.json").read_text())
    assert {"length", "length_bias", "by_source", "by_lang", "by_category"} <= set(stats)
    assert set(stats["length"]) == {"chars", "tokens"}
    assert stats["length"]["tokens"]["prompt"]["count"] == src["used"]
    assert stats["length"]["tokens"]["chosen"]["median"] < stats["length"]["chars"]["chosen"]["median"]
    assert {"mean_diff", "frac_chosen_longer"} <= set(stats["length_bias"]["tokens"])
    for name in ("data_distribution.png", "category_counts.png", "length_bias.png", "language_split.png"):
        for folder in (run_dir / "plots", plots):
            assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    train = [json.loads(ln) for ln in (run_dir / "data/train.jsonl").open()]
    assert len(train) == summary["train_rows"] and {"prompt", "chosen", "rejected", "source", "lang"} <= set(train[0])
    samples = json.loads((run_dir / "data/samples.json").read_text())
    assert len(samples) == 8 and all("safe_to_show" in s for s in samples)
    assert (run_dir / "config.yaml").is_file() and "data" in json.loads((run_dir / "timings.json").read_text())[
        "stages"]


def test_data_cli_bad_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"definitely not gzip")
    rc = main(["data", str(ROOT / "configs/data/pku_saferlhf_local.yaml"), f"data.sources=[{{path: '{bad}'}}]",
               f"run.logs_dir={tmp_path}/logs",
               "--run-dir", str(tmp_path / "run"), "--no-tokens"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and str(bad) in err and "\n" not in err
