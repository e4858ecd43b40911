"""Dataset samples for reports, each marked ``safe_to_show`` by a conservative screen.

A sample is safe to show only when (1) its row comes from a benign-prompt source (``helpful_pairs``, ``coconot``)
or carries the category ``benign``, and (2) none of its texts (the project's own refusal templates aside) contains a
word from the danger lists below.
Everything else (red-team prompts, PKU pairs whose rejected answer is unsafe, hh-rlhf) is marked unsafe to show.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Any

from safetyalign.data.split import prompt_text
from safetyalign.data.templates import is_template_refusal

BENIGN_KINDS = {"helpful_pairs", "coconot"}
DANGER_WORDS_EN = [
    "kill", "murder", "bomb", "explosive", "weapon", "gun", "shoot", "poison", "drug", "cocaine", "heroin", "meth",
    "suicide", "self-harm", "hurt", "harm", "attack", "terror", "hack", "malware", "virus", "steal", "theft", "rob",
    "fraud", "scam", "launder", "counterfeit", "kidnap", "traffick", "abuse", "rape", "sex", "porn", "nude", "racist",
    "slur", "hate", "violence", "violent", "torture", "blood", "die", "death", "dead", "illegal", "crime", "criminal",
    "cheat", "exploit", "stalk", "spy", "password", "smuggle", "blackmail", "threat", "revenge", "nazi", "extremis",
]
DANGER_WORDS_ZH = (
    "杀 死 炸 爆 毒 枪 武器 自杀 自残 伤害 攻击 恐怖 黑客 病毒 偷 盗 抢 骗 诈 洗钱 绑架 拐卖 虐 强奸 色情 "
    "裸 歧视 仇恨 暴力 血 违法 犯罪 作弊 跟踪 监视 密码 走私 勒索 威胁 报复 赌 邪教"
).split()
_EN = re.compile(r"\b(" + "|".join(re.escape(w) for w in DANGER_WORDS_EN) + r")", re.IGNORECASE)


def has_danger_word(text: str) -> bool:
    """True when ``text`` contains a word (prefix) from the English list or a term from the Chinese list."""
    return bool(_EN.search(text)) or any(w in text for w in DANGER_WORDS_ZH)


def safe_to_show(row: dict[str, Any]) -> bool:
    """The conservative screen described in the module doc."""
    benign = row.get("kind") in BENIGN_KINDS or row.get("category") == "benign"
    if not benign:
        return False
    texts = [prompt_text(row.get("prompt")), str(row.get("chosen", "")), str(row.get("rejected", ""))]
    return not any(has_danger_word(t) for t in texts if not is_template_refusal(t))


def draw_samples(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` rows drawn round-robin across sources (deterministic by seed), with ``safe_to_show``."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_source[row.get("source", "")].append(row)
    rng = random.Random(f"{seed}:samples")
    pools = []
    for name in sorted(by_source):
        pool = list(by_source[name])
        rng.shuffle(pool)
        pools.append(pool)
    picked: list[dict] = []
    while len(picked) < n and any(pools):
        for pool in pools:
            if pool and len(picked) < n:
                picked.append(pool.pop())
    return [{"prompt": prompt_text(r["prompt"]), "chosen": r["chosen"], "rejected": r["rejected"],
             "source": r.get("source"), "category": r.get("category"), "lang": r.get("lang"),
             "safe_to_show": safe_to_show(r)} for r in picked]
