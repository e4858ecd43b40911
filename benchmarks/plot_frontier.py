#!/usr/bin/env python3
"""Draw every tuned recipe of the quickstart sweeps on the refusal vs over-refusal plane, per language.

    python benchmarks/plot_frontier.py benchmarks/results/recipe_sweep_h200*.json --out OUT

Each point is one variant of a sweep, its counts pooled over the variant's seeds (learned judge, as re-scored by
``recipe_sweep.py --rejudge``). The shaded box is the quickstart issue's target: harmful refusal >= 90% and benign
over-refusal <= 10%. Colour = how many decoder layers carry LoRA (10 = the 15-minute CPU budget, 30 = ~4x its
training compute). Writes ``OUT.png`` and ``OUT.json`` (the pooled points, and which of them meet the target).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "zh")
TARGET = {"refusal": 90.0, "over_refusal": 10.0}


def _top_layers(config: str | None, args: list[str]) -> int:
    """``lora.top_layers`` of a run: its sweep's base config (relative to the repository) with the run's overrides,
    resolved by the project's own config loader; 10 (the quickstart's) when neither sets it."""
    from safetyalign.config import load_config, upgrade_overrides

    return load_config(str(ROOT / config) if config else None, upgrade_overrides(args)).lora.top_layers or 10


def pooled_points(path: Path) -> list[dict]:
    """One dict per variant: pooled percentages per language, seeds, LoRA layers, and the sweep it comes from."""
    data = json.loads(path.read_text(encoding="utf-8"))
    groups: dict[str, list[dict]] = {}
    for run in data["runs"]:
        if "error" not in run:
            groups.setdefault(run["name"].rsplit("_s", 1)[0], []).append(run)
    points = []
    for name, runs in groups.items():
        point = {"sweep": path.stem, "variant": name, "seeds": len(runs),
                 "top_layers": _top_layers(data.get("config"), runs[0]["args"])}
        for lang in LANGS:
            for key, metric in (("refusal", "harmful/refusal_rate"), ("over_refusal", "benign/over_refusal_rate")):
                k = sum(r[f"tuned:{metric}/lang={lang}"][0] for r in runs)
                n = sum(r[f"tuned:{metric}/lang={lang}"][1] for r in runs)
                point[f"{key}/{lang}"] = round(100.0 * k / n, 1)
        point["meets_target"] = all(point[f"refusal/{lang}"] >= TARGET["refusal"]
                                    and point[f"over_refusal/{lang}"] <= TARGET["over_refusal"] for lang in LANGS)
        points.append(point)
    return points


def plot(points: list[dict], out: Path, labels: dict[str, str] | None = None, names: dict[str, str] | None = None,
         floor: float = 50.0) -> None:
    """Two panels (en, zh): over-refusal on x, refusal on y (from ``floor``), target box shaded; ``labels``
    annotates variants, ``names`` renames sweeps in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = sorted({p["sweep"] for p in points})
    markers = dict(zip(sweeps, "os^Dv"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharey=True)
    for ax, lang in zip(axes, LANGS):
        ax.fill_between([0, TARGET["over_refusal"]], TARGET["refusal"], 100, color="#2ca02c", alpha=0.15,
                        label="target (refusal ≥ 90%, over-refusal ≤ 10%)")
        for sweep in sweeps:
            for top, colour in ((10, "#1f77b4"), (30, "#d62728")):
                sel = [p for p in points if p["sweep"] == sweep and (p["top_layers"] >= 30) == (top == 30)]
                if sel:
                    ax.scatter([p[f"over_refusal/{lang}"] for p in sel], [p[f"refusal/{lang}"] for p in sel],
                               c=colour, marker=markers[sweep], alpha=0.75, edgecolors="none",
                               label=f"{(names or {}).get(sweep, sweep)}, LoRA on "
                                     f"{'all 30' if top == 30 else '≤ 20'} layers")
        annotated = [(p, t) for p in points
                     if (t := (labels or {}).get(f"{p['sweep']}:{p['variant']}") or (labels or {}).get(p["variant"]))]
        for i, (p, text) in enumerate(annotated):
            ax.annotate(text, (p[f"over_refusal/{lang}"], p[f"refusal/{lang}"]), fontsize=7,
                        xytext=(0.6, 0.3 - 0.07 * i), textcoords="axes fraction",
                        arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.3"})
        below = sum(p[f"refusal/{lang}"] < floor for p in points)
        if below:
            ax.text(0.98, 0.02, f"{below} variant(s) below {floor:.0f}% refusal not shown", transform=ax.transAxes,
                    ha="right", fontsize=7, color="0.4")
        ax.set_title(f"{lang}: every sweep variant (seeds pooled, learned judge)")
        ax.set_xlabel("benign over-refusal (%)  ← better")
        ax.set_xlim(0, max(25, max(p[f"over_refusal/{lang}"] for p in points) + 2))
        ax.set_ylim(floor, 100)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("harmful refusal (%)  better →")
    handles, names_ = axes[1].get_legend_handles_labels()
    fig.legend(handles, names_, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Quickstart recipes on SmolLM2-135M: no variant reaches the target box in both languages"
                 if not any(p["meets_target"] for p in points) else "Quickstart recipes on SmolLM2-135M")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out.with_suffix(".png"), dpi=120)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="+", type=Path, help="recipe_sweep JSON files (re-judged with the learned judge)")
    ap.add_argument("--out", type=Path, required=True, help="output path without suffix (.png and .json are written)")
    ap.add_argument("--name", action="append", default=[], metavar="SWEEP=TEXT", help="legend name of a sweep")
    ap.add_argument("--label", action="append", default=[], metavar="[SWEEP:]VARIANT=TEXT",
                    help="annotate a variant (SWEEP = the JSON file name without suffix)")
    args = ap.parse_args()
    points = [p for path in args.sweeps for p in pooled_points(path)]
    from safetyalign.io import write_json

    write_json(args.out.with_suffix(".json"), {"target": TARGET, "points": points,
                                                      "meeting_target": [p["variant"] for p in points
                                                                         if p["meets_target"]]})
    plot(points, args.out, dict(item.split("=", 1) for item in args.label),
         dict(item.split("=", 1) for item in args.name))
    print(f"{len(points)} variants, {sum(p['meets_target'] for p in points)} meet the target; "
          f"wrote {args.out.with_suffix('.png')} and .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
