"""Packing preference pairs for the prefix-cache backend.

Each pair becomes ``[prompt, chosen, rejected]``: the rejected answer sees the prompt but not the chosen one and
restarts its positions after the prompt, so the prompt is computed once for both answers. The token prefix that
(nearly) every prompt starts with (chat template + system prompt: 14 of SmolLM2's ~70 tokens per quickstart pair)
is cut off and stored once; a micro-batch is laid out as rows ``[shared prefix, pair 1, pair 2, ...]`` of at most
``max_row_tokens`` tokens, where each pair sees the shared prefix and itself only: no padding inside a row and no
prefix computed twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch

SEG_PROMPT, SEG_CHOSEN, SEG_REJECTED = 0, 1, 2
SHARED, PAD = -1, -2  # owner of shared-prefix and padding tokens (pairs own 0, 1, ...)
MAX_ROW_TOKENS = 1024


@dataclass
class EncodedPair:
    """Token ids of one preference pair: prompt tokens followed by each response's tokens."""

    chosen_ids: list[int]
    rejected_ids: list[int]
    chosen_start: int  # index of the first response token in chosen_ids
    rejected_start: int


@dataclass
class SharedPrefix:
    """The token prefix (nearly) every prompt starts with (computed once per row) and its bottom-layer activations."""

    ids: torch.Tensor  # (S,)
    hidden: torch.Tensor | None = None  # (S, H), set by build_cache


def shared_prefix(pairs: list[EncodedPair], min_share: float = 0.9) -> tuple[list[int], list[bool]]:
    """The longest token prefix that at least ``min_share`` of all prompts start with (each keeping at least one
    token of its own), and which pairs use it. The others (e.g. prompts truncated from the left) stay whole."""
    prompts = [p.chosen_ids[: p.chosen_start] for p in pairs]
    members, prefix = list(range(len(prompts))), []
    while members:
        k = len(prefix)
        counts = Counter(prompts[i][k] for i in members if len(prompts[i]) > k + 1)
        tok, n = counts.most_common(1)[0] if counts else (None, 0)
        if n < min_share * len(prompts):
            break
        members = [i for i in members if len(prompts[i]) > k + 1 and prompts[i][k] == tok]
        prefix.append(tok)
    users = set(members) if prefix else set()
    return prefix, [i in users for i in range(len(prompts))]


def pack_pair(pair: EncodedPair, skip: int = 0) -> dict[str, torch.Tensor]:
    """Token ids, positions, segments and (source, target, group) triples of one pair packed as
    ``[prompt[skip:], chosen, rejected]`` (``skip`` > 0: the first ``skip`` prompt tokens are the shared prefix,
    which this pair will see)."""
    p = pair.chosen_start
    if pair.rejected_start != p or pair.chosen_ids[:p] != pair.rejected_ids[:p]:
        raise ValueError("prefix_cache packs chosen and rejected after one shared prompt; their prompts differ")
    prompt, chosen, rejected = pair.chosen_ids[skip:p], pair.chosen_ids[p:], pair.rejected_ids[p:]
    if not prompt or not chosen or not rejected:
        raise ValueError("prompt (after the shared prefix), chosen and rejected need at least one token each")
    q, c, r = len(prompt), len(chosen), len(rejected)
    src = [q - 1, *range(q, q + c - 1), q - 1, *range(q + c, q + c + r - 1)]
    return {"ids": torch.tensor(prompt + chosen + rejected),
            "positions": torch.tensor([*range(skip, p + c), *range(p, p + r)]),
            "segments": torch.tensor([SEG_PROMPT] * q + [SEG_CHOSEN] * c + [SEG_REJECTED] * r),
            "src": torch.tensor(src), "targets": torch.tensor(chosen + rejected),
            "groups": torch.tensor([0] * c + [1] * r), "sees_prefix": torch.tensor(skip > 0)}


def encode_pair(tokenizer: Any, prompt_text: str, chosen_text: str, rejected_text: str, max_prompt_tokens: int,
                max_response_tokens: int) -> EncodedPair:
    """Tokenize rendered prompt/responses; the prompt keeps its end, responses keep their start."""
    p = tokenizer(prompt_text, add_special_tokens=False)["input_ids"][-max_prompt_tokens:]
    c = tokenizer(chosen_text, add_special_tokens=False)["input_ids"][:max_response_tokens]
    r = tokenizer(rejected_text, add_special_tokens=False)["input_ids"][:max_response_tokens]
    return EncodedPair(p + c, p + r, len(p), len(p))


