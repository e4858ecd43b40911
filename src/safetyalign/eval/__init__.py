"""Evaluation stage: prompt suites, batched generation, judges, metrics with CIs, base-vs-tuned comparison."""
