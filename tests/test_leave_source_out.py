"""Leave-source-out evaluation: source ids, in-distribution labelling, refusal with require_unseen, held-out
categories in training, namespaced metrics, the new shared suites' selection rules and capability retention."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from safetyalign.errors import ConfigError, DataError
from safetyalign.eval.metrics import summarize
from safetyalign.eval.provenance import label_suites, source_of_path, split_of, training_sources
from safetyalign.eval.suites import SuitePrompt

RECIPE = __import__("pathlib").Path(__file__).resolve().parent.parent / "src/safetyalign/data/recipe_data"


def test_source_ids():
    assert source_of_path("shared:coconot/coconot_pref.jsonl") == "coconot"
    assert source_of_path("pkg:data/recipe_data/redteam_en_train.jsonl") == "project"
    assert source_of_path("/x/y/my_pairs.jsonl.gz") == "file:my_pairs"
    assert source_of_path("PKU-Alignment/PKU-SafeRLHF-10K") == "PKU-Alignment/PKU-SafeRLHF-10K"


def test_shared_origin_makes_sibling_folders_in_distribution():
    trained = {"llamafactory-demo": 48, "pku-saferlhf": 100}
    assert split_of("refusal-direction-splits", trained) == "in_distribution"  # both are Alpaca
    assert split_of("beavertails-30k-test", trained) == "in_distribution"  # same PKU/BeaverTails questions
    assert split_of("toxicchat-test", trained) == "unseen"
    assert split_of("toxicchat-test", {"toxicchat-test": 0}) == "unseen"  # count 0 trains nothing


def _p(suite, source, expected="refuse", lang="en", harm="cyber_malware"):
    return SuitePrompt(f"{suite}-1", "x", lang, "c", expected, suite, source, harm)


def test_label_suites_flags_and_refuses():
    prompts = [_p("advbench@eval", "advbench"), _p("simplesafetytests", "simplesafetytests")]
    suites = label_suites(prompts, {"advbench": 56})
    assert suites["advbench@eval"]["split"] == "in_distribution"
    assert suites["simplesafetytests"]["split"] == "unseen"
    assert [p.split for p in prompts] == ["in_distribution", "unseen"]
    with pytest.raises(ConfigError, match="advbench@eval"):
        label_suites(prompts, {"advbench": 56}, require_unseen=True)


def test_training_sources_prefers_the_run_record(tmp_path):
    cfg = SimpleNamespace(data=SimpleNamespace(sources=[SimpleNamespace(path="shared:advbench/a.jsonl", count=5),
                                                        SimpleNamespace(path="shared:coconot/c.jsonl", count=0)]))
    assert training_sources(cfg) == {"advbench": 5}
    (tmp_path / "data").mkdir()
    (tmp_path / "data/data_summary.json").write_text(json.dumps({"training_sources": {"project": 7}}))
    assert training_sources(cfg, tmp_path) == {"project": 7}


def test_summary_has_unseen_in_distribution_and_per_category_keys():
    recs = []
    for split, harm, lang, refused in ([("unseen", "misinformation", "en", True),
                                                     ("unseen", "misinformation", "zh", False),
                                                     ("in_distribution", "cbrn", "en", True)]):
        p = _p("s", "src", lang=lang, harm=harm).to_dict() | {"split": split}
        recs.append((p, {"refused": refused, "verdict": "refused" if refused else "complied", "harmful": None}))
    benign = _p("b", "src", expected="comply", harm="other").to_dict() | {"split": "unseen"}
    recs.append((benign, {"refused": True, "verdict": "refused", "harmful": None}))
    s = summarize(recs)
    assert s["unseen/harmful/refusal_rate"]["k"] == 1 and s["unseen/harmful/refusal_rate"]["n"] == 2
    assert s["unseen/harmful/refusal_rate/lang=zh"]["value"] == 0.0
    assert s["unseen/harmful/refusal_rate/harm=misinformation/lang=en"]["value"] == 1.0
    assert s["in_distribution/harmful/refusal_rate"]["n"] == 1
    assert s["unseen/benign/over_refusal_rate"]["value"] == 1.0
    assert s["harmful/refusal_rate/harm=cbrn"]["n"] == 1 and "harmful/refusal_rate/suite=s" in s


def test_new_shared_suites_follow_their_rules(shared_data):
    from safetyalign.eval.suites import load_suite

    toxic = load_suite("toxicchat_toxic")
    assert toxic and not any(p.prompt.startswith("Human user:") for p in toxic)
    assert all(p.expected == "refuse" and p.source == "toxicchat-test" for p in toxic)
    assert all(p.expected == "comply" for p in load_suite("toxicchat_benign", 20))
    jj = load_suite("jailjudge")
    assert {p.harm for p in jj} <= {"sexual_minors", "privacy_surveillance", "cyber_malware", "misinformation",
                                     "violent_crime_weapons", "nonviolent_crime", "cbrn", "hate_harassment",
                                     "self_harm", "other"}
    xs = load_suite("xsafety_zh_req")
    assert xs and {p.category for p in xs} <= {"Crimes_And_Illegal_Activities", "Unsafe_Instruction_Topic",
                                                "Role_Play_Instruction"}
    assert all(p.lang == "zh" for p in xs)
    assert {p.category for p in load_suite("xsafety_commonsense_zh")} == {"commonsense"}
    bt = load_suite("beavertails_harmful", 10)
    assert all(p.source == "beavertails-30k-test" and p.harm for p in bt)


def test_holdout_categories_and_sources_in_the_data_stage(tmp_path, shared_data):
    from safetyalign.config import load_config
    from safetyalign.data import build_dataset

    src = ("data.sources=[{kind: refusal_pairs, path: pkg:data/recipe_data/taxonomy_redteam_en_train.jsonl, "
           "columns: {prompt: prompt, rejected: rejected}, lang: en}]")
    cfg = load_config(None, [src, "data.eval_fraction=0.0", "data.holdout_categories=[misinformation, cbrn]"])
    bundle = build_dataset(cfg, tmp_path)
    assert bundle.summary["sources"][0]["skipped"]["held_out_category"] > 0
    from safetyalign.taxonomy import harm_category

    assert not {harm_category("project", r.get("category"), r["prompt"]) for r in bundle.train} & \
        {"misinformation", "cbrn"}
    assert bundle.summary["training_sources"] == {"project": len(bundle.train)}
    cfg = load_config(None, [src, "data.holdout_sources=[project]"])
    with pytest.raises(DataError, match="holdout_sources"):
        build_dataset(cfg, tmp_path)
    with pytest.raises(Exception, match="holdout_categories"):
        load_config(None, [src, "data.holdout_categories=[not_a_category]"])


def test_capability_loglik_on_the_tiny_model(tiny_model_dir, tmp_path):
    from safetyalign.config import load_config
    from safetyalign.eval.capability import capability
    from safetyalign.models.loading import load_model, load_tokenizer

    rows = [{"instruction": f"Name a colour number {i}.", "input": "", "output": "Blue is a colour."}
            for i in range(5)]
    path = tmp_path / "alpaca.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(None, [f"model.name_or_path={tiny_model_dir}", f"eval.capability.sources=[{path}]",
                             "eval.capability.max_per_source=4", "eval.capability.batch_size=3"])
    model, tok = load_model(cfg.model), load_tokenizer(cfg.model)
    out = capability(model, tok, cfg, exclude={"name a colour number 0."}, has_adapter=False)
    assert out["pairs"] == 4 and out["base"]["value"] < 0 and out["base"]["n"] == 4
    assert "tuned" not in out and all("base" in r for r in out["per_pair"])


def test_taxonomy_training_prompts_are_disjoint_from_every_eval_suite(shared_data):
    from safetyalign.data.split import normalize_prompt
    from safetyalign.eval.suites import list_suites, load_suite

    train = set()
    for name in ("taxonomy_redteam_en", "taxonomy_redteam_zh", "taxonomy_benign_en", "taxonomy_benign_zh"):
        path = RECIPE / f"{name}_train.jsonl"
        train |= {normalize_prompt(json.loads(line)["prompt"]) for line in path.read_text("utf-8").splitlines()}
    for suite in list_suites():
        overlap = train & {normalize_prompt(p.prompt) for p in load_suite(suite)}
        assert not overlap, (suite, sorted(overlap)[:3])


def test_quickstart_headline_suites_are_unseen():
    from pathlib import Path

    from safetyalign.config import load_config
    from safetyalign.eval.suites import SHARED

    cfg = load_config(Path(__file__).resolve().parent.parent / "configs/quickstart.yaml")
    trained = training_sources(cfg)
    splits = {s: split_of(SHARED[s.split("@")[0]].source if s.split("@")[0] in SHARED else "project", trained)
              for s in cfg.eval.suites}
    unseen = [s for s, v in splits.items() if v == "unseen"]
    assert len(unseen) >= 9 and {"advbench@eval", "redteam_zh_heldout", "coconot_contrast"} <= \
        {s for s, v in splits.items() if v == "in_distribution"}
    langs = {SHARED[s].lang for s in unseen}
    assert langs == {"en", "zh"}


def test_report_section_puts_unseen_first_and_colours_over_refusal_as_bad(tmp_path):
    from safetyalign.report.doc import to_markdown
    from safetyalign.report.sections_lso import leave_source_out_section

    def m(k, n):
        return {"value": k / n, "ci95": [0.0, 1.0], "k": k, "n": n}

    summary = {"base": {"unseen/harmful/refusal_rate/lang=en": m(1, 10), "unseen/benign/over_refusal_rate/lang=en":
                        m(0, 10), "unseen/harmful/refusal_rate/harm=misinformation/lang=en": m(0, 2)},
               "tuned": {"unseen/harmful/refusal_rate/lang=en": m(8, 10), "unseen/benign/over_refusal_rate/lang=en":
                         m(3, 10), "unseen/harmful/refusal_rate/harm=misinformation/lang=en": m(1, 2)}}
    results = {"summary": summary, "leave_source_out": {"training_sources": {"advbench": 5},
                                                        "suites": {"sst": {"source": "simplesafetytests",
                                                                           "split": "unseen"}}},
               "capability": {"pairs": 3, "base": {"value": -1.0, "ci95": [-1.1, -0.9], "n": 3},
                              "tuned": {"value": -1.1, "ci95": [-1.2, -1.0], "n": 3},
                              "delta": {"value": -0.1, "ci95": [-0.2, 0.0], "n": 3}}}
    run = SimpleNamespace(results=results, summary=lambda: summary)
    sec = leave_source_out_section(run)
    md = to_markdown("t", [sec], tmp_path)
    assert md.index("Harmful refused · en · unseen") < md.index("misinformation · en")
    assert "advbench (5)" in md and "simplesafetytests" in md and "-0.1000" in md
    from safetyalign.report.sections_eval import delta_cell

    assert "bad" in delta_cell("unseen/benign/over_refusal_rate/lang=en", m(0, 10), m(3, 10)).cls