def _pad(seqs: list[torch.Tensor], value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a list of (T, ...) tensors; returns (padded, bool validity mask)."""
    n, t = len(seqs), max(s.shape[0] for s in seqs)
    out = seqs[0].new_full((n, t, *seqs[0].shape[1:]), value)
    valid = torch.zeros(n, t, dtype=torch.bool)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
        valid[i, : s.shape[0]] = True
    return out, valid


def plan_rows(lengths: list[int], prefix_len: int, max_row_tokens: int = MAX_ROW_TOKENS) -> list[list[int]]:
    """Group items (in order) into rows ``[shared prefix, item, item, ...]`` of at most ``max_row_tokens`` tokens
    (an item longer than that gets a row of its own)."""
    rows: list[list[int]] = []
    used = prefix_len
    for i, n in enumerate(lengths):
        if not rows or used + n > max_row_tokens:
            rows.append([])
            used = prefix_len
        rows[-1].append(i)
        used += n
    return rows


def packed_mask(segments: torch.Tensor, owners: torch.Tensor, sees_prefix: torch.Tensor, attn_impl: str | None,
                dtype: torch.dtype) -> torch.Tensor:
    """4-D attention mask ``(B, 1, T, T)`` of packed rows: causal; a pair sees the shared prefix (if it uses it) and
    its own prompt, and each answer sees itself but not the other answer nor other pairs.

    Boolean (True = attend) for SDPA-style kernels, additive float for ``eager``; padding rows attend to themselves
    so that no row is fully masked.
    """
    t = segments.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    seg_q, seg_k = segments[:, :, None], segments[:, None, :]
    own_q, own_k = owners[:, :, None], owners[:, None, :]
    valid = owners != PAD
    same_pair = (own_k == own_q) & ((seg_k == SEG_PROMPT) | (seg_k == seg_q))
    shared = (own_k == SHARED) & sees_prefix[:, :, None]
    allowed = causal & (shared | same_pair) & valid[:, None, :] & valid[:, :, None]
    allowed |= torch.eye(t, dtype=torch.bool) & ~valid[:, :, None]
    allowed = allowed[:, None]
    if attn_impl == "eager":
        return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return allowed


@dataclass
class PackedBatch:
    """Rows ``[shared prefix, pair, pair, ...]``, right-padded, ready for the decoder."""

    ids: torch.Tensor
    positions: torch.Tensor
    mask: torch.Tensor
    src: tuple[torch.Tensor, torch.Tensor]  # (row, column) of each predicting position
    targets: torch.Tensor
    groups: torch.Tensor  # 2 * pair index + (0 chosen | 1 rejected)
    n_pairs: int
    n_tokens: int
    rows: list[list[int]]  # item indices of each row, in order
    spans: list[tuple[int, int, int]]  # (row, start, length) of each item


def collate(items: list[dict[str, torch.Tensor]], prefix: SharedPrefix, attn_impl: str | None = None,
            dtype: torch.dtype = torch.float32, device: Any = "cpu",
            max_row_tokens: int = MAX_ROW_TOKENS) -> PackedBatch:
    """Lay out packed pairs (dicts from :func:`pack_pair` or :class:`CachedPair` fields) in rows after the shared
    prefix."""
    s = prefix.ids.shape[0]
    rows = plan_rows([it["ids"].shape[0] for it in items], s, max_row_tokens)
    spans: list[tuple[int, int, int]] = [(0, 0, 0)] * len(items)
    cols: dict[str, list[torch.Tensor]] = {"ids": [], "positions": [], "segments": [], "owners": [], "sees": []}
    src_rows, src_cols = [], []
    for r, row in enumerate(rows):
        parts = {"ids": [prefix.ids], "positions": [torch.arange(s)], "segments": [torch.zeros(s, dtype=torch.long)],
                 "owners": [torch.full((s,), SHARED)], "sees": [torch.ones(s, dtype=torch.bool)]}
        offset = s
        for i in row:
            it, n = items[i], items[i]["ids"].shape[0]
            for key in ("ids", "positions", "segments"):
                parts[key].append(it[key])
            parts["owners"].append(torch.full((n,), i))
            parts["sees"].append(it["sees_prefix"].expand(n))
            spans[i] = (r, offset, n)
            offset += n
        for key in cols:
            cols[key].append(torch.cat(parts[key]))
    for i, it in enumerate(items):
        src_rows.append(torch.full_like(it["src"], spans[i][0]))
        src_cols.append(it["src"] + spans[i][1])
    ids, valid = _pad(cols["ids"])
    positions, _ = _pad(cols["positions"])
    segments, _ = _pad(cols["segments"])
    owners, _ = _pad(cols["owners"], PAD)
    sees, _ = _pad(cols["sees"])
    mask = packed_mask(segments, owners, sees, attn_impl, dtype)
    groups = torch.cat([2 * i + it["groups"] for i, it in enumerate(items)])
    return PackedBatch(ids.to(device), positions.to(device), mask.to(device),
                       (torch.cat(src_rows).to(device), torch.cat(src_cols).to(device)),
                       torch.cat([it["targets"] for it in items]).to(device), groups.to(device), len(items),
                       int(valid.sum()), rows, spans)
