"""Labelled (prompt, response) rows for the cross-encoder judge, one loader per shared source.

Every row: ``{source, lang, prompt, response, refused, partial, harmful}``; a label is 1, 0 or None (unknown).
``refused`` counts full and partial refusals (the issue's "refused vs complied"); ``partial`` is 1 for answers
that decline the request as asked but help with something (redirect, disclaimer + content); ``harmful`` is 1 when
the response gives meaningful help toward a harmful request (HarmBench / JailbreakBench's successful attack).

Sources are split by WHOLE source (or, for the only Chinese judge source, by the model that answered):
``TRAIN_SOURCES`` train the judge, ``TEST_SOURCES`` are never seen in training and give the published numbers.
Label mappings follow each folder's README ("Intended use"); see ``docs``-level notes in judge_accuracy.json.
Not used: ``hh-rlhf-harmless`` and ``pku-saferlhf`` pairs (only relative labels: chosen is *safer*, no per-response
refusal label), ``diasafety`` (offensive chit-chat, a different notion of unsafe), ``openai-moderation`` (texts
without a prompt), ``toxicchat-test`` (prompts only).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
TRAIN_SOURCES = ("chatgpt-refusals", "coconot-pref", "jailjudge-mini", "beavertails-30k-test", "saferlhf-mini",
                 "zh-latent-jailbreak/ChatGLM2-6B", "zh-latent-jailbreak/BELLE-7B-2M", "alpaca-en", "alpaca-zh",
                 "written")
TEST_SOURCES = ("rbr-gold", "jbb-artifacts", "llm-self-defense", "zh-latent-jailbreak/ChatGPT", "handchecked")
MAX_CHARS = 2000  # longer texts are cut (head + tail) before storage; the judge reads at most ~256 tokens anyway


def _read(rel: str) -> list[Row]:
    from safetyalign.io import iter_jsonl
    from safetyalign.paths import resolve_data_path

    return [row for _, row in iter_jsonl(resolve_data_path("shared:" + rel))]


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """Keep the head and tail of a long text (a verdict can sit at either end)."""
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit * 3 // 4] + " … " + text[-limit // 4:]


def row(source: str, prompt: str, response: str, refused: int | None = None, partial: int | None = None,
        harmful: int | None = None, lang: str = "en", **extra: Any) -> Row:
    return {"source": source, "lang": lang, "prompt": clip(prompt), "response": clip(response), "refused": refused,
            "partial": partial, "harmful": harmful, **extra}


CHATGPT_TONES = {"complied": (0, 0), "rejected": (1, 0), "contradicted": (1, 0), "redirected": (1, 1),
                 "disclaimed": (1, 1), "counseling": (1, 0)}


def chatgpt_refusals() -> list[Row]:
    """Human response types (README mapping); dontknow/incoherent dropped. Refusals are not harmful."""
    out = []
    for name in ("nyp", "political_figures", "quora_insincere_hand_labeled"):
        for r in _read(f"chatgpt-refusals/{name}.jsonl"):
            if r["tone"] in CHATGPT_TONES:
                ref, part = CHATGPT_TONES[r["tone"]]
                out.append(row("chatgpt-refusals", r["prompt"], r["response"], ref, part, 0 if ref else None,
                               kind=r["tone"]))
    return out


def coconot_pref() -> list[Row]:
    """GPT-4's helpful answers to benign look-alikes (complied, harmless); ``rejected`` has no refusal label."""
    return [row("coconot-pref", r["prompt"], r["chosen"], 0, 0, 0, kind="chosen")
            for r in _read("coconot/coconot_pref.jsonl") if r.get("chosen")]


def jailjudge_mini() -> list[Row]:
    return [row("jailjudge-mini", r["question"], r["answer"].replace("</s>", ""), harmful=int(r["label"]))
            for r in _read("jailjudge-mini/jailjudge_mini.jsonl")]


def _beavertails_pair(text: str) -> tuple[str, str]:
    head, _, answer = text.partition("\n\nAI assistant:\n")
    return head.replace("Human user:\n", "", 1).strip(), answer.strip()


def beavertails() -> list[Row]:
    out = []
    for r in _read("beavertails-30k-test/beavertails_30k_test.jsonl"):
        prompt, answer = _beavertails_pair(r["input"])
        verdict = r["output"].rsplit("Response:", 1)[-1].strip().lower()
        if answer and verdict in ("harmful", "unharmful"):
            out.append(row("beavertails-30k-test", prompt, answer, harmful=int(verdict == "harmful")))
    return out


def saferlhf_mini(seen: set[str]) -> list[Row]:
    """Deduped against beavertails (README: 412 shared pairs with the same label)."""
    return [row("saferlhf-mini", r["question"], r["answer"], harmful=int(r["label"]))
            for r in _read("saferlhf-mini/saferlhf_mini.jsonl") if r["answer"].strip() not in seen]


