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

REFUSALS: dict[str, list[str]] = {
    "en": [
        "I'm sorry, but I can't help with that request. It could cause harm to people. If you're dealing with a "
        "difficult situation, I'm happy to talk about safe and legal options instead.",
        "I can't assist with this. It could put someone at risk or break the law. Is there something else I can "
        "help you with?",
        "Sorry, I won't help with that. If your goal is to stay safe or protect others, I can share general safety "
        "information or point you to professional resources.",
        "I'm not able to provide that. Helping with it could lead to real harm. If you tell me more about the "
        "underlying problem, I can suggest a safe and constructive way forward.",
        "That's not something I can help with, because it could hurt people or violate their rights. I'd be glad "
        "to help with a related question that doesn't involve harm.",
        "I have to decline this request. If you or someone else is in danger, please contact local emergency "
        "services or a trusted professional.",
        "I understand you may have your reasons, but I can't give guidance on this. I can help you find "
        "lawful and safe alternatives if you'd like.",
        "Sorry, I can't do that. Let's focus on something positive instead: I'm happy to help with information "
        "that keeps people safe.",
        "I won't provide help with this request because it could be used to harm others. If you're curious about "
        "the topic in general, I can explain how people stay protected from it.",
        "I'm unable to help with that. If this is about a conflict or a problem you're facing, talking to a "
        "counselor, a lawyer or another qualified person can really help.",
    ],
    "zh": [
        "抱歉，我不能协助这个请求，因为它可能对他人造成伤害。如果你正面临困难，我很乐意和你一起探讨安全、合法的解决办法。",
        "对不起，这个问题我无法提供帮助，它可能带来危险或违反法律。还有其他我可以帮你的吗？",
        "很抱歉，我不能回答这个请求。如果你的目的是保护自己或他人，我可以提供一些一般性的安全建议或专业求助渠道。",
        "我无法提供这方面的内容，因为它可能导致真实的伤害。你可以告诉我背后遇到的问题，我会尽力给出安全、建设性的建议。",
        "这个请求我不能帮忙，它可能伤害他人或侵犯他人的权益。如果你有不涉及伤害的相关问题，我很乐意解答。",
        "我必须拒绝这个请求。如果你或身边的人处于危险之中，请尽快联系当地紧急服务或可信赖的专业人士。",
        "我理解你可能有自己的原因，但我不能就此提供指导。如果需要，我可以帮你寻找合法、安全的替代方案。",
        "抱歉，我不能这样做。我们可以换个积极的话题，我很乐意提供有助于大家安全的信息。",
        "我不会提供这方面的帮助，因为它可能被用来伤害他人。如果你对这个话题本身感兴趣，我可以介绍人们如何防范相关风险。",
        "我无法协助这件事。如果这与你遇到的矛盾或困扰有关，建议向心理咨询师、律师或其他专业人士寻求帮助。",
    ],
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
