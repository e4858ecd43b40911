"""Fast generation for evaluation on a GPU: continuous batching over a static slot KV cache with CUDA-graph decode.

``GenerationEngine(model, use_adapter=...)`` reads the weights of a transformers causal LM (and its PEFT LoRA, merged
into temporary copies or applied unmerged) without copying the base weights; ``engine.generate(requests, ...)``
returns new token ids per request. See :mod:`safetyalign.generation.engine`.
"""

from safetyalign.generation.engine import EngineStats, GenerationEngine, Request
from safetyalign.generation.sampling import next_tokens
from safetyalign.generation.weights import supported

__all__ = ["EngineStats", "GenerationEngine", "Request", "next_tokens", "supported"]