def zh_latent(model: str) -> list[Row]:
    """P1-P3 only. unsafe -> complied harmfully; safe+follow -> translated (complied, harmless); safe+not_follow ->
    refusal / deflection (README: "in practice mostly a refusal, a lecture or an unrelated neutral sentence")."""
    out = []
    for r in _read("zh-latent-jailbreak/latent_jailbreak_human_annotated.jsonl"):
        if r["model"] != model or r.get("safety") not in ("safe", "unsafe"):
            continue
        unsafe = r["safety"] == "unsafe"
        refused = 0 if unsafe or r["following"] == "follow" else 1
        out.append(row(f"zh-latent-jailbreak/{model}", r["context"], r["response"], refused, 0 if not refused
                       else None, int(unsafe), lang="zh"))
    return out


def alpaca(lang: str, n: int = 400) -> list[Row]:
    rows = _read(f"llamafactory-demo/alpaca_{lang}_demo.jsonl")
    rows = random.Random(0).sample(rows, min(n, len(rows)))
    return [row(f"alpaca-{lang}", (r["instruction"] + "\n" + r.get("input", "")).strip(), r["output"], 0, 0, 0,
                lang=lang) for r in rows if r.get("output")]


def rbr_gold() -> list[Row]:
    """refused = not fully_complies; partial = partially_complies and not fully; harmful = disallowed_content."""
    out = []
    for split in ("train", "test"):
        for r in _read(f"rbr-gold/{split}.jsonl"):
            msgs = r["prompt"] if isinstance(r["prompt"], list) else ast.literal_eval(r["prompt"])
            user = [m["content"] for m in msgs if m.get("role") == "user"]
            p = r["propositions"]
            full, part = bool(p["fully_complies"]), bool(p["partially_complies"])
            out.append(row("rbr-gold", user[-1] if user else "", r["completion"][0]["content"], int(not full),
                           int(part and not full), int(bool(p["disallowed_content"])), kind=r["category"]))
    return out


def jbb_artifacts() -> list[Row]:
    return [row("jbb-artifacts", r["prompt"], r["response"], harmful=int(bool(r["jailbroken"])),
                kind=f"{r['method']}/{r['model']}") for r in _read("jbb-artifacts/jbb_attack_artifacts.jsonl.gz")
            if r.get("prompt") and r.get("response")]


def llm_self_defense() -> list[Row]:
    out = []
    for name in ("gpt-3.5", "llama-2"):
        out += [row("llm-self-defense", r["prompt"], r["response"], harmful=int(r["is harmful?"].strip() == "Yes"),
                    kind=name) for r in _read(f"llm-self-defense/responses_{name}.jsonl")]
    return out


def handchecked() -> list[Row]:
    """Long answers of real chat models from the test sources, labels set by a person reading each response
    (``judge_assets/handchecked.jsonl`` stores references + labels, not the texts)."""
    from safetyalign.io import iter_jsonl
    from safetyalign.paths import resolve_data_path

    path = resolve_data_path("pkg:eval/judge_assets/handchecked.jsonl")
    cache: dict[str, list[Row]] = {}
    out = []
    for _, ref in iter_jsonl(path):
        src = cache.setdefault(ref["source_ref"], load_source(ref["source_ref"]))[ref["index"]]
        out.append(row("handchecked", src["prompt"], src["response"], ref["refused"], ref["partial"], ref["harmful"],
                       lang=ref["lang"], kind=ref["note"]))
    return out


def written() -> list[Row]:
    from safetyalign.eval.judge_written import written_rows

    return written_rows()


def load_source(name: str) -> list[Row]:
    loaders: dict[str, Callable[[], list[Row]]] = {
        "chatgpt-refusals": chatgpt_refusals, "coconot-pref": coconot_pref, "jailjudge-mini": jailjudge_mini,
        "beavertails-30k-test": beavertails, "alpaca-en": lambda: alpaca("en"), "alpaca-zh": lambda: alpaca("zh"),
        "rbr-gold": rbr_gold, "jbb-artifacts": jbb_artifacts, "llm-self-defense": llm_self_defense,
        "handchecked": handchecked, "written": written,
        "saferlhf-mini": lambda: saferlhf_mini({r["response"] for r in beavertails()}),
    }
    if name.startswith("zh-latent-jailbreak/"):
        return zh_latent(name.split("/", 1)[1])
    return loaders[name]()


def dedupe(rows: list[Row]) -> list[Row]:
    seen, out = set(), []
    for r in rows:
        key = (r["source"] == "handchecked", r["prompt"][:500], r["response"][:1000])  # a re-labelled copy stays
        if r["response"] and key not in seen:
            seen.add(key)
            out.append(r)
    return out


def build(sources: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = []
    for name in sources:
        rows += load_source(name)
    return dedupe(rows)
