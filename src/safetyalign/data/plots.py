"""Data plots (matplotlib, Agg backend, imported lazily): length distributions, categories, length bias, languages.

Files: ``data_distribution.png``, ``category_counts.png``, ``length_bias.png``, ``language_split.png``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

FIELD_COLORS = {"prompt": "#4C72B0", "chosen": "#55A868", "rejected": "#C44E52"}
UNIT_LABEL = {"tokens": "length (tokens)", "chars": "length (characters)"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 13})
    return plt


def _save(fig: Any, path: Path) -> Path:
    import io

    from safetyalign.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def plot_distribution(lengths: dict[str, dict[str, list]], n_rows: int, path: Path) -> Path:
    """Histograms of prompt/chosen/rejected lengths: one row per unit (tokens, characters)."""
    plt = _plt()
    units = [u for u in ("tokens", "chars") if u in lengths]
    fig, axes = plt.subplots(len(units), 3, figsize=(13, 3.6 * len(units)), squeeze=False)
    for r, unit in enumerate(units):
        for c, field in enumerate(("prompt", "chosen", "rejected")):
            ax = axes[r][c]
            values = [v for v in lengths[unit][field] if v is not None]
            if values:
                ax.hist(values, bins=40, color=FIELD_COLORS[field], alpha=0.85)
                med = sorted(values)[len(values) // 2]
                ax.axvline(med, color="black", linestyle="--", linewidth=1, label=f"median {med}")
                ax.legend(loc="upper right")
            else:
                ax.text(0.5, 0.5, "no values (to be generated)", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(f"{field} length in {'tokens' if unit == 'tokens' else 'characters'}")
            ax.set_xlabel(UNIT_LABEL[unit])
            ax.set_ylabel("pairs (count)")
    fig.suptitle(f"Preference data length distribution ({n_rows} pairs)")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_categories(rows: list[dict[str, Any]], path: Path, top: int = 20) -> Path:
    """Horizontal bars of pairs per category (or per source when no row has a category)."""
    plt = _plt()
    has_cat = any(r.get("category") for r in rows)
    key = "category" if has_cat else "source"
    all_counts = Counter(str(r.get(key) or "(no category)") for r in rows)
    counts = all_counts.most_common(top)
    fig, ax = plt.subplots(figsize=(9, 0.35 * max(4, len(counts)) + 1.2))
    labels = [k if len(k) <= 40 else k[:37] + "..." for k, _ in counts][::-1]
    values = [v for _, v in counts][::-1]
    ax.barh(labels, values, color="#8172B2")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v}", va="center", fontsize=9)
    ax.set_xlabel("pairs (count)")
    ax.set_ylabel(key)
    title = "Pairs per category" if has_cat else "Pairs per source (this data has no category labels)"
    ax.set_title(f"{title}, top {top} of {len(all_counts)}" if len(all_counts) > top else title)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_length_bias(lengths: dict[str, dict[str, list]], stats: dict[str, Any], path: Path,
                     sources: list[str] | None = None) -> Path:
    """Chosen - rejected length per pair (histogram) and chosen vs rejected (scatter by source, y = x line)."""
    plt = _plt()
    unit = "tokens" if "tokens" in lengths else "chars"
    unit_name = "tokens" if unit == "tokens" else "characters"
    ch, rj = lengths[unit]["chosen"], lengths[unit]["rejected"]
    sources = sources or [""] * len(ch)
    keep = [i for i, (c, r) in enumerate(zip(ch, rj)) if c is not None and r is not None]
    pairs = [(ch[i], rj[i]) for i in keep]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.4))
    if pairs:
        diffs = [c - r for c, r in pairs]
        bias = stats["length_bias"][unit]
        ax1.hist(diffs, bins=50, color="#64B5CD")
        ax1.axvline(0, color="black", linewidth=1)
        ax1.axvline(bias["mean_diff"], color="#C44E52", linestyle="--", label=f"mean {bias['mean_diff']:+.0f}")
        ax1.legend(title=f"chosen longer in {bias['frac_chosen_longer']:.0%} of pairs")
        names = sorted({sources[i] for i in keep})
        for name in names[:10]:
            idx = [i for i in keep if sources[i] == name]
            ax2.scatter([rj[i] for i in idx], [ch[i] for i in idx], s=7, alpha=0.5, label=name or None)
        hi = max(max(c, r) for c, r in pairs)
        ax2.plot([0, hi], [0, hi], color="black", linewidth=1, label="equal length")
        ax2.legend(loc="upper left", fontsize=8, markerscale=2)
    else:
        for ax in (ax1, ax2):
            ax.text(0.5, 0.5, "rejected answers not generated yet", ha="center", va="center",
                    transform=ax.transAxes)
    ax1.set_title(f"Chosen minus rejected length per pair ({unit_name})")
    ax1.set_xlabel(f"chosen - rejected ({unit_name})")
    ax1.set_ylabel("pairs (count)")
    ax2.set_title(f"Chosen vs rejected length ({unit_name})")
    ax2.set_xlabel(f"rejected length ({unit_name})")
    ax2.set_ylabel(f"chosen length ({unit_name})")
    fig.suptitle("DPO length bias: is the chosen answer systematically shorter or longer?")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_languages(stats: dict[str, Any], path: Path) -> Path:
    """Stacked bars: pairs per source split by language (zh / en / other)."""
    plt = _plt()
    per_source = stats["lang_by_source"]
    langs = sorted({lang for c in per_source.values() for lang in c}, key=lambda x: (x not in ("en", "zh"), x))
    names = list(per_source)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names) + 3), 4.4))
    bottom = [0] * len(names)
    colors = {"en": "#4C72B0", "zh": "#DD8452"}
    for lang in langs:
        vals = [per_source[n].get(lang, 0) for n in names]
        ax.bar(range(len(names)), vals, bottom=bottom, label=lang, color=colors.get(lang, "#937860"))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n if len(n) <= 36 else n[:33] + "..." for n in names], rotation=20, ha="right")
    totals = Counter()
    for c in per_source.values():
        totals.update(c)
    share = ", ".join(f"{lang} {totals[lang]}" for lang in langs)
    ax.set_title(f"Language split per source (total: {share})")
    ax.set_xlabel("source")
    ax.set_ylabel("pairs (count)")
    ax.set_ylim(0, max(bottom + [1]) * 1.15)
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{total}", ha="center", va="bottom", fontsize=9)
    ax.legend(title="language", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def write_plots(rows: list[dict], stats: dict[str, Any], lengths: dict, plots_dir: Path) -> list[Path]:
    """All four data plots into ``plots_dir``."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    return [plot_distribution(lengths, len(rows), plots_dir / "data_distribution.png"),
            plot_categories(rows, plots_dir / "category_counts.png"),
            plot_length_bias(lengths, stats, plots_dir / "length_bias.png", [str(r.get("source", "")) for r in rows]),
            plot_languages(stats, plots_dir / "language_split.png")]
