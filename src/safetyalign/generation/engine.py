"""Continuous-batching generation engine over a slot-based static KV cache, with CUDA-graph decode per bucket.

A request owns a cache slot from its prefill to its last token; the slot is freed the moment the request stops
(stop token or its own ``max_new_tokens``), and waiting requests are prefilled into freed slots in groups, so short
answers never wait for long ones. Requests are admitted longest prompt first (similar widths share a prefill,
and the longest work starts earliest). Decode runs the slots ``0..B-1`` where ``B`` is the smallest bucket that
holds every busy slot (the busiest high slots are moved down when the batch shrinks), attending to the first ``T``
cache positions (``T`` a multiple of ``span_bucket``); on CUDA each ``(B, T)`` step is captured once as a CUDA
graph and replayed. Greedy or temperature/top-p sampling (:mod:`safetyalign.generation.sampling`).
"""

from __future__ import annotations

import bisect
import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from safetyalign.generation.forward import KVCache, decode, prefill
from safetyalign.generation.sampling import next_tokens
from safetyalign.generation.weights import DecoderWeights, read_weights


@dataclass
class Request:
    """One prompt (token ids) and its own limits."""

    prompt: list[int]
    max_new_tokens: int
    seed: int = 0


@dataclass
class EngineStats:
    """What one :meth:`GenerationEngine.generate` call did."""

    requests: int = 0
    new_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    tokens_per_s: float = 0.0
    decode_steps: int = 0
    prefills: int = 0
    moves: int = 0
    graphs: int = 0
    capture_seconds: float = 0.0
    kv_bytes: int = 0
    lora: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def buckets(limit: int) -> list[int]:
    """Batch buckets: 1, 2, 4, ..., 32, then steps of 32, up to and including ``limit``."""
    out = [b for b in (1, 2, 4, 8, 16, 32) if b < limit] + list(range(64, limit, 32))
    return sorted(set(out + [limit]))


