"""``safetyalign doctor``: preflight checks with advice. Also run (quietly) at the start of training."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Check:
    """One preflight result."""

    name: str
    ok: bool
    detail: str
    advice: str = ""


def run_checks(path: str | Path = ".", need_triton: bool | None = None) -> list[Check]:
    """torch/CUDA, GPU, C compiler (Triton needs one), free disk and library versions."""
    from safetyalign.runs import package_versions

    checks: list[Check] = []
    try:
        import torch

        cuda = torch.cuda.is_available()
        checks.append(Check("torch", True, f"{torch.__version__} (CUDA {'yes' if cuda else 'no'})"))
        if cuda:
            props = torch.cuda.get_device_properties(0)
            checks.append(Check("gpu", True, f"{props.name}, {props.total_memory / 2**30:.1f} GiB, "
                                f"bf16={'yes' if torch.cuda.is_bf16_supported() else 'no'}"))
        else:
            checks.append(Check("gpu", True, "none: training runs on CPU in float32 (fine for the quickstart)"))
        need_triton = cuda if need_triton is None else need_triton
    except ImportError:
        checks.append(Check("torch", False, "not installed", "run the README's setup command"))
        need_triton = False
    cc = shutil.which("gcc") or shutil.which("clang") or shutil.which("cc")
    checks.append(Check("c_compiler", bool(cc) or not need_triton, cc or "none",
                        "" if cc else "Triton kernels (unsloth, liger, torch.compile) abort without gcc/clang: "
                        "apt-get install build-essential"))
    free = shutil.disk_usage(Path(path).resolve()).free / 2**30
    checks.append(Check("disk", free > 5, f"{free:.1f} GiB free", "" if free > 5 else "free some disk space"))
    versions = package_versions()
    for name in ["transformers", "trl", "peft", "accelerate", "datasets"]:
        v = versions.get(name)
        checks.append(Check(name, v is not None, v or "missing", "" if v else f"pip install {name}"))
    for name in ["unsloth", "liger-kernel", "bitsandbytes"]:
        v = versions.get(name)
        checks.append(Check(name, True, v or "not installed (optional, GPU only: pip install '.[gpu]')"))
    return checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign doctor``."""
    parser.add_argument("--path", default=".", help="folder whose disk is checked")


def main(args: argparse.Namespace) -> int:
    """Print a table of checks; exit 1 when a required one fails."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    checks = run_checks(args.path)
    table = Table(title="safetyalign doctor")
    for col in ("check", "ok", "detail", "advice"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAIL[/]", escape(c.detail), escape(c.advice))
    Console().print(table)
    return 0 if all(c.ok for c in checks) else 1
