"""Run reports: ``write_report(run_dir)`` and ``write_comparison(run_a, run_b, out_dir)``."""

from safetyalign.report.build import write_report
from safetyalign.report.compare import write_comparison

__all__ = ["write_report", "write_comparison"]