class GenerationEngine:
    """Generates from ``model`` (transformers Llama/Qwen2/Qwen3/Mistral, optionally a PEFT model).

    ``use_adapter`` picks the tuned (LoRA applied: ``lora`` = ``merge`` | ``unmerged`` | ``auto``) or the base
    weights; both read the model's one copy of the base weights. ``max_slots`` bounds the batch (default: as many
    as fit in 40% of the free GPU memory, at most 512);
    ``cuda_graphs`` (default: on CUDA) captures decode steps; ``prefill_tokens`` bounds a prefill group's padded
    size; ``admit_fraction`` of the slots must be free before a new group is prefilled (unless nothing runs)."""

    def __init__(self, model: torch.nn.Module, use_adapter: bool = True, lora: str = "auto",
                 max_slots: int | None = None, cuda_graphs: bool | None = None, prefill_tokens: int = 16384,
                 span_bucket: int = 128, admit_fraction: float = 0.125) -> None:
        self.w: DecoderWeights = read_weights(model, lora=lora, use_adapter=use_adapter)
        self.max_slots, self.prefill_tokens, self.span_bucket = max_slots, prefill_tokens, span_bucket
        self.admit_fraction = admit_fraction
        self.graphs_on = self.w.device.type == "cuda" if cuda_graphs is None else cuda_graphs
        self.graphs: dict[tuple[int, int], tuple[Any, torch.Tensor]] = {}
        self.pool = None
        self.cache: KVCache | None = None

    def _auto_slots(self, max_len: int, limit: int = 512, fraction: float = 0.4) -> int:
        """Slots whose KV cache (plus a logits row each) fits in ``fraction`` of the free GPU memory, at most
        ``limit`` (256 on the CPU)."""
        w = self.w
        if w.device.type != "cuda":
            return 256
        per_slot = 2 * len(w.layers) * w.n_kv * max_len * w.head_dim * w.embed.element_size() + 8 * w.vocab_size
        free, _ = torch.cuda.mem_get_info(w.device)
        return max(1, min(limit, int(fraction * free // per_slot)))

    # ---- decode step (eager or CUDA graph) -------------------------------------------------------------------
    def _step(self, b: int, span: int) -> torch.Tensor:
        if not self.graphs_on:
            return decode(self.w, self.cache, self.tok[:b], self.pos[:b], span)
        key = (b, span)
        if key not in self.graphs:
            t0 = time.perf_counter()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):  # warm-up run (same inputs the replay will see: writes the same K/V)
                decode(self.w, self.cache, self.tok[:b], self.pos[:b], span)
            torch.cuda.current_stream().wait_stream(stream)
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                out = decode(self.w, self.cache, self.tok[:b], self.pos[:b], span)
            self.graphs[key] = (graph, out)
            self.stats.graphs += 1
            self.stats.capture_seconds += time.perf_counter() - t0
        graph, out = self.graphs[key]
        graph.replay()
        return out

    def _setup(self, requests: list[Request]) -> None:
        n = len(requests)
        need = max(len(r.prompt) + r.max_new_tokens for r in requests)
        max_len = -(-need // self.span_bucket) * self.span_bucket
        if self.w.window and need > self.w.window:
            raise ValueError(f"generation engine: prompt + answer of {need} tokens exceeds the model's sliding "
                             f"window of {self.w.window} (not implemented); use eval.generation.engine: hf")
        slots = min(self.max_slots or self._auto_slots(max_len), n)
        if self.cache is None or self.cache.slots < slots or self.cache.max_len < max_len:
            self.graphs.clear()
            self.cache = None
            self.cache = KVCache(self.w, slots, max_len)
            dev = self.w.device
            self.tok, self.pos = (torch.zeros(slots, dtype=torch.long, device=dev) for _ in range(2))
            self.seed, self.step = (torch.zeros(slots, dtype=torch.long, device=dev) for _ in range(2))
            self.live = torch.zeros(slots, dtype=torch.long, device=dev)  # 1 for busy slots
        self.stats.kv_bytes = self.cache.nbytes
        self.buckets = buckets(self.cache.slots)

    @torch.inference_mode()
    def generate(self, requests: list[Request], stop_ids: list[int] | tuple[int, ...] = (), do_sample: bool = False,
                 temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0, repetition_penalty: float = 1.0,
                 on_finish: Callable[[list[int], list[list[int]]], None] | None = None) -> list[list[int]]:
        """New token ids per request (original order; a stop token ends and is included in its answer).
        ``top_k``/``repetition_penalty`` as in transformers (the penalty also applies when greedy).
        ``on_finish(indices, answers)`` is called as requests finish."""
        self.stats = EngineStats(requests=len(requests), lora=self.w.lora_mode)
        if not requests:
            return []
        t0 = time.perf_counter()
        self._setup(requests)
        self.sample = {"do_sample": do_sample, "temperature": temperature, "top_p": top_p, "top_k": top_k,
                       "penalty": repetition_penalty}
        self.seen = (torch.zeros(self.cache.slots, self.w.vocab_size, dtype=torch.bool, device=self.w.device)
                     if repetition_penalty != 1.0 else None)
        self.stop = set(stop_ids)
        self.requests, self.out = requests, [[] for _ in requests]
        self.queue = deque(sorted(range(len(requests)), key=lambda i: -len(requests[i].prompt)))
        self.free = list(range(self.cache.slots))
        self.owner = [-1] * self.cache.slots  # request index per slot
        self.at = [0] * self.cache.slots  # position of the slot's next input token
        self.on_finish = on_finish
        while self.queue or self.busy():
            if self.queue and self.free and (len(self.free) >= self.admit_fraction * self.cache.slots
                                             or not self.busy() or len(self.queue) <= len(self.free)):
                self._admit()
            if self.busy():
                self._decode_once()
        if self.w.device.type == "cuda":
            torch.cuda.synchronize(self.w.device)
        st = self.stats
        st.seconds = time.perf_counter() - t0
        st.new_tokens = sum(map(len, self.out))
        st.prompt_tokens = sum(len(r.prompt) for r in requests)
        st.tokens_per_s = st.new_tokens / st.seconds if st.seconds else 0.0
        return self.out

    def busy(self) -> bool:
        return len(self.free) < self.cache.slots

    def _admit(self) -> None:
        group: list[int] = []
        width = 0
        while self.queue and len(group) < len(self.free):
            w = max(width, len(self.requests[self.queue[0]].prompt))
            if group and (len(group) + 1) * w > self.prefill_tokens:
                break
            group.append(self.queue.popleft())
            width = w
        slots = [heapq.heappop(self.free) for _ in group]
        dev = self.w.device
        ids = torch.zeros(len(group), width, dtype=torch.long)
        for row, r in enumerate(group):
            p = self.requests[r].prompt
            ids[row, :len(p)] = torch.tensor(p)
        lengths = torch.tensor([len(self.requests[r].prompt) for r in group], device=dev)
        slot_t = torch.tensor(slots, device=dev)
        logits = prefill(self.w, self.cache, ids.to(dev), lengths, slot_t)
        seeds = torch.tensor([self.requests[r].seed for r in group], device=dev)
        if self.seen is not None:
            self.seen[slot_t] = False
            rows = torch.cat([torch.full((len(self.requests[r].prompt),), i) for i, r in enumerate(group)])
            flat = torch.cat([torch.tensor(self.requests[r].prompt) for r in group])
            self.seen[slot_t[rows.to(dev)], flat.to(dev)] = True
        toks = next_tokens(logits, seeds=seeds, steps=torch.zeros_like(seeds),
                           seen=None if self.seen is None else self.seen[slot_t], **self.sample)
        if self.seen is not None:
            self.seen[slot_t, toks] = True
        self.tok[slot_t], self.pos[slot_t] = toks, lengths
        self.seed[slot_t], self.step[slot_t] = seeds, torch.ones_like(seeds)
        self.live[slot_t] = 1
        for s, r in zip(slots, group):
            self.owner[s], self.at[s] = r, len(self.requests[r].prompt)
        self.stats.prefills += 1
        self._record(dict(zip(slots, toks.tolist())))

    def _record(self, toks: dict[int, int]) -> None:
        """Append each busy slot's new token; free the slots whose request stopped."""
        done, freed = [], []
        for s, t in toks.items():
            r = self.owner[s]
            self.out[r].append(t)
            if t in self.stop or len(self.out[r]) >= self.requests[r].max_new_tokens:
                done.append(r)
                freed.append(s)
                self.owner[s] = -1
                heapq.heappush(self.free, s)
        if freed:
            idle = torch.tensor(freed, device=self.w.device)
            self.pos[idle], self.live[idle] = 0, 0  # idle slots write (garbage) at position 0 only
        if done and self.on_finish:
            self.on_finish(done, [self.out[r] for r in done])

    def _compact(self) -> None:
        """Move the highest busy slots down into free low slots while that lets the batch use a smaller bucket."""
        n_busy = self.cache.slots - len(self.free)
        target = self.buckets[bisect.bisect_left(self.buckets, n_busy)]
        busy = sorted((s for s in range(self.cache.slots) if self.owner[s] >= 0), reverse=True)
        moves = []
        for s in busy:
            if s < target or not self.free or self.free[0] >= s:
                break
            d = heapq.heappop(self.free)
            self.cache.move(s, d, self.at[s])
            self.owner[d], self.at[d], self.owner[s] = self.owner[s], self.at[s], -1
            heapq.heappush(self.free, s)
            moves.append((s, d))
        if moves:
            dev = self.w.device
            src = torch.tensor([m[0] for m in moves], device=dev)
            dst = torch.tensor([m[1] for m in moves], device=dev)
            for buf in (self.tok, self.pos, self.seed, self.step, self.live) + ((self.seen,) if self.seen is not None
                                                                                 else ()):
                buf[dst] = buf[src]
            self.pos[src], self.live[src] = 0, 0
            self.stats.moves += len(moves)

    def _decode_once(self) -> None:
        self._compact()
        hi = max(s for s in range(self.cache.slots) if self.owner[s] >= 0) + 1
        b = self.buckets[bisect.bisect_left(self.buckets, hi)]
        reach = max(self.at[s] for s in range(b) if self.owner[s] >= 0) + 1
        span = min(-(-reach // self.span_bucket) * self.span_bucket, self.cache.max_len)
        logits = self._step(b, span)
        seen = None if self.seen is None else self.seen[:b]
        toks = next_tokens(logits, seeds=self.seed[:b], steps=self.step[:b], seen=seen, **self.sample)
        if seen is not None:
            seen[torch.arange(b, device=toks.device), toks] = True  # idle rows: reset when their slot is reused
        self.tok[:b] = toks
        self.pos[:b] += self.live[:b]
        self.step[:b] += self.live[:b]
        self.stats.decode_steps += 1
        host = toks.tolist()
        busy = [s for s in range(b) if self.owner[s] >= 0]
        for s in busy:
            self.at[s] += 1
        self._record({s: host[s] for s in busy})
