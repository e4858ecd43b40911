"""Training engines behind one contract (:class:`safetyalign.engines.base.Engine`): ``trl``, ``fast``,
``prefix_cache`` and ``unsloth``. ``train.backend: auto`` picks the fastest engine that supports the config
(fast > prefix_cache > trl; unsloth only when asked) and logs why each faster one was passed over."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safetyalign.engines.base import Engine
from safetyalign.engines.fast import FastEngine
from safetyalign.engines.prefix_cache import PrefixCacheEngine
from safetyalign.engines.trl import TRLEngine
from safetyalign.engines.unsloth import UnslothEngine
from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig

log = get_logger(__name__)
ENGINES: dict[str, Engine] = {e.name: e for e in (FastEngine(), PrefixCacheEngine(), TRLEngine(), UnslothEngine())}


def get_engine(name: str) -> Engine:
    """The engine registered as ``name`` (a one-line error listing the names otherwise)."""
    if name not in ENGINES:
        raise ConfigError(f"train.backend: unknown backend '{name}' (use auto, {', '.join(ENGINES)})")
    return ENGINES[name]


def select_engine(cfg: ExperimentConfig) -> Engine:
    """``train.backend`` resolved: the named engine, or for ``auto`` the fastest one that supports ``cfg``."""
    if cfg.train.backend != "auto":
        return get_engine(cfg.train.backend)
    passed = []
    for engine in sorted((e for e in ENGINES.values() if e.auto_rank is not None), key=lambda e: e.auto_rank):
        reason = engine.supports(cfg) or getattr(engine, "auto_reason", lambda c: None)(cfg)
        if reason is None:
            log.info("train.backend=auto: %s%s", engine.name,
                     f" (passed over: {'; '.join(passed)})" if passed else " (the fastest engine)")
            return engine
        passed.append(f"{engine.name}: {reason}")
    raise ConfigError(f"train.backend=auto: no engine supports this config ({'; '.join(passed)})")


__all__ = ["ENGINES", "Engine", "get_engine", "select_engine"]
