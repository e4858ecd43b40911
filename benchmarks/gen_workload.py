"""Pieces of benchmarks/bench_generate.py: the HF baselines, the correctness checks and the results table."""

from __future__ import annotations

import random
import statistics
import time
from typing import Any


def cuda_mem(peak: bool = False) -> int:
    import torch

    if not torch.cuda.is_available():
        return 0
    return torch.cuda.max_memory_allocated() if peak else torch.cuda.memory_allocated()


def reset_peak() -> int:
    """Reset the peak-memory counter; returns the bytes allocated now (the baseline of a method's peak)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return cuda_mem()


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _force_eos(targets: list[int], eos: int):
    """A logits processor that makes row i emit EOS as its ``targets[i]``-th new token (emulated answer lengths)."""
    import torch
    from transformers import LogitsProcessor

    class ForceEOS(LogitsProcessor):
        def __init__(self) -> None:
            self.start: int | None = None
            self.t: torch.Tensor | None = None

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if self.start is None:
                self.start, self.t = input_ids.shape[1], torch.tensor(targets, device=scores.device)
            hit = self.t - 1 == input_ids.shape[1] - self.start
            forced = torch.full_like(scores, float("-inf"))
            forced[:, eos] = 0
            return torch.where(hit[:, None], forced, scores)

    return ForceEOS()


def _new_tokens(new: Any, eos: int) -> int:
    """Tokens per row up to and including the first EOS (all of them when none)."""
    import torch

    is_eos = (new == eos).int()
    first = torch.where(is_eos.any(1), is_eos.argmax(1) + 1, torch.full_like(is_eos[:, 0], new.shape[1]))
    return int(first.sum())


def hf_generate(model: Any, prompts: list[list[int]], answers: list[int], eos: int, bs: int, budget: float,
                static: bool, cuda: bool, seed: int) -> dict:
    """HF ``generate`` over batches of ``bs`` prompts sorted by length (left padding), batches taken in a random
    order until ``budget`` seconds of timed work (after the first batch, reported apart: warm-up or compile).
    ``static``: static cache + compiled decode, every prompt padded to the longest of the workload (one shape)."""
    import torch
    from transformers import LogitsProcessorList

    by_len = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    batches = [by_len[s:s + bs] for s in range(0, len(by_len), bs)]
    if static:
        batches = [b for b in batches if len(b) == bs]  # a smaller last batch would be one more compile
    random.Random(seed).shuffle(batches)
    width_all = max(map(len, prompts))
    dev = next(model.parameters()).device
    kw: dict[str, Any] = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None, "pad_token_id": 0,
                          "eos_token_id": eos}
    if static:
        kw["cache_implementation"] = "static"
        if cuda:
            from transformers import CompileConfig

            kw["compile_config"] = CompileConfig(fullgraph=True, mode="reduce-overhead")
    times, toks, reqs, first = [], 0, 0, None
    base = reset_peak()
    for batch in batches:
        width = width_all if static else max(len(prompts[i]) for i in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        att = torch.zeros_like(ids)
        for r, i in enumerate(batch):
            ids[r, width - len(prompts[i]):] = torch.tensor(prompts[i])
            att[r, width - len(prompts[i]):] = 1
        targets = [answers[i] for i in batch]
        new_max = max(answers) if static else max(targets)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(dev), attention_mask=att.to(dev), max_new_tokens=new_max,
                                 logits_processor=LogitsProcessorList([_force_eos(targets, eos)]), **kw)
        _sync()
        dt = time.perf_counter() - t0
        n = _new_tokens(out[:, width:], eos)
        if first is None:
            first = {"seconds": dt, "tokens": n}
        else:
            times.append(dt)
            toks += n
            reqs += len(batch)
        print(f"hf {'static' if static else 'dynamic'} batch: {n} tokens in {dt:.1f}s", flush=True)
        if sum(times) > budget:
            break
    tps = toks / sum(times) if times else 0.0
    steady = statistics.median(times) if times else 0.0
    total = sum(answers)
    res = {"batch_size": bs, "batches_timed": len(times), "requests_timed": reqs, "new_tokens": toks,
           "seconds": sum(times), "tokens_per_s": tps, "first_batch": first,
           "compile_seconds": max(0.0, first["seconds"] - steady) if (static and times) else None,
           "suite_seconds_implied": total / tps if tps else None, "peak_gib": (cuda_mem(peak=True) - base) / 2**30}
    if static:
        cfg = model.config
        hd = cfg.hidden_size // cfg.num_attention_heads
        res["kv_gib"] = (2 * cfg.num_hidden_layers * bs * (width_all + max(answers)) * cfg.num_key_value_heads * hd
                         * next(model.parameters()).element_size()) / 2**30
    return res


def hf_cb(model: Any, prompts: list[list[int]], answers: list[int], cuda: bool) -> dict:
    """HF continuous batching (paged SDPA; CUDA graphs on CUDA) over ``prompts`` with per-request answer lengths."""
    from transformers import ContinuousBatchingConfig, GenerationConfig

    try:
        from transformers.generation.continuous_batching.utils import WorkloadHints

        hints = {"workload_hints": WorkloadHints(max_prompt_length=max(map(len, prompts)),
                                                 max_generated_length=max(answers), num_requests=len(prompts))}
    except ImportError:
        hints = {}
    gc = GenerationConfig(do_sample=False, max_new_tokens=max(answers), eos_token_id=-1, pad_token_id=0)
    cbc = ContinuousBatchingConfig(use_cuda_graph=True) if cuda else ContinuousBatchingConfig()
    base = reset_peak()
    t0 = time.perf_counter()
    done, toks, t1 = 0, 0, None
    with model.continuous_batching_context_manager(generation_config=gc, continuous_batching_config=cbc,
                                                   block=True, timeout=30, **hints) as m:
        warm = time.perf_counter() - t0
        t1 = time.perf_counter()
        for i, (p, a) in enumerate(zip(prompts, answers)):
            m.add_request(p, request_id=f"r{i}", max_new_tokens=a)
        while done < len(prompts):
            r = m.get_result(timeout=1)
            if r is not None and r.is_finished():
                done += 1
                toks += len(r.generated_tokens)
            elif r is None and not m.is_running():
                break
        _sync()
        dt = time.perf_counter() - t1
    tps = toks / dt if dt else 0.0
    return {"requests": len(prompts), "finished": done, "new_tokens": toks, "expected_tokens": sum(answers),
            "seconds": dt, "tokens_per_s": tps, "warmup_seconds": warm, "cuda_graphs": cuda,
            "peak_gib": (cuda_mem(peak=True) - base) / 2**30}


def _hf_greedy(model: Any, prompts: list[list[int]], steps: int) -> tuple[list[list[int]], list[Any]]:
    """HF greedy answers (batch 1 each, no EOS) and their raw logits ``[steps, vocab]`` per prompt."""
    import torch

    dev = next(model.parameters()).device
    toks, logits = [], []
    for p in prompts:
        with torch.inference_mode():
            out = model.generate(input_ids=torch.tensor([p], device=dev), attention_mask=torch.ones(1, len(p),
                                 dtype=torch.long, device=dev), do_sample=False, max_new_tokens=steps,
                                 min_new_tokens=steps, eos_token_id=None, pad_token_id=0, temperature=None,
                                 top_p=None, top_k=None, output_logits=True, return_dict_in_generate=True)
        toks.append(out.sequences[0, len(p):].tolist())
        logits.append(torch.stack([x[0].float() for x in out.logits]))
    return toks, logits


def teacher_force(w: Any, prompts: list[list[int]], tokens: list[list[int]]) -> list[Any]:
    """Engine log-probs ``[steps, vocab]`` per prompt with the given answer tokens fed back (prefill + decode)."""
    import torch

    from safetyalign.generation.forward import KVCache, decode, prefill

    n, steps = len(prompts), len(tokens[0])
    width = max(map(len, prompts))
    cache = KVCache(w, n, width + steps + 1)
    ids = torch.zeros(n, width, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, :len(p)] = torch.tensor(p)
    dev = w.device
    lengths = torch.tensor([len(p) for p in prompts], device=dev)
    with torch.inference_mode():
        lps = [prefill(w, cache, ids.to(dev), lengths, torch.arange(n, device=dev)).float().log_softmax(-1)]
        forced = torch.tensor(tokens, device=dev)
        pos = lengths.clone()
        for j in range(steps - 1):
            lps.append(decode(w, cache, forced[:, j], pos, cache.max_len).float().log_softmax(-1))
            pos += 1
    stacked = torch.stack(lps, 1)  # [n, steps, vocab]
    return [stacked[i] for i in range(n)]


def compare_teacher_forced(w: Any, model: Any, prompts: list[list[int]], steps: int, hf: tuple | None = None) -> dict:
    """Max |log p_engine - log p_HF| of HF's greedy token, per step over prompts; argmax agreement."""
    toks, hf_logits = hf if hf is not None else _hf_greedy(model, prompts, steps)
    eng = teacher_force(w, prompts, toks)
    import torch

    dev = next(model.parameters()).device
    per_step, agree, hf_self = [], 0, []
    for i, p in enumerate(prompts):  # HF against itself: one forward over prompt + answer vs its step-by-step logits
        with torch.inference_mode():
            full = model(input_ids=torch.tensor([p + toks[i]], device=dev)).logits[0, len(p) - 1:-1].float()
        lp = full.log_softmax(-1)
        hf_self.append(max(abs(float(lp[j, toks[i][j]]) - float(hf_logits[i][j].log_softmax(-1)[toks[i][j]]))
                           for j in range(steps)))
    for j in range(steps):
        d = 0.0
        for i in range(len(prompts)):
            t = toks[i][j]
            d = max(d, abs(float(eng[i][j, t]) - float(hf_logits[i][j].log_softmax(-1)[t])))
            agree += int(eng[i][j].argmax()) == t
        per_step.append(d)
    return {"steps": steps, "prompts": len(prompts), "max_logprob_diff_per_step": per_step,
            "max_logprob_diff": max(per_step), "argmax_agreement": agree / (steps * len(prompts)),
            "hf_full_forward_vs_hf_generate_max_diff": max(hf_self),
            "hf_tokens": toks}


