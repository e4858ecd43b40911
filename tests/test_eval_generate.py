"""Batched generation: original order kept, adapter disabled == base model, merged adapter == unmerged, seeded
sampling reproducible."""

from __future__ import annotations

import pytest

from safetyalign.eval.config import GenerationConfig
from safetyalign.eval.generate import GenerationStats, adapter_disabled, adapter_merged, generate

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


def test_adapter_merged_generates_like_unmerged_and_restores_base_weights(tiny, monkeypatch):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import safetyalign.eval.generate as g

    model, tok = tiny
    fresh = AutoModelForCausalLM.from_pretrained(model.config._name_or_path).eval()
    peft = get_peft_model(fresh, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"],
                                            init_lora_weights=False)).eval()
    before = {k: v.clone() for k, v in peft.state_dict().items()}
    ids = tok(PROMPTS[0], return_tensors="pt")
    with torch.no_grad():
        unmerged_logits = peft(**ids).logits
        with adapter_merged(peft) as merged:
            assert peft.base_model.model.model.layers[0].self_attn.q_proj.merged
            merged_logits = merged(**ids).logits
    assert torch.allclose(merged_logits, unmerged_logits, atol=1e-5)
    assert not peft.base_model.model.model.layers[0].self_attn.q_proj.merged
    after = peft.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit for bit, LoRA and base weights
    gen = GenerationConfig(max_new_tokens=6, batch_size=2)
    unmerged_out = generate(peft, tok, PROMPTS, gen)
    with adapter_merged(peft):
        assert generate(peft, tok, PROMPTS, gen) == unmerged_out
    monkeypatch.setattr(g, "MERGE_COPY_LIMIT", 0)  # too big to copy: runs unmerged
    with adapter_merged(peft):
        assert not peft.base_model.model.model.layers[0].self_attn.q_proj.merged
    with adapter_merged(model) as plain:  # a plain model passes through unchanged
        assert plain is model


def test_seeded_sampling_is_reproducible(tiny):
    model, tok = tiny
    gen = GenerationConfig(max_new_tokens=6, do_sample=True, temperature=1.0, top_p=0.9, seed=7)
    assert generate(model, tok, PROMPTS[:2], gen) == generate(model, tok, PROMPTS[:2], gen)


def test_engine_path_matches_hf_generate(tiny):
    """``engine: fast`` (the GPU default, here run on the CPU) answers like HF generate: base (adapter disabled),
    tuned unmerged and tuned merged; sampling is reproducible and independent of prompt order."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model, tok = tiny
    fresh = AutoModelForCausalLM.from_pretrained(model.config._name_or_path).eval()
    peft = get_peft_model(fresh, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"],
                                            init_lora_weights=False)).eval()
    hf, fast = GenerationConfig(max_new_tokens=8, engine="hf"), GenerationConfig(max_new_tokens=8, engine="fast")
    stats = GenerationStats()
    with adapter_disabled(peft):
        assert generate(peft, tok, PROMPTS, fast, stats=stats) == generate(peft, tok, PROMPTS, hf)
    assert stats.extra["engine"]["lora"] == "none" and stats.new_tokens > 0
    tuned = generate(peft, tok, PROMPTS, hf)
    assert generate(peft, tok, PROMPTS, fast) == tuned
    with adapter_merged(peft):
        assert generate(peft, tok, PROMPTS, fast) == tuned
    sample = GenerationConfig(max_new_tokens=8, engine="fast", do_sample=True, temperature=1.0, seed=3)
    a = generate(peft, tok, PROMPTS, sample)
    assert a == generate(peft, tok, PROMPTS[::-1], sample)[::-1]


def test_engine_choice(tiny):
    from safetyalign.errors import ConfigError
    from safetyalign.generation.evalhook import use_engine

    model, _ = tiny
    assert not use_engine(model, "auto")  # CPU: HF generate stays the default
    assert use_engine(model, "fast") and not use_engine(model, "hf")
    with pytest.raises(ConfigError, match="engine"):
        use_engine(model, "vllm")
    model.generation_config.no_repeat_ngram_size = 3
    try:
        with pytest.raises(ConfigError, match="no_repeat_ngram_size"):
            use_engine(model, "fast")
    finally:
        model.generation_config.no_repeat_ngram_size = 0
