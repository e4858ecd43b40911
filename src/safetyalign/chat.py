"""Chat formatting shared by training and evaluation, so a prompt is rendered identically in both.

A prompt is rendered with the tokenizer's own chat template (``add_generation_prompt=True``); a response is the
assistant text followed by the template's end-of-turn marker. An optional system prompt is inserted exactly once:
templates that add a default system prompt (Qwen2.5) get the configured one instead, never both.
"""

from __future__ import annotations

from typing import Any


def build_messages(prompt: str | list[dict[str, str]], system_prompt: str | None = None) -> list[dict[str, str]]:
    """Messages for a user prompt (or an existing message list) with at most one system message."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    has_system = bool(messages) and messages[0].get("role") == "system"
    if system_prompt and not has_system:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def render_prompt(tokenizer: Any, prompt: str | list[dict[str, str]], system_prompt: str | None = None) -> str:
    """The text the model sees before it answers (generation prompt included)."""
    messages = build_messages(prompt, system_prompt)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # Plain fallback for base models without a template.
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


def end_of_turn(tokenizer: Any) -> str:
    """The marker that closes an assistant turn in this template (e.g. ``<|im_end|>``), else the EOS token."""
    if getattr(tokenizer, "chat_template", None):
        probe = "XyZ-probe"
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": probe}], tokenize=False)
        tail = text.split(probe, 1)[-1]
        marker = tail.strip()
        if marker:
            # keep only the first special marker (templates may append newlines after it)
            return marker.split()[0]
    return tokenizer.eos_token or ""


def render_response(tokenizer: Any, response: str) -> str:
    """Assistant text as a training completion: the response followed by the end-of-turn marker."""
    return response.strip() + end_of_turn(tokenizer)
