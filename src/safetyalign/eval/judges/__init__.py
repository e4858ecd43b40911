"""Judges: decide whether a response refused, complied or partly refused (and, where trained, whether harmful)."""

from safetyalign.eval.judges.base import Judge, Verdict
from safetyalign.eval.judges.registry import make_judge

__all__ = ["Judge", "Verdict", "make_judge"]
