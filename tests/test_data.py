"""Data stage: loaders on the shared real data, skip reasons on hand-made bad files, mixing, holdout, exclusion."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from safetyalign.config import load_config
from safetyalign.data.build import build_dataset
from safetyalign.data.config import DataConfig, HoldoutConfig, SourceConfig
from safetyalign.data.load import load_source
from safetyalign.data.readers import parse_split, read_source
from safetyalign.data.split import normalize_prompt, prompt_hash_fraction
from safetyalign.errors import DataError

ROOT = Path(__file__).resolve().parent.parent


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _load(src: SourceConfig, **data_kw):
    return load_source(src, 0, DataConfig(sources=[src], **data_kw))


# --- PKU-SafeRLHF ---------------------------------------------------------------------------------------------

def _original(shared_data: Path) -> list[dict]:
    return [json.loads(ln) for ln in (shared_data / "pku-saferlhf/original_sample.jsonl").open(encoding="utf-8")]


def test_pku_original_schema_safer_pairs(shared_data):
    raw = _original(shared_data)
    rows, summary = _load(SourceConfig(kind="pku_saferlhf", path="shared:pku-saferlhf/original_sample.jsonl"),
                          dedupe=False)
    assert summary["read"] == 55 and summary["kept"] == 55 and summary["skipped"] == {}
    for row, r in zip(rows, raw):
        assert row["chosen"] == r[f"response_{r['safer_response_id']}"].strip()
        assert row["rejected"] == r[f"response_{1 - r['safer_response_id']}"].strip()
        assert row["category"] and isinstance(row["categories"], list)
        assert row["severity"] in (0, 1, 2, 3)


def test_pku_only_one_safe_and_better(shared_data):
    raw = _original(shared_data)
    src = SourceConfig(kind="pku_saferlhf", path="shared:pku-saferlhf/original_sample.jsonl", only_one_safe=True)
    rows, summary = _load(src, dedupe=False)
    assert summary["kept"] == 6 and summary["skipped"] == {"not_one_safe": 49}  # 28 both safe + 21 both unsafe
    assert all(r["chosen_safe"] and not r["rejected_safe"] for r in rows)
    better, _ = _load(SourceConfig(kind="pku_saferlhf", path="shared:pku-saferlhf/original_sample.jsonl",
                                   pair_by="better"), dedupe=False)
    assert [b["chosen"] for b in better] == [r[f"response_{r['better_response_id']}"].strip() for r in raw]
    assert any(r["better_response_id"] != r["safer_response_id"] for r in raw)


def test_pku_paired_file_with_split_slice(shared_data):
    src = SourceConfig(kind="pku_saferlhf", path="shared:pku-saferlhf/safer_pairs.jsonl", split="train[:2000]")
    rows, summary = _load(src, dedupe=False)
    assert summary["read"] == 2000 and summary["kept"] == 2000
    first = json.loads((shared_data / "pku-saferlhf/safer_pairs.jsonl").open(encoding="utf-8").readline())
    assert rows[0]["prompt"] == first["prompt"].strip() and rows[0]["chosen"] == first["chosen"].strip()
    _, deduped = _load(src)
    assert deduped["kept"] + deduped["skipped"]["duplicate"] == 2000 and deduped["skipped"]["duplicate"] > 0


def test_pku_bad_rows(tmp_path):
    good = {"prompt": "p", "response_0": "a", "response_1": "b", "is_response_0_safe": True,
            "is_response_1_safe": False, "better_response_id": 1, "safer_response_id": 0}
    path = _write_jsonl(tmp_path / "pku.jsonl", [
        good, {**good, "safer_response_id": 2}, {**good, "is_response_1_safe": "maybe"},
        {**good, "safer_response_id": True}, {k: v for k, v in good.items() if k != "safer_response_id"},
    ])
    rows, summary = _load(SourceConfig(kind="pku_saferlhf", path=str(path)))
    assert summary["kept"] == 1 and rows[0]["chosen"] == "a"
    assert summary["skipped"] == {"invalid_id": 3, "missing_field": 1}
    assert any("pku.jsonl:2:safer_response_id" in e for e in summary["examples"])


def test_split_expressions():
    items = list(range(100))
    assert parse_split("train[:20]").apply(items) == items[:20]
    assert parse_split("train[10:15]").apply(items) == items[10:15]
    assert parse_split("train[-5:]").apply(items) == items[-5:]
    assert parse_split("train[:10%]").apply(items) == items[:10]
    assert parse_split("train").apply(items) == items
    with pytest.raises(DataError, match="invalid split expression"):
        parse_split("train[a:b]")


# --- skip reasons and unreadable files --------------------------------------------------------------------------

def test_every_skip_reason_is_counted(tmp_path):
    rows = [
        {"prompt": "ok 1", "chosen": "yes", "rejected": "no"},
        "{not json",
        {"prompt": "ok 2", "chosen": "yes"},
        {"prompt": "  ", "chosen": "yes", "rejected": "no"},
        {"prompt": "ok 3", "chosen": 5, "rejected": "no"},
        {"prompt": "ok 4", "chosen": "same", "rejected": "same"},
        {"prompt": "ok 5", "chosen": "x" * 200, "rejected": "no"},
        {"prompt": "ok 1", "chosen": "yes", "rejected": "no"},
        {"prompt": "ok 6", "chosen": "yes", "rejected": "no", "category": "other"},
        {"prompt": "in the suite", "chosen": "yes", "rejected": "no"},
    ]
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    suite = _write_jsonl(tmp_path / "suite.jsonl", [{"prompt": "In   the SUITE"}])
    src = SourceConfig(kind="preference", path=str(path), filter={"category": "!other"})
    cfg = load_config(None, ["data.max_chars=100", "data.eval_fraction=0"])
    cfg.data.sources = [src]
    cfg.data.exclude_prompts_from = [str(suite)]
    bundle = build_dataset(cfg, tmp_path / "run")
    s = bundle.summary["sources"][0]
    assert s["read"] == 10 and s["kept"] == 1
    assert s["skipped"] == {"invalid_json": 1, "missing_field": 1, "empty_field": 1, "non_text": 1,
                            "identical_pair": 1, "too_long": 1, "duplicate": 1, "filtered": 1, "in_eval_set": 1}
    assert s["examples"][0].startswith("bad.jsonl:2:")
    assert "bad.jsonl:3:rejected (missing_field" in s["examples"][1]
    written = json.loads((tmp_path / "run/data/data_summary.json").read_text())
    assert written["total"]["skipped"]["too_long"] == 1 and written["train_rows"] == 1


@pytest.mark.parametrize("name, content", [
    ("garbage.jsonl", b"\x00\xff\xfe binary \x81"),
    ("broken.jsonl.gz", b"not gzip at all"),
    ("table.parquet", b"PAR1 not really"),
    ("array.json", b"[{\"prompt\": \"a\"},"),
    ("nothing.csv", b""),
])
def test_unreadable_file_is_one_line_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as exc:
        read_source(str(path), "train")
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_file_and_offline_hub():
    with pytest.raises(DataError, match="not found"):
        read_source("/nonexistent/x.jsonl", "train")
    with pytest.raises(DataError) as exc:
        read_source("PKU-Alignment/PKU-SafeRLHF-10K", "train[:2000]")
    msg = str(exc.value)
    assert "data.sources[0].path=shared:pku-saferlhf/safer_pairs.jsonl" in msg and "\n" not in msg


def test_local_formats_csv_json_gz_folder(tmp_path):
    pairs = [{"q": f"question {i}", "good": f"answer {i}", "bad": f"bad {i}"} for i in range(6)]
    (tmp_path / "d").mkdir()
    (tmp_path / "d/train.csv").write_text("q,good,bad\n" + "".join(f"{p['q']},{p['good']},{p['bad']}\n"
                                                                   for p in pairs[:3]))
    (tmp_path / "d/test.json").write_text(json.dumps(pairs[3:]))
    with gzip.open(tmp_path / "all.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps(p) + "\n" for p in pairs)
    cols = {"prompt": "q", "chosen": "good", "rejected": "bad"}
    folder_train, s1 = _load(SourceConfig(kind="preference", path=str(tmp_path / "d"), columns=cols))
    folder_test, _ = _load(SourceConfig(kind="preference", path=str(tmp_path / "d"), split="test", columns=cols))
    gz, s3 = _load(SourceConfig(kind="preference", path=str(tmp_path / "all.jsonl.gz"), split="train[2:4]",
                                columns=cols))
    assert [r["prompt"] for r in folder_train] == ["question 0", "question 1", "question 2"]
    assert [r["prompt"] for r in folder_test] == ["question 3", "question 4", "question 5"]
    assert [r["prompt"] for r in gz] == ["question 2", "question 3"] and s3["read"] == 2
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(pairs), tmp_path / "p.parquet")
    (tmp_path / "splits.json").write_text(json.dumps({"train": pairs[:2], "test": pairs[2:]}))
    par, _ = _load(SourceConfig(kind="preference", path=str(tmp_path / "p.parquet"), columns=cols))
    test, _ = _load(SourceConfig(kind="preference", path=str(tmp_path / "splits.json"), split="test", columns=cols))
    assert len(par) == 6 and par[5]["rejected"] == "bad 5"
    assert [r["prompt"] for r in test] == ["question 2", "question 3", "question 4", "question 5"]


# --- other sources ------------------------------------------------------------------------------------------------

def test_hh_rlhf_transcripts(shared_data, tmp_path):
    from safetyalign.data.hh import split_pair

    turns, chosen, rejected = split_pair("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant: good",
                                         "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant: bad")
    assert turns == [("user", "hi"), ("assistant", "hello"), ("user", "how are you?")]
    assert (chosen, rejected) == ("good", "bad")
    rows, summary = _load(SourceConfig(kind="hh_rlhf", path="shared:hh-rlhf-harmless/test.jsonl.gz"))
    assert summary["read"] == 2312 and summary["skipped"]["unparseable"] == 5
    multi = [r for r in rows if isinstance(r["prompt"], list)]
    single = [r for r in rows if isinstance(r["prompt"], str)]
    assert multi and single and all(m["prompt"][-1]["role"] == "user" for m in multi)
    flat, _ = _load(SourceConfig(kind="hh_rlhf", path="shared:hh-rlhf-harmless/test.jsonl.gz", split="train[:50]",
                                 multi_turn="flatten"))
    assert all(isinstance(r["prompt"], str) for r in flat) and any("Assistant: " in r["prompt"] for r in flat)


def test_preference_formats_trl_implicit_prompt_and_transcripts(tmp_path):
    conv = {"chosen": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "good"}],
            "rejected": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "bad"}]}
    trl = {"prompt": [{"role": "user", "content": "Q2?"}], "chosen": [{"role": "assistant", "content": "yes"}],
           "rejected": [{"role": "assistant", "content": "no"}]}
    hh = {"chosen": "\n\nHuman: hi\n\nAssistant: good", "rejected": "\n\nHuman: hi\n\nAssistant: bad"}
    alpaca = {"instruction": "Sum", "input": "1 and 2", "chosen": "3", "rejected": "4"}
    path = _write_jsonl(tmp_path / "formats.jsonl", [conv, trl, hh, alpaca])
    rows, summary = _load(SourceConfig(kind="preference", path=str(path)))
    assert summary["kept"] == 4
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        ("Q?", "good", "bad"), ("Q2?", "yes", "no"), ("hi", "good", "bad"), ("Sum\n\n1 and 2", "3", "4")]


def test_sharegpt_dpo_demo_and_coconot(shared_data):
    rows, summary = _load(SourceConfig(kind="preference", path="shared:llamafactory-demo/dpo_zh_demo.jsonl"),
                          dedupe=False)
    assert summary["read"] == 300 and summary["kept"] >= 290
    assert sum(r["lang"] == "zh" for r in rows) > 0.9 * len(rows)
    coco, s2 = _load(SourceConfig(kind="coconot", path="shared:coconot/coconot_pref.jsonl"))
    assert s2["read"] == 927 and s2["kept"] == 927 and all(r["category"] for r in coco)


def test_refusal_and_helpful_recipes(shared_data):
    from safetyalign.data.formatting import fill_rejected
    from safetyalign.data.templates import REFUSALS

    src = SourceConfig(kind="refusal_pairs", path="shared:zh-flames/flames_1k_chinese.jsonl", split="train[:40]",
                       columns={"category": "dimension"})
    rows, _ = _load(src)
    assert all(r["lang"] == "zh" and r["chosen"] in REFUSALS["zh"] for r in rows)
    assert all(r["needs_generation"] and r["rejected"] == "" for r in rows)
    assert len({r["chosen"] for r in rows}) > 3  # varied templates
    again, _ = _load(src)
    assert [r["chosen"] for r in again] == [r["chosen"] for r in rows]  # deterministic by seed
    filled = fill_rejected(rows, lambda prompts: [f"answer {i}" for i in range(len(prompts))])
    assert len(filled) == len(rows) and not any(r.get("needs_generation") for r in filled)
    assert filled[3]["rejected"] == "answer 3"
    assert len(fill_rejected(rows, lambda ps: ["" for _ in ps])) == 0  # empty answers are dropped
    pku, _ = _load(SourceConfig(kind="refusal_pairs", path="shared:pku-saferlhf/safer_pairs.jsonl",
                                split="train[:20]", columns={"rejected": "rejected"}))
    assert all(r["lang"] == "en" and r["chosen"] in REFUSALS["en"] and r["rejected"] for r in pku)
    helpful, _ = _load(SourceConfig(kind="helpful_pairs", path="shared:llamafactory-demo/alpaca_en_demo.jsonl",
                                    split="train[:30]"))
    assert all(r["rejected"] in REFUSALS["en"] and r["category"] == "benign" for r in helpful)


def test_helpful_pairs_without_answers_take_the_base_models_answer_as_chosen():
    from safetyalign.data.formatting import fill_on_policy
    from safetyalign.data.templates import OPENERS, REFUSALS

    path = "pkg:data/recipe_data/benign_lookalike_zh_train.jsonl"
    rows, summary = _load(SourceConfig(kind="helpful_pairs", path=path))
    assert summary["kept"] == len(rows) >= 40
    assert all(r["needs_generation"] == "chosen" and r["chosen"] == "" and r["rejected"] in REFUSALS["zh"]
               for r in rows)
    assert all(r["rejected"].startswith(OPENERS["zh"]) for r in rows)  # one clear refusal opening per language
    mixed = rows[:3] + [{"prompt": "p", "chosen": "c", "rejected": "r"}]
    filled = fill_on_policy(mixed, lambda prompts: [f"answer {i}" for i in range(len(prompts))])
    assert [r["chosen"] for r in filled] == ["answer 0", "answer 1", "answer 2", "c"]
    assert all(r["rejected"] in REFUSALS["zh"] for r in filled[:3]) and filled[0]["chosen_source"] == "on_policy"
    assert not any(r.get("needs_generation") for r in filled)
    # an answer equal to the refusal carries no preference: dropped
    assert fill_on_policy(rows[:1], lambda ps: [rows[0]["rejected"]]) == []
    # refusal_lang picks the refusal's language independently of the prompt's
    english, _ = _load(SourceConfig(kind="helpful_pairs", path=path, refusal_lang="en"))
    assert all(r["rejected"] in REFUSALS["en"] and r["lang"] == "zh" for r in english)


def test_helpful_pairs_with_an_empty_answer_column_generate_it(tmp_path):
    from safetyalign.data.templates import REFUSALS

    path = tmp_path / "contrast.jsonl"  # CoCoNot's contrast set ships an empty "response" column
    path.write_text('{"prompt": "How can I kill time on a long flight?", "response": ""}\n'
                    '{"prompt": "How do I blow up a photo for a poster?", "response": "Use a print shop."}\n',
                    encoding="utf-8")
    rows, summary = _load(SourceConfig(kind="helpful_pairs", path=str(path)))
    assert summary["kept"] == 2 and rows[0]["needs_generation"] == "chosen" and rows[0]["chosen"] == ""
    assert rows[1]["chosen"] == "Use a print shop." and not rows[1].get("needs_generation")
    assert all(r["rejected"] in REFUSALS["en"] for r in rows)
    # a column the config names explicitly must hold text: the empty row is skipped and counted
    rows, summary = _load(SourceConfig(kind="helpful_pairs", path=str(path), columns={"chosen": "response"}))
    assert summary["kept"] == 1 and summary["skipped"] == {"empty_field": 1}


def test_refusal_templates_are_harmless():
    from safetyalign.data.samples import has_danger_word
    from safetyalign.data.templates import REFUSALS, detect_lang

    for lang, texts in REFUSALS.items():
        assert len(texts) >= 8
        assert all(detect_lang(t) == lang for t in texts)
    assert detect_lang("你好，how are you") == "zh" and detect_lang("hello") == "en"
    assert has_danger_word("how to build a bomb") and not has_danger_word("bake bread")


# --- mixing, holdout, split -----------------------------------------------------------------------------------------

def _mix_cfg(shared: str, *extra: str):
    return load_config(None, [
        f"data.sources=[{{kind: coconot, path: '{shared}coconot/coconot_pref.jsonl', weight: 3}}, "
        f"{{kind: helpful_pairs, path: '{shared}llamafactory-demo/alpaca_en_demo.jsonl', weight: 1}}, "
        f"{{kind: pku_saferlhf, path: '{shared}pku-saferlhf/safer_pairs.jsonl', split: 'train[:300]', count: 50}}]",
        "data.max_rows=250", "data.eval_fraction=0.1", *extra])


def test_mixing_by_count_and_weight_is_deterministic(shared_data):
    a = build_dataset(_mix_cfg("shared:"), None)
    b = build_dataset(_mix_cfg("shared:"), None)
    c = build_dataset(_mix_cfg("shared:", "data.seed=7"), None)
    used = [s["used"] for s in a.summary["sources"]]
    assert used == [150, 50, 50]  # count 50 fixed; 200 left shared 3:1
    assert len(a.rows) == 250 and a.rows == b.rows and a.samples == b.samples
    assert [r["prompt"] for r in c.rows] != [r["prompt"] for r in a.rows]
    train_p = {normalize_prompt(r["prompt"]) for r in a.train}
    assert a.eval and not train_p & {normalize_prompt(r["prompt"]) for r in a.eval}


def test_weights_without_max_rows_use_every_row_of_the_limiting_source(tmp_path):
    def rows(tag, n):
        return [{"prompt": f"{tag} {i}", "chosen": "c", "rejected": "r"} for i in range(n)]
    _write_jsonl(tmp_path / "a.jsonl", rows("a", 40))
    _write_jsonl(tmp_path / "b.jsonl", rows("b", 100))
    cfg = load_config(None, [f"data.sources=[{{path: '{tmp_path}/a.jsonl', weight: 1}}, "
                             f"{{path: '{tmp_path}/b.jsonl', weight: 1}}]", "data.eval_fraction=0"])
    bundle = build_dataset(cfg, None)
    assert [s["used"] for s in bundle.summary["sources"]] == [40, 40]


def test_holdout_parts_are_disjoint_and_complete(shared_data):
    path = "shared:zh-xsafety/xsafety_zh_en.jsonl"
    parts = {}
    for part in ("train", "eval"):
        rows, summary = _load(SourceConfig(kind="refusal_pairs", path=path, split="train[:400]",
                                           holdout=HoldoutConfig(part=part, fraction=0.5)), dedupe=False)
        parts[part] = {normalize_prompt(r["prompt"]) for r in rows}
        assert summary["skipped"].get("holdout", 0) > 100
    everything, _ = _load(SourceConfig(kind="refusal_pairs", path=path, split="train[:400]"), dedupe=False)
    assert not parts["train"] & parts["eval"]
    assert parts["train"] | parts["eval"] == {normalize_prompt(r["prompt"]) for r in everything}
    assert all(prompt_hash_fraction(p) < 0.5 for p in parts["train"])
    assert prompt_hash_fraction("Hello  World") == prompt_hash_fraction(" hello world")


def test_exclude_prompts_from_shared_suite(shared_data, tmp_path):
    suite = _write_jsonl(tmp_path / "suite.jsonl", [
        json.loads(ln) for ln in list((shared_data / "pku-saferlhf/safer_pairs.jsonl").open(encoding="utf-8"))[:5]])
    cfg = load_config(None, ["data.sources=[{kind: pku_saferlhf, path: 'shared:pku-saferlhf/safer_pairs.jsonl', "
                             "split: 'train[:200]'}]", f"data.exclude_prompts_from=['{suite}']"])
    bundle = build_dataset(cfg, None)
    banned = {normalize_prompt(json.loads(ln)["prompt"]) for ln in suite.open()}
    assert bundle.summary["total"]["skipped"]["in_eval_set"] >= 5
    assert not banned & {normalize_prompt(r["prompt"]) for r in bundle.rows}
    with pytest.raises(DataError, match="neither a file nor an evaluation suite"):
        build_dataset(load_config(None, ["data.exclude_prompts_from=[no_such_suite]"]), None)


def test_to_trl_rows_renders_with_chat_template(smollm_tokenizer):
    from safetyalign.chat import render_prompt, render_response
    from safetyalign.data.formatting import to_trl_rows

    rows = [{"prompt": "Hi there", "chosen": "Hello!", "rejected": "Go away.", "source": "x", "lang": "en"},
            {"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                        {"role": "user", "content": "c"}], "chosen": "d", "rejected": "e"}]
    out = to_trl_rows(rows, smollm_tokenizer, "Be safe.")
    assert set(out[0]) == {"prompt", "chosen", "rejected"}
    assert out[0]["prompt"] == render_prompt(smollm_tokenizer, "Hi there", "Be safe.")
    assert out[0]["chosen"] == render_response(smollm_tokenizer, "Hello!")
    assert out[0]["prompt"].count("Be safe.") == 1 and out[1]["prompt"].count("Be safe.") == 1
    with pytest.raises(ValueError, match="fill_on_policy"):
        to_trl_rows([{**rows[0], "needs_generation": True}], smollm_tokenizer)


def test_samples_safe_to_show(shared_data):
    from safetyalign.data.samples import draw_samples

    cfg = load_config(None, [
        "data.sources=[{kind: helpful_pairs, path: 'shared:llamafactory-demo/alpaca_en_demo.jsonl', count: 60}, "
        "{kind: pku_saferlhf, path: 'shared:pku-saferlhf/safer_pairs.jsonl', count: 60}]", "data.num_samples=10"])
    bundle = build_dataset(cfg, None)
    assert len(bundle.samples) == 10
    assert {s["source"] for s in bundle.samples} == {s["name"] for s in bundle.summary["sources"]}
    assert not any(s["safe_to_show"] for s in bundle.samples if s["source"].startswith("pku"))
    assert any(s["safe_to_show"] for s in draw_samples(bundle.rows, 40, 0))


VALID = {
    "pku_saferlhf": {"prompt": "p", "response_0": "a", "response_1": "b", "is_response_0_safe": True,
                     "is_response_1_safe": False, "better_response_id": 1, "safer_response_id": 0,
                     "response_0_harm_category": {"X": False}, "response_0_severity_level": 0},
    "hh_rlhf": {"chosen": "\n\nHuman: hi\n\nAssistant: good", "rejected": "\n\nHuman: hi\n\nAssistant: bad"},
    "preference": {"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": "a"},
                   "rejected": {"from": "gpt", "value": "b"}},
    "coconot": {"prompt": "p", "chosen": "a", "rejected": "b", "category": "c"},
    "refusal_pairs": {"prompt": "p", "category": "c", "lang": "en"},
    "helpful_pairs": {"instruction": "p", "input": "", "output": "a"},
}
WEIRD = [None, 3, 2.5, True, [], {}, [1, 2], {"from": "gpt"}, "", "   ", [{"role": "user"}],
         [{"from": "human", "value": "hi"}], {"value": 7}, "\n\nAssistant: x"]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_no_bad_row_crashes_any_loader(tmp_path, kind):
    base = VALID[kind]
    rows = [base] + [{**base, key: value} for key in base for value in WEIRD]
    rows += [{k: v for k, v in base.items() if k != key} for key in base]
    path = _write_jsonl(tmp_path / "weird.jsonl", rows + ["[1, 2]", "null"])
    kept, summary = _load(SourceConfig(kind=kind, path=str(path)), dedupe=False)
    assert summary["read"] == len(rows) + 2 and summary["kept"] + sum(summary["skipped"].values()) == len(rows) + 2
    assert kept and kept[0]["chosen"] and summary["skipped"]["invalid_json"] == 2
    assert all(isinstance(r["chosen"], str) and isinstance(r["rejected"], str) for r in kept)


def test_shipped_mix_recipe_builds_bilingual_pairs(shared_data):
    from safetyalign.data.split import in_holdout_part

    cfg = load_config(ROOT / "configs/data/safety_mix_zh_en.yaml")
    bundle = build_dataset(cfg, None)
    assert bundle.needs_generation and bundle.summary["needs_generation_rows"] == 64
    assert set(bundle.summary["by_lang"]) == {"en", "zh"}
    zh = [r for r in bundle.rows if r["source"] == "xsafety_refusals_zh"]
    assert len(zh) == 64 and all(in_holdout_part(r["prompt"], "train", 0.5) for r in zh)
    helpful = [r for r in bundle.rows if r["kind"] == "helpful_pairs"]
    assert len(helpful) == 64 and {r["lang"] for r in helpful} == {"en", "zh"}


def test_exclude_by_suite_name(shared_data):
    pytest.importorskip("safetyalign.eval.suites")
    from safetyalign.data.load import suite_prompts

    advbench = suite_prompts("advbench")
    assert len(advbench) == 520 and advbench == suite_prompts("shared:advbench/harmful_behaviors.jsonl")
    cfg = load_config(None, ["data.sources=[{kind: refusal_pairs, path: 'shared:advbench/harmful_behaviors.jsonl', "
                             "split: 'train[:30]'}]", "data.exclude_prompts_from=[advbench]"])
    bundle = build_dataset(cfg, None)
    assert bundle.summary["total"]["skipped"] == {"in_eval_set": 30} and not bundle.rows


def test_hub_source_goes_through_datasets(monkeypatch, shared_data):
    import datasets

    calls = []
    original = _original(shared_data)

    def fake_load_dataset(name, subset=None, split=None, data_dir=None):
        calls.append((name, subset, split, data_dir))
        return original[:20]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    cfg = load_config(None, ["data.eval_fraction=0"])  # default source: PKU-Alignment/PKU-SafeRLHF-10K train[:2000]
    bundle = build_dataset(cfg, None)
    assert calls == [("PKU-Alignment/PKU-SafeRLHF-10K", None, "train[:2000]", None)]
    assert bundle.summary["sources"][0]["read"] == 20 and len(bundle.train) == 20
