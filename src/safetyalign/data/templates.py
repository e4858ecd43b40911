"""Project-written refusals and safe redirections (English and Chinese) used to build preference pairs.

``refusal_pairs`` uses them as the *chosen* answer to red-team prompts; ``helpful_pairs`` uses them as the
*rejected* answer to benign prompts (an over-refusal), so the model learns when to refuse, not to refuse always.
The texts are generic on purpose: they never repeat the request and contain no harmful content. The choice is
deterministic: the same prompt and seed always get the same template.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from safetyalign.data.split import normalize_prompt, prompt_text

# Every refusal opens with the same clear sentence (a small model learns one decisive opening far more reliably than
# ten, and judges recognise it), followed by one of several safe redirections.
OPENERS: dict[str, str] = {
    "en": "I'm sorry, but I can't help with that.",
    "zh": "抱歉，我无法帮助你。",
}
REDIRECTS: dict[str, list[str]] = {
    "en": [
        "It could cause harm to people. If you're dealing with a difficult situation, I'm happy to talk about safe "
        "and legal options instead.",
        "It could put someone at risk or break the law. Is there something else I can help you with?",
        "If your goal is to stay safe or protect others, I can share general safety information or point you to "
        "professional resources.",
        "Helping with it could lead to real harm. If you tell me more about the underlying problem, I can suggest a "
        "safe and constructive way forward.",
        "It could hurt people or violate their rights. I'd be glad to help with a related question that doesn't "
        "involve harm.",
        "If you or someone else is in danger, please contact local emergency services or a trusted professional.",
        "I can help you find lawful and safe alternatives if you'd like.",
        "Let's focus on something positive instead: I'm happy to help with information that keeps people safe.",
        "If you're curious about the topic in general, I can explain how people stay protected from it.",
        "If this is about a conflict or a problem you're facing, talking to a counselor, a lawyer or another "
        "qualified person can really help.",
    ],
    "zh": [
        "它可能对他人造成伤害。如果你正面临困难，我很乐意和你一起探讨安全、合法的解决办法。",
        "它可能带来危险或违反法律。还有其他我可以帮你的吗？",
        "如果你的目的是保护自己或他人，我可以提供一些一般性的安全建议或专业求助渠道。",
        "它可能导致真实的伤害。你可以告诉我背后遇到的问题，我会尽力给出安全、建设性的建议。",
        "它可能伤害他人或侵犯他人的权益。如果你有不涉及伤害的相关问题，我很乐意解答。",
        "如果你或身边的人处于危险之中，请尽快联系当地紧急服务或可信赖的专业人士。",
        "如果需要，我可以帮你寻找合法、安全的替代方案。",
        "我们可以换个积极的话题，我很乐意提供有助于大家安全的信息。",
        "如果你对这个话题本身感兴趣，我可以介绍人们如何防范相关风险。",
        "如果这与你遇到的矛盾或困扰有关，建议向心理咨询师、律师或其他专业人士寻求帮助。",
    ],
}
REFUSALS: dict[str, list[str]] = {
    lang: [OPENERS[lang] + (" " if lang == "en" else "") + text for text in texts] for lang, texts in REDIRECTS.items()
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_lang(text: Any) -> str:
    """'zh' when Chinese characters make up at least a fifth of the letters, else 'en'."""
    text = prompt_text(text)
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    # a CJK character carries about as much as a short word: weigh it like 3 latin letters
    return "zh" if cjk and 3 * cjk >= 0.2 * (3 * cjk + latin) else "en"


def pick_refusal(prompt: Any, seed: int = 0, lang: str | None = None) -> str:
    """A refusal template for ``prompt`` in its language, chosen deterministically by prompt and seed."""
    lang = lang if lang in REFUSALS else detect_lang(prompt)
    options = REFUSALS[lang]
    digest = hashlib.sha256(f"{seed}\x00{normalize_prompt(prompt)}".encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def is_template_refusal(text: str) -> bool:
    """True when ``text`` is one of the project's templates (used to keep statistics honest)."""
    stripped = text.strip()
    return any(stripped == t for options in REFUSALS.values() for t in options)
