"""Batched generation: original order kept, adapter disabled == base model, seeded sampling reproducible."""

from __future__ import annotations

import pytest

from safetyalign.eval.config import GenerationConfig
from safetyalign.eval.generate import GenerationStats, adapter_disabled, generate

PROMPTS = ["How do I bake bread?", "怎样设置一个安全的密码？", "Hi", "Explain photosynthesis in two short sentences."]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    return model, tok


def test_order_restored_and_stats(tiny):
    model, tok = tiny
    gen = GenerationConfig(max_new_tokens=5, batch_size=4)
    stats = GenerationStats()
    out = generate(model, tok, PROMPTS, gen, stats=stats)
    rev = generate(model, tok, PROMPTS[::-1], gen)
    assert out == rev[::-1] and len(out) == 4
    assert stats.prompts == 4 and stats.batches == 1 and stats.new_tokens > 0 and stats.tokens_per_s > 0
    assert tok.padding_side == "left"


def test_adapter_disabled_matches_base(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model, tok = tiny
    gen = GenerationConfig(max_new_tokens=6, batch_size=2)
    base_out = generate(model, tok, PROMPTS, gen)
    fresh = AutoModelForCausalLM.from_pretrained(model.config._name_or_path).eval()
    peft = get_peft_model(fresh, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False)).eval()
    with adapter_disabled(peft):
        assert generate(peft, tok, PROMPTS, gen) == base_out
    with adapter_disabled(model):  # a plain model passes through unchanged
        assert generate(model, tok, PROMPTS, gen) == base_out


def test_seeded_sampling_is_reproducible(tiny):
    model, tok = tiny
    gen = GenerationConfig(max_new_tokens=6, do_sample=True, temperature=1.0, top_p=0.9, seed=7)
    assert generate(model, tok, PROMPTS[:2], gen) == generate(model, tok, PROMPTS[:2], gen)
