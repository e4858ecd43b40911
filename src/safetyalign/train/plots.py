"""Training curves from ``metrics.jsonl``: ``training_loss.png`` and ``training_rewards.png`` (raw + smoothed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetyalign.runs import read_metrics


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pts = [(int(r["step"]), float(r[key])) for r in rows if key in r and r[key] is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def _plot_series(ax: Any, rows: list[dict[str, Any]], key: str, label: str, color: str) -> bool:
    steps, values = _series(rows, key)
    if not steps:
        return False
    if len(steps) < 3:  # e.g. a single end-of-training eval point: markers, no smoothing
        ax.plot(steps, values, color=color, marker="o", linestyle="--", label=label)
        return True
    ax.plot(steps, values, color=color, alpha=0.3, linewidth=1, label=f"{label} (raw)")
    ax.plot(steps, smooth(values), color=color, linewidth=2, label=f"{label} (smoothed)")
    return True


def _loss_label(run_dir: Path) -> str:
    """'loss (sigmoid + sft)' from the run's config.yaml when present."""
    try:
        import yaml

        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        types, weights = cfg["train"]["loss_type"], cfg["train"].get("loss_weights")
        parts = [f"{w:g}*{t}" for t, w in zip(types, weights)] if weights else list(types)
        return f"loss ({' + '.join(parts)})"
    except (OSError, KeyError, TypeError, ValueError, ImportError):
        return "loss"


def plot_training(metrics_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``training_loss.png`` and ``training_rewards.png`` into ``out_dir``; returns the files written.

    Nothing is written when the metrics file has no training rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics_path, out_dir = Path(metrics_path), Path(out_dir)
    rows = read_metrics(metrics_path)
    if not any("train/loss" in r for r in rows):
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    label = _loss_label(metrics_path.parent)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _plot_series(ax, rows, "train/loss", f"train {label}", "tab:blue")
    _plot_series(ax, rows, "eval/loss", f"eval {label}", "tab:orange")
    ax.set(title="DPO training loss", xlabel="optimizer step", ylabel="loss (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, out_dir / "training_loss.png"))
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    _plot_series(ax1, rows, "train/rewards/chosen", "chosen", "tab:green")
    _plot_series(ax1, rows, "train/rewards/rejected", "rejected", "tab:red")
    _plot_series(ax1, rows, "train/rewards/margins", "margin", "tab:purple")
    ax1.axhline(0, color="grey", linewidth=0.8)
    ax1.set(title="Implicit rewards (beta * log-ratio to reference)", xlabel="optimizer step",
            ylabel="reward (nats, scaled by beta)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    _plot_series(ax2, rows, "train/rewards/accuracies", "train", "tab:blue")
    _plot_series(ax2, rows, "eval/rewards/accuracies", "eval", "tab:orange")
    ax2.set(title="Reward accuracy (chosen reward > rejected)", xlabel="optimizer step",
            ylabel="share of pairs (0-1)", ylim=(-0.05, 1.05))
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, out_dir / "training_rewards.png"))
    plt.close(fig)
    return written


def _save(fig: Any, path: Path) -> Path:
    """Save via a temp file + rename so a kill never leaves a truncated PNG."""
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(path)
    return path
