"""Per-kind converters: one raw record -> one preference pair ``{prompt, chosen, rejected, lang, category?}``.

A converter raises :class:`~safetyalign.data.validate.Skip` for a row it cannot use. Column names are looked up
through ``source.columns`` (our field -> the file's column) and otherwise through common defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from safetyalign.data.config import SourceConfig
from safetyalign.data.hh import convert_hh
from safetyalign.data.templates import detect_lang, pick_refusal
from safetyalign.data.validate import Skip, text_field

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt", "instruction", "question", "query", "goal", "Goal", "prompts_final"),
    "chosen": ("chosen", "output", "response", "answer"),
    "rejected": ("rejected",),
    "input": ("input",),
    "category": ("category", "harm_category", "dimension", "Category", "domain_en"),
    "lang": ("lang", "language"),
    "messages": ("conversations", "messages"),
}
ROLE_MAP = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
            "bot": "assistant", "model": "assistant"}


def column(row: dict[str, Any], src: SourceConfig, ours: str) -> str | None:
    """The file column for our field: the configured mapping, else the first default present in the row."""
    if ours in src.columns:
        return src.columns[ours]
    return next((c for c in DEFAULT_COLUMNS.get(ours, ()) if c in row), None)


def _prompt(row: dict[str, Any], src: SourceConfig) -> str:
    col = column(row, src, "prompt")
    if col is None:
        raise Skip("missing_field", "prompt", "no prompt column (set columns.prompt)")
    prompt = text_field(row, col, "prompt")
    in_col = column(row, src, "input")
    extra = row.get(in_col) if in_col else None
    if isinstance(extra, str) and extra.strip():  # Alpaca: instruction + input
        prompt = f"{prompt}\n\n{extra.strip()}"
    return prompt


def _meta(row: dict[str, Any], src: SourceConfig, prompt: Any, default_category: str | None = None) -> dict:
    out: dict[str, Any] = {}
    lang_col = column(row, src, "lang")
    lang = row.get(lang_col) if lang_col else None
    out["lang"] = lang if isinstance(lang, str) and lang else (src.lang or detect_lang(prompt))
    cat_col = column(row, src, "category")
    category = row.get(cat_col) if cat_col else None
    category = category if isinstance(category, str) and category.strip() else default_category
    if category:
        out["category"] = category.strip()
    return out


def _message_text(value: Any, name: str) -> str:
    """Text of a response given as a string, a ShareGPT/OpenAI message, or a list ending in an assistant turn."""
    if isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, dict):
        value = value.get("value", value.get("content"))
    if value is None:
        raise Skip("missing_field", name)
    if not isinstance(value, str):
        raise Skip("non_text", name, f"got {type(value).__name__}")
    if not value.strip():
        raise Skip("empty_field", name)
    return value.strip()


def _messages(value: Any, src: SourceConfig) -> Any:
    """A ShareGPT/OpenAI message list as our prompt: a string for one user turn, else a message list."""
    if not isinstance(value, list) or not value:
        raise Skip("non_text" if value is not None else "missing_field", "prompt", "expected a message list")
    msgs = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise Skip("non_text", f"prompt[{i}]", "message is not an object")
        role = ROLE_MAP.get(str(m.get("from", m.get("role", ""))).lower())
        content = m.get("value", m.get("content"))
        if role is None or not isinstance(content, str) or not content.strip():
            raise Skip("empty_field" if role else "unparseable", f"prompt[{i}]", "bad role or empty content")
        msgs.append({"role": role, "content": content.strip()})
    if msgs[-1]["role"] != "user":
        raise Skip("unparseable", "prompt", "the last prompt turn is not a user turn")
    if len(msgs) == 1:
        return msgs[0]["content"]
    if src.multi_turn == "flatten":
        return "\n\n".join(f"{'Human' if m['role'] == 'user' else m['role'].capitalize()}: {m['content']}"
                           for m in msgs)
    return msgs


def convert_preference(row: dict[str, Any], src: SourceConfig, seed: int) -> dict[str, Any]:
    """Generic pairs: ``prompt/chosen/rejected`` columns (mapped), ShareGPT ranking or TRL conversational rows."""
    msg_col = column(row, src, "messages")
    prompt_col = column(row, src, "prompt")
    if not msg_col and not prompt_col:
        return _implicit_prompt(row, src, seed)
    if msg_col and msg_col in row and not (prompt_col and isinstance(row.get(prompt_col), str)):
        prompt = _messages(row[msg_col], src)
    elif prompt_col and isinstance(row.get(prompt_col), list):  # TRL conversational format
        prompt = _messages(row[prompt_col], src)
    else:
        prompt = _prompt(row, src)
    pair = {"prompt": prompt}
    for name in ("chosen", "rejected"):
        col = column(row, src, name)
        if col is None or col not in row:
            raise Skip("missing_field", name, f"column '{col or name}' not found")
        pair[name] = _message_text(row[col], name)
    default_cat = "benign" if src.kind == "coconot" else None
    return {**pair, **_meta(row, src, prompt, default_cat)}


def _implicit_prompt(row: dict[str, Any], src: SourceConfig, seed: int) -> dict[str, Any]:
    """No prompt column: hh-style transcripts, or TRL implicit-prompt conversations (shared turns = prompt)."""
    chosen, rejected = row.get(column(row, src, "chosen") or "chosen"), row.get(column(row, src, "rejected") or "")
    if isinstance(chosen, str) and chosen.lstrip("\n").startswith("Human:"):
        return convert_hh(row, src, seed)
    if not (isinstance(chosen, list) and isinstance(rejected, list) and chosen and rejected):
        raise Skip("missing_field", "prompt", "no prompt column (set columns.prompt)")
    if chosen[:-1] != rejected[:-1]:
        raise Skip("unparseable", "chosen/rejected", "conversations differ before the last turn")
    prompt = _messages(chosen[:-1], src)
    pair = {"prompt": prompt, "chosen": _message_text(chosen, "chosen"), "rejected": _message_text(rejected,
                                                                                                    "rejected")}
    return {**pair, **_meta(row, src, prompt)}


def convert_refusal(row: dict[str, Any], src: SourceConfig, seed: int) -> dict[str, Any]:
    """Red-team prompt -> chosen = a written refusal; rejected = ``columns.rejected`` or left for generation."""
    prompt = _prompt(row, src)
    meta = _meta(row, src, prompt)
    pair = {"prompt": prompt, "chosen": pick_refusal(prompt, seed, src.refusal_lang or meta["lang"])}
    if "rejected" in src.columns:
        pair["rejected"] = text_field(row, src.columns["rejected"], "rejected")
    else:
        pair.update(rejected="", needs_generation=True)
    return {**pair, **meta}


def convert_helpful(row: dict[str, Any], src: SourceConfig, seed: int) -> dict[str, Any]:
    """Benign prompt + helpful answer (a column, else the base model's own answer, generated later) -> rejected = a
    written refusal (an over-refusal example)."""
    prompt = _prompt(row, src)
    meta = _meta(row, src, prompt, "benign")
    pair = {"prompt": prompt, "rejected": pick_refusal(prompt, seed, src.refusal_lang or meta["lang"])}
    col = column(row, src, "chosen")
    if col is not None and "chosen" not in src.columns and not str(row.get(col) or "").strip():
        col = None  # a default-named answer column left empty (CoCoNot's contrast set): same as no column
    if col is None:  # no answer in the file: the base model's own (on-policy) answer keeps its helpfulness as is
        pair.update(chosen="", needs_generation="chosen")
    else:
        pair["chosen"] = text_field(row, col, "chosen")
    return {**pair, **meta}


def _label(row: dict[str, Any], key: str, allowed: tuple) -> Any:
    value = row.get(key)
    if isinstance(value, str) and value.strip().lower() in {"0", "1", "true", "false"}:  # CSV files
        value = {"0": 0, "1": 1, "true": True, "false": False}[value.strip().lower()]
    if value is None:
        raise Skip("missing_field", key)
    if type(value) not in {type(a) for a in allowed} or value not in allowed:
        raise Skip("invalid_id", key, f"got {value!r}")
    return value


def convert_pku(row: dict[str, Any], src: SourceConfig, seed: int) -> dict[str, Any]:
    """PKU-SafeRLHF: the original two-response schema, or already-paired ``{prompt, chosen, rejected}`` rows."""
    if "response_0" not in row and "response_1" not in row:
        return convert_preference(row, src, seed)
    prompt = _prompt(row, src)
    responses = [text_field(row, f"response_{i}") for i in (0, 1)]
    safe = [_label(row, f"is_response_{i}_safe", (True, False)) for i in (0, 1)]
    key = "safer_response_id" if src.pair_by == "safer" else "better_response_id"
    chosen_id = _label(row, key, (0, 1))
    if src.only_one_safe and safe[0] == safe[1]:
        raise Skip("not_one_safe", "is_response_0_safe/is_response_1_safe", "both safe" if safe[0] else "both unsafe")
    pair = {"prompt": prompt, "chosen": responses[chosen_id], "rejected": responses[1 - chosen_id],
            "chosen_safe": safe[chosen_id], "rejected_safe": safe[1 - chosen_id]}
    pair.update(_meta(row, src, prompt))
    maps = [row.get(f"response_{i}_harm_category") for i in (0, 1)]
    cats = [c for m in maps if isinstance(m, dict) for c, on in m.items() if on is True]
    if isinstance(maps[0], dict):
        pair["category"] = cats[0] if cats else "no_harm_labelled"
        pair["categories"] = sorted(set(cats))
    sev = [row.get(f"response_{i}_severity_level") for i in (0, 1)]
    if all(isinstance(s, int) and not isinstance(s, bool) for s in sev):
        pair["severity"] = max(sev)
    return pair


CONVERTERS: dict[str, Callable[[dict[str, Any], SourceConfig, int], dict[str, Any]]] = {
    "pku_saferlhf": convert_pku,
    "hh_rlhf": convert_hh,
    "preference": convert_preference,
    "coconot": convert_preference,
    "refusal_pairs": convert_refusal,
    "helpful_pairs": convert_helpful,
}
