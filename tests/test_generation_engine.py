"""The generation engine (continuous batching, static slot KV cache) against HF generate, on CPU in float32."""

from __future__ import annotations

import pytest
import torch

from safetyalign.generation import GenerationEngine, Request
from safetyalign.generation.engine import buckets
from safetyalign.generation.sampling import next_tokens, uniforms


def _model(kind: str = "llama", lora: bool = False, seed: int = 0):
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    torch.manual_seed(seed)
    common = dict(vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=512, eos_token_id=100, pad_token_id=0)
    cfg = (Qwen2Config(rope_theta=1e4, tie_word_embeddings=False, **common) if kind == "qwen2"
           else LlamaConfig(tie_word_embeddings=True, **common))
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
    with torch.no_grad():  # larger weights than the init: peaked, well separated logits
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.15)
    if lora:
        import peft

        lcfg = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                                   "up_proj", "down_proj"], lora_dropout=0.0)
        model = peft.get_peft_model(model, lcfg).eval()
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.1)
    return model


def _prompts(n: int, seed: int = 1) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lens = torch.randint(3, 40, (n,), generator=g).tolist()
    return [torch.randint(1, 100, (k,), generator=g).tolist() for k in lens]


def _hf_greedy(model, prompt: list[int], new: int, **kw) -> list[int]:
    out = model.generate(input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                         do_sample=False, max_new_tokens=new, eos_token_id=None, pad_token_id=0,
                         temperature=None, top_p=None, top_k=None, **kw)
    return out[0, len(prompt):].tolist()


@pytest.mark.parametrize("kind,lora", [("llama", False), ("qwen2", True)])
def test_greedy_matches_hf_generate(kind: str, lora: bool) -> None:
    model = _model(kind, lora)
    prompts = _prompts(7)
    new = [24, 5, 40, 1, 17, 33, 9]  # different lengths: slots free and refill mid-run
    # 3 slots for 7 requests: continuous batching, compaction and several prefill groups are all exercised
    eng = GenerationEngine(model, use_adapter=True, lora="unmerged", max_slots=3, span_bucket=16,
                           prefill_tokens=64)
    got = eng.generate([Request(p, n) for p, n in zip(prompts, new)])
    assert eng.stats.prefills > 1 and eng.stats.decode_steps > 0
    assert eng.w.lora_mode == ("unmerged" if lora else "none")
    for p, n, g in zip(prompts, new, got):
        assert g == _hf_greedy(model, p, n)
    assert eng.stats.new_tokens == sum(new)


def test_merged_lora_and_base_pass_share_weights() -> None:
    model = _model("qwen2", lora=True)
    prompts = _prompts(4, seed=3)
    reqs = [Request(p, 12) for p in prompts]
    before = [p.detach().clone() for p in model.parameters()]
    merged = GenerationEngine(model, lora="merge").generate(reqs)
    unmerged = GenerationEngine(model, lora="unmerged").generate(reqs)
    assert merged == unmerged
    base = GenerationEngine(model, use_adapter=False).generate(reqs)
    with model.disable_adapter():
        assert base == [_hf_greedy(model, p, 12) for p in prompts]
    assert base != merged  # the adapter changes the answers
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the model is untouched


def test_repetition_penalty_matches_hf() -> None:
    model = _model("qwen2", seed=2)
    prompts = _prompts(5, seed=6)
    got = GenerationEngine(model, max_slots=2).generate([Request(p, 20) for p in prompts], repetition_penalty=1.3)
    plain = GenerationEngine(model, max_slots=2).generate([Request(p, 20) for p in prompts])
    assert got != plain
    assert got == [_hf_greedy(model, p, 20, repetition_penalty=1.3) for p in prompts]


def test_stop_token_ends_answer() -> None:
    model = _model()
    prompts = _prompts(5, seed=4)
    free = GenerationEngine(model).generate([Request(p, 20) for p in prompts])
    stop = free[0][3]  # a token the first answer produces: it must end that answer there, stop token included
    got = GenerationEngine(model).generate([Request(p, 20) for p in prompts], stop_ids=[stop])
    for f, g in zip(free, got):
        cut = f.index(stop) + 1 if stop in f else len(f)
        assert g == f[:cut]


def test_sampling_reproducible_and_batch_independent() -> None:
    model = _model("qwen2")
    prompts = _prompts(6, seed=5)
    reqs = [Request(p, 16, seed=100 + i) for i, p in enumerate(prompts)]
    kw = dict(do_sample=True, temperature=0.9, top_p=0.9)
    a = GenerationEngine(model, max_slots=6).generate(reqs, **kw)
    b = GenerationEngine(model, max_slots=2).generate(reqs, **kw)  # other batches and slots, same answers
    c = GenerationEngine(model, max_slots=6).generate(reqs[2:3], **kw)
    assert a == b and c[0] == a[2]
    other = GenerationEngine(model).generate([Request(p, 16, seed=7) for p in prompts], **kw)
    assert other != a
    greedy = GenerationEngine(model).generate(reqs)
    assert greedy != a


def test_sampler_distribution_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(4000, 1)
    seeds = torch.arange(4000)
    toks = next_tokens(logits, True, 1.0, 1.0, seeds, torch.zeros_like(seeds))
    freq = torch.bincount(toks, minlength=4).float() / 4000
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.15, 0.05]), atol=0.03)
    nucleus = next_tokens(logits, True, 1.0, 0.7, seeds, torch.zeros_like(seeds))
    assert set(nucleus.tolist()) == {0, 1}  # 0.5 + 0.3 reaches 0.7: tokens 2 and 3 are cut
    top2 = next_tokens(logits, True, 1.0, 1.0, seeds, torch.zeros_like(seeds), top_k=2)
    assert set(top2.tolist()) == {0, 1}
    u = uniforms(torch.tensor([1, 2]), torch.tensor([0, 0]), 1000)
    assert 0 < float(u.min()) and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.03


def test_buckets() -> None:
    assert buckets(256) == [1, 2, 4, 8, 16, 32, 64, 96, 128, 160, 192, 224, 256]
    assert buckets(3) == [1, 2, 3]


@pytest.mark.gpu
def test_cuda_graph_decode_matches_hf_generate_on_gpu() -> None:
    """On CUDA (float32, TF32 off): CUDA-graph decode with continuous batching is token-identical to HF generate."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    model = _model("qwen2", lora=True).cuda()
    prompts = _prompts(7)
    new = [24, 5, 40, 1, 17, 33, 9]
    eng = GenerationEngine(model, lora="merge", max_slots=3, span_bucket=16)
    got = eng.generate([Request(p, n) for p, n in zip(prompts, new)])
    assert eng.graphs_on and eng.stats.graphs > 0
    for p, n, g in zip(prompts, new, got):
        out = model.generate(input_ids=torch.tensor([p], device="cuda"), do_sample=False, max_new_tokens=n,
                             eos_token_id=None, pad_token_id=0, temperature=None, top_p=None, top_k=None)
        assert g == out[0, len(p):].tolist()
