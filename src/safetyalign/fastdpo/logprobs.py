"""Per-token log-probabilities from the LM head in chunks, without keeping full-vocabulary logits."""

from __future__ import annotations

import torch


class _ChunkedLogProbs(torch.autograd.Function):
    """``log_softmax(h @ W.T)[m, target[m]]`` in row chunks; backward recomputes each chunk's logits.

    Logits are computed in the input dtype and upcast to float32 (as transformers does), so results match a plain
    ``lm_head`` + ``log_softmax`` to rounding. The LM head weight is treated as frozen (no gradient).
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk):  # noqa: ANN001, ANN205
        out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        lse_all = torch.empty_like(out)
        for s in range(0, hidden.shape[0], chunk):
            logits = (hidden[s:s + chunk] @ weight.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            out[s:s + chunk] = logits.gather(1, targets[s:s + chunk, None]).squeeze(1) - lse
            lse_all[s:s + chunk] = lse
        ctx.save_for_backward(hidden, weight, targets, lse_all)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205
        hidden, weight, targets, lse_all = ctx.saved_tensors
        chunk = ctx.chunk
        grad_h = torch.empty_like(hidden)
        for s in range(0, hidden.shape[0], chunk):
            probs = (hidden[s:s + chunk] @ weight.t()).float()
            probs.sub_(lse_all[s:s + chunk, None]).exp_()  # in place: one float32 chunk buffer
            g = grad_out[s:s + chunk, None]
            # d logp / d logits = onehot - softmax
            grad_logits = probs.mul_(-g)
            grad_logits.scatter_add_(1, targets[s:s + chunk, None], g)
            grad_h[s:s + chunk] = grad_logits.to(hidden.dtype) @ weight
        return grad_h, None, None, None


def chunked_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                     chunk: int = 256) -> torch.Tensor:
    """Log-probabilities ``[M]`` (float32) of ``targets [M]`` under ``softmax(hidden [M, d] @ weight.T)``."""
    if not torch.is_grad_enabled() or not hidden.requires_grad:
        with torch.no_grad():
            return _ChunkedLogProbs.forward(_NoCtx(), hidden, weight, targets, chunk)
    return _ChunkedLogProbs.apply(hidden, weight, targets, chunk)


class _NoCtx:
    """Stand-in autograd context for the no-grad path."""

    def save_for_backward(self, *tensors: torch.Tensor) -> None:  # noqa: D102
        pass
