"""Project-written recipe data: deterministic scripts, and training prompts disjoint from the evaluation suites."""

from __future__ import annotations

import importlib.util
import json
import re
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
    ("benign_lookalike_en_train.jsonl", ["benign_lookalike.jsonl", "redteam_basic.jsonl"]),
    ("redteam_en_train.jsonl", ["redteam_basic.jsonl", "benign_lookalike.jsonl"]),
])
def test_training_prompts_never_appear_in_evaluation_suites(train, suites):
    train_prompts = _prompts(RECIPE / train)
    assert len(train_prompts) >= 40
    for suite in suites:
        assert not train_prompts & _prompts(SUITES / suite), suite


def _shipped(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("script,train,lang", [("make_zh_benign", "benign_lookalike_zh_train.jsonl", "zh"),
                                               ("make_en_benign", "benign_lookalike_en_train.jsonl", "en")])
def test_benign_script_reproduces_the_shipped_file(script, train, lang):
    rows = _script(script).build()
    assert rows == _shipped(RECIPE / train)
    assert all(r["expected"] == "comply" and r["lang"] == lang for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_english_redteam_script_reproduces_the_shipped_file():
    rows = _script("make_en_redteam").build()
    assert rows == _shipped(RECIPE / "redteam_en_train.jsonl")
    assert all(r["rejected"] and r["expected"] == "refuse" and r["lang"] == "en" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows) and len({r["prompt"] for r in rows}) == len(rows)


_STOP = set("a an the to of in on for my i me how can what is best way do give write tell explain without getting "
            "caught step-by-step instructions guide should want so that from at with and or someone someone's this "
            "their into it be are you your".split())


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if w not in _STOP}


def test_english_redteam_intents_do_not_paraphrase_evaluation_prompts(shared_data):
    """The intents are crossed with templates, so a shared template alone never counts: compare the intent phrase
    with every English evaluation prompt by content-word overlap (Jaccard), built-in suites and shared sets."""
    evals = [json.loads(line)["prompt"] for suite in ("redteam_basic.jsonl", "benign_lookalike.jsonl")
             for line in (SUITES / suite).read_text("utf-8").splitlines()]
    for rel in ("jailbreakbench/harmful-behaviors.jsonl", "jailbreakbench/benign-behaviors.jsonl"):
        if (shared_data / rel).exists():
            evals += [json.loads(line)["Goal"] for line in (shared_data / rel).read_text("utf-8").splitlines()]
    eval_words = [_content_words(e) for e in evals]
    for _, intent in _script("make_en_redteam").INTENTS:
        words = _content_words(intent)
        overlap = max(len(words & e) / len(words | e) for e in eval_words)
        assert overlap < 0.5, intent


def test_redteam_script_reproduces_both_files_and_splits_by_intent():
    module = _script("make_zh_redteam")
    train, evals = module.build()
    assert train == _shipped(RECIPE / "redteam_zh_train.jsonl")
    assert evals == _shipped(SUITES / "redteam_zh_heldout.jsonl")
    eval_intents = {r["id"].split("-")[1] for r in evals}
    train_intents = {r["id"].split("-")[1] for r in train}
    assert eval_intents and not eval_intents & train_intents
    assert all(r["rejected"] and r["expected"] == "refuse" for r in train)


def test_english_lookalikes_are_disjoint_from_the_shared_benign_eval_sets(shared_data):
    from safetyalign.data.split import normalize_prompt

    train = _prompts(RECIPE / "benign_lookalike_en_train.jsonl")
    for rel, field in [("jailbreakbench/benign-behaviors.jsonl", "Goal"),
                       ("coconot/coconot_contrast_eval.jsonl", "prompt")]:
        path = shared_data / rel
        if not path.exists():
            pytest.skip(f"{rel} not in the shared data")
        evals = {normalize_prompt(json.loads(line).get(field) or "") for line in path.read_text("utf-8").splitlines()}
        assert not train & evals, rel
