"""Tolerant reading of a run folder (docs/run_folder.md): a missing or unreadable file is ``None``, never a crash."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)

HEADLINE_METRICS: list[tuple[str, str, bool]] = [
    # (metric key, label, higher is better)
    ("harmful/refusal_rate", "Harmful prompts refused", True),
    ("harmful/attack_success_rate", "Attack success rate", False),
    ("benign/over_refusal_rate", "Benign over-refusal", False),
    ("benign/compliance_rate", "Benign compliance", True),
]


@dataclass
class RunData:
    """Everything the report reads from one run folder; ``problems`` lists files that exist but did not parse."""

    run_dir: Path
    config_text: str | None = None
    config: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    data_summary: dict[str, Any] | None = None
    data_stats: dict[str, Any] | None = None
    samples: list[dict[str, Any]] | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    training_summary: dict[str, Any] | None = None
    results: dict[str, Any] | None = None
    compare: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    def plot(self, name: str) -> Path | None:
        """``plots/<name>`` when it exists."""
        path = self.run_dir / "plots" / name
        return path if path.is_file() else None

    @property
    def name(self) -> str:
        return self.run_dir.resolve().name

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{"base": {...}, "tuned": {...}}`` from evaluation results (or compare results as a fallback)."""
        for source in (self.results, self.compare):
            if isinstance(source, dict) and isinstance(source.get("summary"), dict):
                return {k: v for k, v in source["summary"].items() if isinstance(v, dict)}
        return {}


def _read_json(path: Path, problems: list[str], kind: type = dict) -> Any:
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name}: unreadable ({exc})")
        log.warning("report: cannot read %s: %s", path, exc)
        return None
    if not isinstance(obj, kind):
        problems.append(f"{path.name}: expected a JSON {kind.__name__}")
        return None
    return obj


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a truncated last line of an interrupted run
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _read_config(run_dir: Path, problems: list[str]) -> tuple[str | None, dict[str, Any] | None]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None, None
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        import yaml

        obj = yaml.safe_load(text)
    except Exception as exc:  # any YAML problem only degrades the config section
        problems.append(f"config.yaml: unreadable ({exc.__class__.__name__})")
        return text, None
    return text, obj if isinstance(obj, dict) else None


def load_run(run_dir: str | Path) -> RunData:
    """Read every known file of a run folder; absent stages stay ``None`` / empty."""
    run_dir = Path(run_dir)
    p: list[str] = []
    text, cfg = _read_config(run_dir, p)
    return RunData(
        run_dir=run_dir, config_text=text, config=cfg,
        meta=_read_json(run_dir / "meta.json", p),
        timings=_read_json(run_dir / "timings.json", p),
        data_summary=_read_json(run_dir / "data" / "data_summary.json", p),
        data_stats=_read_json(run_dir / "data" / "data_stats.json", p),
        samples=_read_json(run_dir / "data" / "samples.json", p, kind=list),
        metrics=_read_metrics(run_dir / "metrics.jsonl"),
        training_summary=_read_json(run_dir / "adapter" / "training_summary.json", p),
        results=_read_json(run_dir / "eval" / "evaluation_results.json", p),
        compare=_read_json(run_dir / "eval" / "compare_results.json", p),
        problems=p,
    )


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out


def metric(summary: dict[str, Any], key: str) -> dict[str, Any] | None:
    """One metric entry ``{value, ci95, k, n}`` (a bare number is accepted as ``{value}``)."""
    m = summary.get(key)
    if isinstance(m, (int, float)) and not isinstance(m, bool):
        return {"value": float(m)}
    if isinstance(m, dict) and isinstance(m.get("value"), (int, float)):
        return m
    return None


def breakdown_keys(summaries: dict[str, dict[str, Any]], base_key: str, dim: str) -> list[str]:
    """Values of ``dim`` (``lang``/``category``) that appear as ``<base_key>/<dim>=<value>`` in any summary."""
    prefix = f"{base_key}/{dim}="
    seen: list[str] = []
    for summ in summaries.values():
        for key in summ:
            if key.startswith(prefix) and key[len(prefix):] not in seen:
                seen.append(key[len(prefix):])
    return seen
