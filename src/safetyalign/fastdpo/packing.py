"""Shared-prompt, padding-free packing of DPO preference pairs into one token row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

SEG_PROMPT, SEG_CHOSEN, SEG_REJECTED = 0, 1, 2
Pair = tuple[Sequence[int], Sequence[int], Sequence[int]]


@dataclass
class PackedBatch:
    """Pairs packed as ``[p0 c0 r0 p1 c1 r1 ...]`` (length T, maybe padded at the end).

    ``src_index[m]`` is the packed position whose hidden state predicts completion token ``target_ids[m]``;
    ``group[m]`` is ``i`` for the chosen answer of pair ``i`` and ``n_pairs + i`` for its rejected answer
    (TRL's ``[chosen..., rejected...]`` order).
    """

    input_ids: torch.Tensor  # [T] long
    position_ids: torch.Tensor  # [T] long
    pair_id: torch.Tensor  # [T] int32, -1 on padding
    segment: torch.Tensor  # [T] int32 (SEG_*)
    src_index: torch.Tensor  # [M] long
    target_ids: torch.Tensor  # [M] long
    group: torch.Tensor  # [M] long
    n_pairs: int
    n_tokens: int  # real (unpadded) tokens
    inputs_embeds: torch.Tensor | None = None  # [T, d], set when the embedding table is offloaded to the CPU
    attn_mask: Any = None  # the attention backend's mask, once built on the batch's device (see FastDPOTrainer)

    def to(self, device: torch.device | str) -> PackedBatch:
        """Copy every tensor to ``device`` (a built ``attn_mask`` is kept only if nothing had to move)."""
        kw = {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
              for k, v in vars(self).items()}
        if kw["input_ids"] is not self.input_ids:
            kw["attn_mask"] = None
        return PackedBatch(**kw)


def pack_pairs(pairs: Sequence[Pair], pad_to_multiple: int = 1, pad_id: int = 0) -> PackedBatch:
    """Pack ``(prompt_ids, chosen_ids, rejected_ids)`` triples; each part needs at least one token."""
    ids: list[int] = []
    pos: list[int] = []
    pair_id: list[int] = []
    seg: list[int] = []
    src: list[int] = []
    tgt: list[int] = []
    grp: list[int] = []
    n = len(pairs)
    for i, (prompt, chosen, rejected) in enumerate(pairs):
        if not prompt or not chosen or not rejected:
            raise ValueError(f"pair {i}: prompt, chosen and rejected must each have at least one token")
        start, p_len = len(ids), len(prompt)
        last_prompt = start + p_len - 1
        ids += list(prompt)
        pos += list(range(p_len))
        seg += [SEG_PROMPT] * p_len
        for part, seg_id, group in ((chosen, SEG_CHOSEN, i), (rejected, SEG_REJECTED, n + i)):
            first = len(ids)
            ids += list(part)
            pos += list(range(p_len, p_len + len(part)))
            seg += [seg_id] * len(part)
            src += [last_prompt] + list(range(first, first + len(part) - 1))
            tgt += list(part)
            grp += [group] * len(part)
        pair_id += [i] * (len(ids) - start)
    n_tokens = len(ids)
    pad = (-n_tokens) % max(1, pad_to_multiple)
    ids += [pad_id] * pad
    pos += [0] * pad
    seg += [SEG_PROMPT] * pad
    pair_id += [-1] * pad

    def lt(x: list[int]) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.long)

    i32 = torch.int32
    return PackedBatch(lt(ids), lt(pos), torch.tensor(pair_id, dtype=i32), torch.tensor(seg, dtype=i32),
                       lt(src), lt(tgt), lt(grp), n, n_tokens)


def dense_mask(batch: PackedBatch) -> torch.Tensor:
    """Boolean ``[T, T]`` mask (True = may attend) for SDPA: same pair, causal, rejected never sees chosen."""
    q = torch.arange(batch.input_ids.numel(), device=batch.input_ids.device)
    same = batch.pair_id[:, None] == batch.pair_id[None, :]
    causal = q[None, :] <= q[:, None]
    seg_ok = (batch.segment[None, :] == SEG_PROMPT) | (batch.segment[None, :] == batch.segment[:, None])
    return same & causal & seg_ok


def flex_block_mask(batch: PackedBatch, n_heads: int | None = None):  # noqa: ANN201 - BlockMask (lazy import)
    """The same mask as :func:`dense_mask`, as a FlexAttention BlockMask (block-sparse)."""
    from torch.nn.attention.flex_attention import create_block_mask

    pair, segm = batch.pair_id, batch.segment

    def mask_mod(b, h, q_idx, kv_idx):  # noqa: ANN001, ANN202
        same = pair[q_idx] == pair[kv_idx]
        seg_ok = (segm[kv_idx] == SEG_PROMPT) | (segm[kv_idx] == segm[q_idx])
        return same & (kv_idx <= q_idx) & seg_ok

    t = batch.input_ids.numel()
    return create_block_mask(mask_mod, B=None, H=None, Q_LEN=t, KV_LEN=t, device=batch.input_ids.device)