def teacher_force_check(model: Any, prompts: list[list[int]], steps: int) -> dict:
    """The tuned model (LoRA merged by the engine as in the benchmark) vs HF's PEFT forward, teacher-forced."""
    from safetyalign.generation.weights import read_weights

    w = read_weights(model, lora="auto")
    res = compare_teacher_forced(w, model, [p[:256] for p in prompts], steps)
    res["lora"] = w.lora_mode
    return res


def smollm_check(smoke: bool, steps: int = 64) -> dict:
    """SmolLM2-135M shape (random weights, float32, LoRA r=8 on 7 projections): greedy token identity of the engine
    (CUDA graphs on CUDA, 3 slots for 4 requests) vs HF ``generate`` for base and tuned, and the teacher-forced
    log-prob difference."""
    import peft
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from safetyalign.generation import GenerationEngine, Request
    from safetyalign.generation.weights import read_weights

    cuda = torch.cuda.is_available() and not smoke
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = LlamaConfig(vocab_size=1000 if smoke else 49152, hidden_size=576, intermediate_size=1536,
                      num_hidden_layers=2 if smoke else 30, num_attention_heads=9, num_key_value_heads=3,
                      rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=8192)
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = LlamaForCausalLM(cfg).eval()
    lcfg = peft.LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = peft.get_peft_model(model, lcfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    rng = random.Random(1)
    prompts = [[rng.randrange(cfg.vocab_size) for _ in range(rng.randint(20, 120))] for _ in range(4)]
    out: dict[str, Any] = {"shape": "SmolLM2-135M (random weights, float32)", "steps": steps, "prompts": len(prompts)}
    tuned_ref, tuned_logits = _hf_greedy(model, prompts, steps)
    with model.disable_adapter():
        base_ref, _ = _hf_greedy(model, prompts, steps)
    for name, use_adapter, lora in (("tuned_unmerged", True, "unmerged"), ("tuned_merged", True, "merge"),
                                    ("base", False, "auto")):
        ref = tuned_ref if use_adapter else base_ref
        eng = GenerationEngine(model, use_adapter=use_adapter, lora=lora, max_slots=3, cuda_graphs=cuda)
        got = eng.generate([Request(p, steps) for p in prompts])
        first_diff = [next((j for j, (a, b) in enumerate(zip(g, r)) if a != b), None) for g, r in zip(got, ref)]
        out[name] = {"identical": sum(g == r for g, r in zip(got, ref)), "first_difference": first_diff,
                     "graphs": eng.stats.graphs, "lora": eng.w.lora_mode}
    out["teacher_forced_tuned"] = compare_teacher_forced(read_weights(model, lora="unmerged"), model, prompts, steps,
                                                         (tuned_ref, tuned_logits))
    out["teacher_forced_tuned"].pop("hf_tokens")
    torch.backends.cuda.matmul.allow_tf32 = True
    del model
    if cuda:
        torch.cuda.empty_cache()
    return out


def _row(name: str, tps: float | None, suite: float | None, compile_s: float | None, peak: float | None,
         kv: float | None, note: str) -> str:
    def f(x: float | None, fmt: str) -> str:
        return "–" if x is None else format(x, fmt)

    return (f"| {name} | {f(tps, ',.0f')} | {f(suite, '.1f')} | {f(compile_s, '.1f')} | {f(peak, '.1f')} | "
            f"{f(kv, '.1f')} | {note} |")


def markdown(meta: dict, results: dict) -> str:
    """The results table (and correctness lines) for benchmarks/README.md."""
    wl = meta.get("workload", {})
    lines = [f"{meta['date']}, {meta['device']}, torch {meta['torch']}, transformers {meta['transformers']}; "
             f"{meta['requests']} requests, {wl.get('prompt_tokens')} prompt + {wl.get('answer_tokens')} answer "
             "tokens", "",
             "| method | new tok/s | time to finish the suite (s) | compile / capture (s) | peak GiB over weights "
             "| KV GiB | notes |", "|---|---|---|---|---|---|---|"]
    for k, r in results.items():
        if "error" in r:
            lines.append(f"| {k} | error | | | | | {r['error'][:120]} |")
        elif k.startswith("engine"):
            last = r["runs"][-1]
            first = r["runs"][0]
            lines.append(_row(f"engine ({r['slots']} slots{', sampling' if r['sample'] else ''})",
                              last["tokens_per_s"], last["seconds"], first["capture_seconds"],
                              r["peak_gib_over_model"], r["kv_gib"],
                              f"measured on all requests; first run {first['seconds']:.1f}s incl. capture; "
                              f"LoRA {r['lora']}"))
        elif k == "hf_cb":
            lines.append(_row("HF continuous batching + CUDA graphs", r["tokens_per_s"],
                              wl.get("answer_tokens", 0) / r["tokens_per_s"] if r["tokens_per_s"] else None,
                              r["warmup_seconds"], r["peak_gib"], None,
                              f"measured on {r['finished']} of {meta['requests']} requests; suite time implied"))
        elif k in ("hf_static", "hf_generate"):
            name = "HF generate static cache + compile" if k == "hf_static" else "HF generate (dynamic cache)"
            lines.append(_row(name + ", batches of 32", r["tokens_per_s"], r["suite_seconds_implied"],
                              r["compile_seconds"], r["peak_gib"], r.get("kv_gib"),
                              f"measured on {r['requests_timed']} requests ({r['batches_timed']} batches); "
                              "suite time implied"))
    for k in ("check_smollm_fp32", "check_7b_teacher_forced"):
        r = results.get(k)
        if r and "error" not in r:
            if k == "check_smollm_fp32":
                ids = ", ".join(f"{n}: {r[n]['identical']}/{r['prompts']}" for n in ("tuned_unmerged", "tuned_merged",
                                                                                    "base"))
                lines.append(f"\nGreedy identity vs HF generate, {r['shape']}, {r['steps']} tokens: {ids}; "
                             f"teacher-forced max |Δ log p| {r['teacher_forced_tuned']['max_logprob_diff']:.2e}")
            else:
                lines.append(f"\n7B shape bf16, HF greedy tokens teacher-forced through the engine ({r['prompts']} "
                             f"prompts x {r['steps']} steps, LoRA {r['lora']}): max |Δ log p| "
                             f"{r['max_logprob_diff']:.3f}, argmax agreement {r['argmax_agreement']:.3f}; HF against "
                             f"itself (one forward over prompt + answer vs its generate logits): max |Δ log p| "
                             f"{r['hf_full_forward_vs_hf_generate_max_diff']:.3f}")
        elif r:
            lines.append(f"\n{k}: error {r['error'][:200]}")
    return "\n".join(lines) + "\n"
