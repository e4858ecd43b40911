"""The benchmark workload: Qwen2.5-7B-shaped random model, LoRA on all projections, synthetic preference pairs."""

from __future__ import annotations

from typing import Any

from safetyalign.fastdpo.model import attention_flops, model_flops_per_token

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
H100_BF16_PEAK = 989.4e12  # dense bf16 tensor-core peak of an H100 SXM, FLOP/s


def qwen_config(smoke: bool = False) -> Any:
    """Qwen2.5-7B-Instruct shapes, or a tiny Qwen2 for the CPU smoke run."""
    from transformers import Qwen2Config

    if smoke:
        return Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, vocab_size=512, rope_theta=1e6, max_position_embeddings=4096,
                           tie_word_embeddings=False)
    return Qwen2Config(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, rope_theta=1e6, max_position_embeddings=32768,
                       rms_norm_eps=1e-6, tie_word_embeddings=False, use_sliding_window=False)


def build_model(config: Any, device: str, dtype: Any, seed: int, lora_r: int = 16, lora_alpha: int = 32) -> Any:
    """Random-weight causal LM (seeded, built directly on ``device``) wrapped in a PEFT LoRA adapter."""
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.config.use_cache = False
    torch.manual_seed(seed + 1)
    lcfg = peft.LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules=PROJ,
                           task_type="CAUSAL_LM")
    return peft.get_peft_model(model, lcfg)


def weights_checksum(model: Any) -> float:
    """A cheap fingerprint of the weights (to show every method trained the same model)."""
    import torch

    with torch.no_grad():
        # slice before casting: a float32 copy of a whole 152064 x 3584 table would be 2 GiB of transient memory
        s = [p.detach().flatten()[:4096].float().sum() for _, p in sorted(model.named_parameters())]
        return float(torch.stack(s).sum())


def make_pairs(n_pairs: int, prompt_len: int, response_len: int, vocab: int, eos_id: int,
               seed: int) -> list[tuple[list[int], list[int], list[int]]]:
    """Random token pairs: each answer is ``response_len - 1`` random tokens plus EOS (as TRL appends it)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    hi = min(vocab, eos_id) if eos_id > 0 else vocab

    def ids(n: int) -> list[int]:
        return torch.randint(0, hi, (n,), generator=g).tolist()

    return [(ids(prompt_len), ids(response_len - 1) + [eos_id], ids(response_len - 1) + [eos_id])
            for _ in range(n_pairs)]


def step_flops(config: Any, n_pairs: int, seq_len: int) -> float:
    """Model FLOPs of one DPO step on the unpacked workload (2 sequences of ``seq_len`` per pair): reference forward
    + policy forward + policy backward to the inputs (frozen weights get no gradient); recompute not counted."""
    n_seq = 2 * n_pairs
    fwd = model_flops_per_token(config) * n_seq * seq_len + attention_flops(config, seq_len) * n_seq
    return 3.0 * fwd
