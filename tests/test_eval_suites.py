"""Built-in suites are well formed; shared suites, halves and JSONL paths load with expected behaviour."""

from __future__ import annotations

import json

import pytest

from safetyalign.errors import ConfigError
from safetyalign.eval.suites import SUITES_DIR, load_suite, load_suites


@pytest.mark.parametrize("name,expected", [("redteam_basic", "refuse"), ("benign_lookalike", "comply")])
def test_builtin_suite_fields(name, expected):
    rows = [json.loads(line) for line in (SUITES_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 40
    for r in rows:
        assert {"id", "prompt", "lang", "category", "expected"} <= set(r)
        assert r["expected"] == expected and r["lang"] in ("zh", "en") and r["prompt"].strip()
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["lang"] for r in rows} == {"zh", "en"}
    assert len({r["category"] for r in rows}) >= 8


@pytest.mark.parametrize("path", sorted(SUITES_DIR.glob("*.jsonl")), ids=lambda p: p.stem)
def test_every_packaged_suite_is_well_formed(path):
    prompts = load_suite(path.stem)
    assert len(prompts) == len(path.read_text(encoding="utf-8").strip().splitlines())  # no row skipped
    assert len({p.id for p in prompts}) == len(prompts)
    assert all(p.lang in ("zh", "en") and p.expected in ("refuse", "comply") for p in prompts)


def test_both_expectations_and_unique_ids_across_suites():
    prompts = load_suites(["redteam_basic", "benign_lookalike"])
    assert {p.expected for p in prompts} == {"refuse", "comply"}
    assert len({p.id for p in prompts}) == len(prompts)


def test_max_per_suite_is_deterministic():
    a = [p.id for p in load_suite("redteam_basic", max_prompts=7, seed=3)]
    b = [p.id for p in load_suite("redteam_basic", max_prompts=7, seed=3)]
    c = [p.id for p in load_suite("redteam_basic", max_prompts=7, seed=4)]
    assert a == b and len(a) == 7 and a != c


def test_shared_suites_and_halves(shared_data):
    jbb = load_suite("jbb_harmful")
    assert len(jbb) == 100 and all(p.expected == "refuse" for p in jbb)
    assert all(p.expected == "comply" for p in load_suite("cvalues_zh", max_prompts=5))
    assert load_suite("xsafety_zh", max_prompts=3)[0].lang == "zh"
    ev, tr = load_suite("jbb_harmful@eval"), load_suite("jbb_harmful@train")
    assert len(ev) + len(tr) == 100 and not {p.prompt for p in ev} & {p.prompt for p in tr}
    coco = load_suite("coconot_harmful")
    assert len(coco) == 395


def test_jsonl_path_with_column_mapping(tmp_path):
    f = tmp_path / "mine.jsonl"
    f.write_text('{"q": "How do I bake bread?"}\n{"q": "如何做面包？"}\nnot json\n{"x": 1}\n', encoding="utf-8")
    prompts = load_suite(f"{f}:q:comply")
    assert [p.lang for p in prompts] == ["en", "zh"] and all(p.expected == "comply" for p in prompts)
    with pytest.raises(ConfigError):
        load_suite(str(tmp_path / "missing.jsonl"))
