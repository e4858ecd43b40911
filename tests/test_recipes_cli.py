"""Configs as recipes (``base:`` + a diff) and the CLI's flags: kebab-case, snake_case aliases, help everywhere."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import pytest

from safetyalign.config import dump_config, load_config
from safetyalign.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_base_diff_merges_sections_and_named_sources(tmp_path):
    base = _write(tmp_path / "base.yaml", """
run: {name: base}
data:
  sources:
    - {kind: helpful_pairs, name: a, path: a.jsonl, count: 5, columns: {prompt: q}}
    - {kind: helpful_pairs, name: b, path: b.jsonl, count: 6}
train: {max_steps: 10, beta: 0.2}
""")
    diff = _write(tmp_path / "diff.yaml", """
base: base.yaml
run: {name: diff}
data:
  sources:
    - {name: b, count: 9}
    - {kind: helpful_pairs, name: c, path: c.jsonl}
train: {max_steps: 20}
""")
    cfg = load_config(diff, ["data.sources[0].count=7"])
    assert cfg.run.name == "diff" and cfg.train.max_steps == 20 and cfg.train.beta == pytest.approx(0.2)
    assert [(s.name, s.count) for s in cfg.data.sources] == [("a", 7), ("b", 9), ("c", None)]
    assert cfg.data.sources[0].columns == {"prompt": "q"}
    assert load_config(base).train.max_steps == 10  # the base itself is untouched
    assert "base:" not in dump_config(cfg)


def test_base_chain_errors_are_one_line(tmp_path):
    _write(tmp_path / "a.yaml", "base: b.yaml\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    _write(tmp_path / "c.yaml", "base: nope.yaml\n")
    with pytest.raises(ConfigError, match="base config 'nope.yaml' not found"):
        load_config(tmp_path / "c.yaml")
    _write(tmp_path / "d.yaml", "base: c.yaml\ntrain: {nokey: 1}\n")
    with pytest.raises(ConfigError):
        load_config(tmp_path / "d.yaml")


def test_quickstart_variants_are_short_diffs_of_the_default():
    default = load_config(ROOT / "configs/quickstart.yaml")
    for name in ("quickstart_200steps.yaml", "quickstart_full.yaml"):
        path = ROOT / "configs" / name
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ") and not text.splitlines()[1].startswith("#")  # one header line
        assert "base: quickstart.yaml" in text and len(text.splitlines()) < 30
        cfg = load_config(path)
        assert cfg.eval == default.eval and cfg.model.name_or_path == default.model.name_or_path
        assert [s.name for s in cfg.data.sources] == [s.name for s in default.data.sources]


def test_shipped_config_headers_are_one_line():
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        if "accelerate" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("# ") and "Run:" in lines[0] and not lines[1].startswith("#"), path


def test_config_show_prints_the_resolved_config():
    proc = subprocess.run([sys.executable, "-m", "safetyalign", "config", "configs/quickstart_full.yaml", "--show"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "max_steps: 320" in proc.stdout and "advbench_refusals_en" in proc.stdout and "base:" not in proc.stdout


def _parsers():
    from safetyalign.cli import COMMANDS, command_parser

    return {name: command_parser(name)[0] for name, *_ in COMMANDS}


def test_every_flag_has_help_and_is_kebab_case():
    for name, parser in _parsers().items():
        for action in parser._actions:
            assert action.help, (name, action.option_strings or action.dest)
            longs = [o for o in action.option_strings if o.startswith("--")]
            if longs:
                assert "_" not in longs[0], (name, longs[0])  # kebab-case first (shown as the name)


def test_snake_case_spellings_are_aliases():
    from safetyalign.cli import kebab_flags

    parsers = _parsers()
    compare = parsers["compare"]
    argv = kebab_flags(compare, ["--do_sample", "--temperature", "0.9", "--max_new_tokens=256", "--top_p", "0.5",
                                 "--run_dir", "R", "x.yaml", "a_b=1"])
    args = compare.parse_intermixed_args(argv)
    assert args.do_sample and args.temperature == 0.9 and args.max_new_tokens == 256 and args.top_p == 0.5
    assert args.run_dir == Path("R") and args.config == "x.yaml" and args.overrides == ["a_b=1"]
    train = parsers["train"].parse_intermixed_args(kebab_flags(parsers["train"], ["--use_reference_model",
                                                                                  "--num_processes", "2"]))
    assert train.use_reference_model and train.num_processes == 2 and train.config is None


def test_top_level_help_is_plain_text_listing_every_backend():
    from safetyalign.train.config import TrainConfig

    proc = subprocess.run([sys.executable, "-m", "safetyalign", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "``" not in proc.stdout and "`" not in proc.stdout
    backends = typing.get_args(typing.get_type_hints(TrainConfig)["backend"])
    assert backends and all(f"  {b} " in proc.stdout for b in backends)
    for script in ("scripts/run_train.sh", "scripts/run_eval.sh", "scripts/compare_safety.py"):
        assert script in proc.stdout


def test_missing_config_message_does_not_call_overrides_required():
    proc = subprocess.run([sys.executable, "-m", "safetyalign", "data"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().endswith("the following arguments are required: config")


def test_project_licence_is_mit_and_pyproject_agrees():
    import tomllib

    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]


def test_prefix_cache_refuses_an_explicit_reference_model_in_one_line():
    from safetyalign.engines import get_engine

    cfg = load_config(ROOT / "configs/quickstart.yaml", ["train.use_reference_model=true"])
    reason = get_engine("prefix_cache").refusal(cfg)
    assert reason.startswith("train.use_reference_model=true:") and "train.backend=trl" in reason
    assert "\n" not in reason and get_engine("trl").refusal(cfg) is None


def test_compare_limits_fresh_generation_to_a_few_prompts_per_suite():
    from safetyalign.eval.compare_cli import limit_generation

    cfg = load_config(ROOT / "configs" / "quickstart.yaml")
    assert cfg.eval.max_per_suite == 24 and cfg.eval.capability.sources
    limit_generation(cfg, 4)
    assert cfg.eval.max_per_suite == 4 and cfg.eval.capability.sources == []
    cfg = load_config(ROOT / "configs" / "quickstart.yaml")
    limit_generation(cfg, 0)
    assert cfg.eval.max_per_suite == 24
    with pytest.raises(ConfigError, match="max-per-suite"):
        limit_generation(cfg, -1)
