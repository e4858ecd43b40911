"""Figures the report draws itself: base-vs-tuned safety bars, and loss curves of two runs. matplotlib is lazy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetyalign.io import atomic_write_bytes
from safetyalign.report.loaders import breakdown_keys, metric

CHART_METRICS = [("harmful/refusal_rate", "Harmful prompts refused", "higher is better"),
                 ("harmful/attack_success_rate", "Attack success rate", "lower is better"),
                 ("benign/over_refusal_rate", "Benign prompts over-refused", "lower is better")]
COLORS = {"base": "#9aa5b1", "tuned": "#2b6cb0"}
LANG_NAMES = {"en": "English", "zh": "Chinese"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _bar_group(ax: Any, summary: dict[str, dict[str, Any]], key: str, models: list[str]) -> bool:
    langs = breakdown_keys(summary, key, "lang")
    groups = [("All", key)] + [(LANG_NAMES.get(v, v), f"{key}/lang={v}") for v in langs]
    width = 0.8 / len(models)
    drew = False
    for i, model in enumerate(models):
        for g, (_, k) in enumerate(groups):
            m = metric(summary.get(model, {}), k)
            if not m:
                continue
            x, v = g + (i - (len(models) - 1) / 2) * width, 100 * m["value"]
            ci = m.get("ci95")
            err = None
            if isinstance(ci, (list, tuple)) and len(ci) == 2:
                err = [[max(0.0, v - 100 * ci[0])], [max(0.0, 100 * ci[1] - v)]]
            ax.bar(x, v, width * 0.92, color=COLORS.get(model, "#718096"), label=model if g == 0 else None,
                   yerr=err, capsize=4, error_kw={"elinewidth": 1.2, "ecolor": "#2d3748"})
            top = v + (err[1][0] if err else 0)
            ax.annotate(f"{v:.0f}%", (x, min(top, 100)), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=10, fontweight="bold")
            drew = True
    ax.set_xticks(range(len(groups)), [f"{name}\n(n={_n(summary, k)})" for name, k in groups])
    return drew


def _n(summary: dict[str, dict[str, Any]], key: str) -> str:
    for s in summary.values():
        m = metric(s, key)
        if m and m.get("n") is not None:
            return str(m["n"])
    return "?"


def safety_chart(summary: dict[str, dict[str, Any]], out_path: Path) -> Path | None:
    """Base vs tuned bars per metric and language, 95% CI error bars, annotated %. None when nothing to draw."""
    models = [m for m in ("base", "tuned") if m in summary]
    panels = [c for c in CHART_METRICS if any(metric(summary[m], c[0]) for m in models)]
    if not models or not panels:
        return None
    plt = _pyplot()
    from matplotlib.ticker import PercentFormatter

    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.6), squeeze=False)
    for ax, (key, title, hint) in zip(axes[0], panels):
        _bar_group(ax, summary, key, models)
        ax.set_title(f"{title}\n({hint})", fontsize=12)
        ax.set_ylim(0, 112)
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("% of prompts")
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, [f"{lbl} model" for lbl in labels], loc="upper right", ncol=len(models), frameon=False)
    what = "Safety before vs after DPO" if len(models) == 2 else f"Safety of the {models[0]} model"
    fig.suptitle(f"{what} (bars: rate, whiskers: 95% CI)", fontsize=14, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, out_path)


def loss_chart(runs: list[tuple[str, list[dict[str, Any]]]], out_path: Path) -> Path | None:
    """Training loss (and reward accuracy when logged) of several runs on shared axes. None without metrics."""
    series = [(name, [(r["step"], r["train/loss"]) for r in rows
                      if isinstance(r.get("step"), (int, float)) and isinstance(r.get("train/loss"), (int, float))])
              for name, rows in runs]
    if not any(pts for _, pts in series):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for (name, pts), color in zip(series, ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5"]):
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.8, color=color, label=name)
    ax.axhline(0.6931, color="#a0aec0", ls="--", lw=1, label="ln 2 (DPO loss at start)")
    ax.set_title("DPO training loss", fontsize=13)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _save(fig, out_path)
