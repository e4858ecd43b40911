"""Leave-source-out bookkeeping: which datasets trained a run, and whether an evaluation suite is unseen.

A *source* is a dataset: the folder under ``../shared/data`` (``shared:coconot/...`` -> ``coconot``), ``project``
for everything the project wrote (``pkg:data/recipe_data/*`` and the built-in suites), ``file:<stem>`` for other
local files and the hub name for hub datasets. Folders that hold the same upstream prompts share an *origin*
(:data:`ORIGIN`): Alpaca in ``llamafactory-demo`` and ``refusal-direction-splits``, the PKU/BeaverTails questions in
three folders, JailbreakBench's goals in ``jbb-artifacts``. A suite is ``unseen`` when no training source has its
origin, else ``in_distribution`` (a hash-held-out half such as ``advbench@eval`` is in-distribution too: the other
half trained the model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORIGIN = {"refusal-direction-splits": "alpaca", "llamafactory-demo": "alpaca",
          "beavertails-30k-test": "pku-beavertails", "saferlhf-mini": "pku-beavertails",
          "pku-saferlhf": "pku-beavertails", "jbb-artifacts": "jailbreakbench"}
UNSEEN, IN_DISTRIBUTION = "unseen", "in_distribution"


def origin(source: str) -> str:
    """The upstream prompt collection a source belongs to."""
    return ORIGIN.get(source, source)


def source_of_path(path: str) -> str:
    """Source id of a data path: ``shared:<folder>/...`` -> folder, ``pkg:`` -> project, a file -> ``file:<stem>``."""
    if path.startswith("shared:"):
        return path[len("shared:"):].lstrip("/").split("/")[0]
    if path.startswith("pkg:"):
        return "project"
    p = Path(path)
    if p.suffix or p.exists():
        return f"file:{p.name.split('.')[0]}"
    return path  # a hub dataset name


def training_sources(cfg: Any, run_dir: Path | None = None) -> dict[str, int]:
    """``{source: training rows}``: from the run's ``data/data_summary.json`` when it has them, else every
    configured source with a nonzero count (what the config would train on)."""
    from safetyalign.io import read_json

    summary = Path(run_dir) / "data" / "data_summary.json" if run_dir else None
    if summary is not None and summary.is_file():
        data = read_json(summary)
        if isinstance(data.get("training_sources"), dict):
            return {str(k): int(v) for k, v in data["training_sources"].items()}
    out: dict[str, int] = {}
    for src in cfg.data.sources:
        if src.count != 0:
            key = source_of_path(src.path)
            out[key] = out.get(key, 0) + (src.count or -1)
    return out


def split_of(source: str, trained: dict[str, int]) -> str:
    """``in_distribution`` when a training source shares the suite's origin, else ``unseen``."""
    origins = {origin(s) for s, n in trained.items() if n}
    return IN_DISTRIBUTION if origin(source) in origins else UNSEEN


def label_suites(prompts: list[Any], trained: dict[str, int], require_unseen: bool = False) -> dict[str, dict]:
    """Set ``split`` on every prompt; ``{suite: {source, origin, split}}``. With ``require_unseen`` an
    in-distribution suite is a ConfigError naming it and the training source."""
    from safetyalign.errors import ConfigError

    suites: dict[str, dict] = {}
    for p in prompts:
        p.split = split_of(p.source, trained)
        suites.setdefault(p.suite, {"source": p.source, "origin": origin(p.source), "split": p.split})
    bad = [s for s, v in suites.items() if v["split"] == IN_DISTRIBUTION]
    if require_unseen and bad:
        raise ConfigError(f"eval.require_unseen: suite(s) {', '.join(bad)} come from a source that trained this "
                          f"model (training sources: {', '.join(sorted(trained))})")
    return suites
