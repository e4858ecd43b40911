"""The data a training run needs, shared by ``safetyalign train`` and the quickstart.

Build the configured preference pairs into ``<run>/data``; when a source needs the base model's own answers
(on-policy rows: ``refusal_pairs`` without a rejected column, ``helpful_pairs`` without a chosen one) load the
model once and generate them; then analyse the pairs (``<run>/data/data_stats.json``, ``<run>/plots/*.png``) and copy
the plots to ``run.plots_dir`` (``plots/data_distribution.png``, the path the original project used).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)


@dataclass
class PreparedData:
    """The built pairs, plus the model and tokenizer when they had to be loaded (reuse them for training)."""

    bundle: Any
    model: Any = field(default=None, repr=False)
    tokenizer: Any = field(default=None, repr=False)


def responder(model: Any, tokenizer: Any, cfg: Any) -> Any:
    """Base-model answers for on-policy responses (greedy, same chat rendering as evaluation)."""
    from safetyalign.eval.generate import generate

    gen = replace(cfg.eval.generation, do_sample=False,
                  max_new_tokens=cfg.model.max_length - cfg.model.max_prompt_length)

    def respond(prompts: list[str]) -> list[str]:
        return generate(model, tokenizer, prompts, gen, system_prompt=cfg.model.system_prompt,
                        desc="on-policy answers")

    return respond


def _tokenizer(cfg: Any) -> Any:
    from safetyalign.errors import ModelLoadError
    from safetyalign.models.loading import load_tokenizer

    try:
        return load_tokenizer(cfg.model)
    except ModelLoadError as exc:
        log.warning("token statistics skipped: %s", exc)
        return None


def prepare_data(cfg: Any, run_dir: Path, model: Any = None, tokenizer: Any = None,
                 allow_generation: bool = True) -> PreparedData:
    """Build, fill on-policy answers (loading the model when not given), analyse and plot; see module docs."""
    from safetyalign.data import analyse, build_dataset, fill_on_policy
    from safetyalign.data.build import write_bundle
    from safetyalign.errors import DataError

    tokenizer = tokenizer if tokenizer is not None else _tokenizer(cfg)
    bundle = build_dataset(cfg, run_dir, tokenizer)
    if bundle.needs_generation:
        if not allow_generation:
            raise DataError("some data sources need on-policy answers from the base model; generate them in one "
                            "process first (safetyalign train without --num-processes, or the quickstart)")
        if model is None:
            from safetyalign.models.loading import load_model, load_tokenizer

            tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
            model = load_model(cfg.model, for_training=True)
        respond = responder(model, tokenizer, cfg)
        bundle.train = fill_on_policy(bundle.train, respond)
        bundle.eval = fill_on_policy(bundle.eval, respond) if bundle.eval else bundle.eval
        bundle.needs_generation = False
        write_bundle(bundle, run_dir)
    stats = analyse(bundle, tokenizer, run_dir / "data", run_dir / "plots", model_cfg=cfg.model)
    copy_plots([Path(p) for p in stats.get("plots", [])], Path(cfg.run.plots_dir))
    return PreparedData(bundle=bundle, model=model, tokenizer=tokenizer)


def copy_plots(plots: list[Path], plots_dir: Path) -> None:
    """Copy plots to the legacy folder (``plots/``) unless they already live there; a failure (read-only folder,
    a file in the way) is a warning: the run folder keeps them."""
    if not plots or plots_dir.resolve() == plots[0].parent.resolve():
        return
    try:
        plots_dir.mkdir(parents=True, exist_ok=True)
        for p in plots:
            shutil.copy2(p, plots_dir / p.name)
    except OSError as exc:
        log.warning("data plots not copied to %s: %s (they are in %s)", plots_dir, exc, plots[0].parent)
