"""Project-written recipe data: deterministic scripts, and training prompts disjoint from the evaluation suites."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "src/safetyalign/data/recipe_data"
SUITES = ROOT / "src/safetyalign/eval/suites"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prompts(path: Path) -> set[str]:
    from safetyalign.data.split import normalize_prompt

    return {normalize_prompt(json.loads(line)["prompt"]) for line in path.read_text(encoding="utf-8").splitlines()}


@pytest.mark.parametrize("train,suites", [
    ("benign_lookalike_zh_train.jsonl", ["benign_lookalike.jsonl", "redteam_basic.jsonl"]),
    ("redteam_zh_train.jsonl", ["redteam_zh_heldout.jsonl", "redteam_basic.jsonl", "benign_lookalike.jsonl"]),
])
def test_training_prompts_never_appear_in_evaluation_suites(train, suites):
    train_prompts = _prompts(RECIPE / train)
    assert len(train_prompts) >= 40
    for suite in suites:
        assert not train_prompts & _prompts(SUITES / suite), suite


def test_benign_script_reproduces_the_shipped_file():
    module = _script("make_zh_benign")
    rows = module.build()
    lines = (RECIPE / "benign_lookalike_zh_train.jsonl").read_text("utf-8").splitlines()
    shipped = [json.loads(line) for line in lines]
    assert rows == shipped
    assert all(r["expected"] == "comply" and r["lang"] == "zh" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
