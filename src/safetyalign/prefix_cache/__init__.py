"""Frozen-prefix activation caching: a fast LoRA DPO backend for CPUs and small GPUs."""
