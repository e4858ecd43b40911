"""Per-token log-probabilities from the LM head in chunks, without keeping full-vocabulary logits.

With gradients, each chunk's gradient direction ``(onehot(target) - softmax) @ W`` (a ``[d]`` vector per token,
independent of the incoming gradient) is computed in the forward, while the chunk's logits exist anyway; the
backward then only scales it. That saves recomputing the logits in the backward, for one ``[M, d]`` tensor kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _lse_gather(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log p[target], logsumexp)`` of one chunk of logits, upcast to float32 (as transformers does)."""
    lf = logits.float()
    lse = torch.logsumexp(lf, dim=-1)
    return lf.gather(1, targets[:, None]).squeeze(1) - lse, lse


def _direction(logits: torch.Tensor, lse: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``onehot(target) - softmax`` in the logits' dtype (in place: one float32 chunk buffer)."""
    probs = logits.float().sub_(lse[:, None]).exp_().neg_()
    probs.scatter_add_(1, targets[:, None], torch.ones_like(lse)[:, None])
    return probs.to(logits.dtype)


def _direction_fused(logits: torch.Tensor, lse: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:func:`_direction` as one pointwise expression, for the compiler to fuse (no float32 chunk in memory)."""
    onehot = torch.arange(logits.shape[1], device=logits.device)[None, :] == targets[:, None]
    return (onehot.float() - (logits.float() - lse[:, None]).exp()).to(logits.dtype)


_KERNELS: dict[bool, tuple[Callable, Callable]] = {False: (_lse_gather, _direction)}


def _kernels(fused: bool) -> tuple[Callable, Callable]:
    """The chunk math, eager or compiled (``fused``: a reduction kernel and a pointwise kernel). The log-probs come
    from the same function with and without gradients, so policy and reference passes round identically."""
    if fused not in _KERNELS:
        _KERNELS[fused] = (torch.compile(_lse_gather, dynamic=True), torch.compile(_direction_fused, dynamic=True))
    return _KERNELS[fused]


class _ChunkedLogProbs(torch.autograd.Function):
    """``log_softmax(h @ W.T)[m, target[m]]`` in row chunks (see the module docstring for the backward).

    Logits are computed in the input dtype and upcast to float32 (as transformers does), so results match a plain
    ``lm_head`` + ``log_softmax`` to rounding. The LM head weight is treated as frozen (no gradient).
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk, fused):  # noqa: ANN001, ANN205
        lse_gather, direction_of = _kernels(fused)
        grad = not isinstance(ctx, _NoCtx)
        out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        direction = torch.empty_like(hidden) if grad else None
        for s in range(0, hidden.shape[0], chunk):
            logits = hidden[s:s + chunk] @ weight.t()
            out[s:s + chunk], lse = lse_gather(logits, targets[s:s + chunk])
            if grad:
                torch.mm(direction_of(logits, lse, targets[s:s + chunk]), weight, out=direction[s:s + chunk])
        if grad:
            ctx.save_for_backward(direction)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205
        (direction,) = ctx.saved_tensors
        return (direction.float() * grad_out[:, None]).to(direction.dtype), None, None, None, None


def chunked_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                     chunk: int = 256, fused: bool = False) -> torch.Tensor:
    """Log-probabilities ``[M]`` (float32) of ``targets [M]`` under ``softmax(hidden [M, d] @ weight.T)``.

    ``fused`` compiles the per-chunk math (float32 upcast, logsumexp, gradient direction) into fused kernels."""
    if not torch.is_grad_enabled() or not hidden.requires_grad:
        with torch.no_grad():
            return _ChunkedLogProbs.forward(_NoCtx(), hidden, weight, targets, chunk, fused)
    return _ChunkedLogProbs.apply(hidden, weight, targets, chunk, fused)


class _NoCtx:
    """Stand-in autograd context for the no-grad path."""

    def save_for_backward(self, *tensors: torch.Tensor) -> None:  # noqa: D102
        pass
