"""Imports of ``src/`` go one way, cli -> stages -> engines -> core, and form no cycle (module level or inside
functions). Read statically from the source, so lazy imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "safetyalign"
# Layer of a module: the longest matching prefix wins. 3 = entry points, 2 = pipeline stages, 1 = training
# engines and the generation engine, 0 = core (config, io, models, chat templates, the training core every
# engine writes through).
LAYERS = {
    "safetyalign.cli": 3, "safetyalign.__main__": 3, "safetyalign.config_cli": 3, "safetyalign.quickstart": 3,
    "safetyalign.doctor": 3, "safetyalign.train.cli": 3, "safetyalign.train.launch": 3, "safetyalign.train.export": 3,
    "safetyalign.data.cli": 3, "safetyalign.eval.cli": 3, "safetyalign.eval.compare_cli": 3,
    "safetyalign.eval.judge_cli": 3, "safetyalign.report.cli": 3,
    "safetyalign.data": 2, "safetyalign.eval": 2, "safetyalign.report": 2, "safetyalign.train": 2,
    "safetyalign.engines": 1, "safetyalign.fastdpo": 1, "safetyalign.prefix_cache": 1, "safetyalign.generation": 1,
    **{f"safetyalign.train.{m}": 0 for m in ("core", "checkpoints", "artifacts", "config", "distributed",
                                              "dpo_args", "finalize", "metrics", "pairs", "plots")},
    "safetyalign.data.config": 0, "safetyalign.data.formatting": 0,
    "safetyalign.data.validate": 0, "safetyalign.data.split": 0, "safetyalign.eval.config": 0, "safetyalign.chat": 0,
}
NAMES = {3: "cli", 2: "stages", 1: "engines", 0: "core"}


def modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / PKG).rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return 0 if best is None else LAYERS[best]


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[m] |= {t for t in targets if t in mods and t != m and not m.startswith(t + ".")}
    return graph


def test_imports_go_down_the_layers():
    bad = [f"{m} ({NAMES[layer(m)]}) imports {t} ({NAMES[layer(t)]})"
           for m, targets in import_graph().items() for t in sorted(targets) if layer(t) > layer(m)]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(path[path.index(t):] + [t])
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_benchmark_only_code_is_not_in_the_package():
    assert not (SRC / PKG / "fastdpo" / "baselines.py").exists()
    assert not (SRC / PKG / "fastdpo" / "workload.py").exists()
