"""Logging to the console (rich when available) and to ``logs/<run>.log`` plus the run folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

LOGGER_NAME = "safetyalign"
_FMT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str | None = None) -> logging.Logger:
    """The project logger (or a child of it)."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name.removeprefix('safetyalign.')}")


def setup_logging(level: str | None = None, log_files: list[Path] | None = None) -> logging.Logger:
    """Configure console logging once and add file handlers (idempotent per file)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level or os.environ.get("SAFETYALIGN_LOG_LEVEL", "INFO"))
    logger.propagate = False
    if not any(getattr(h, "_sa_console", False) for h in logger.handlers):
        try:
            from rich.logging import RichHandler

            console: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
            console.setFormatter(logging.Formatter("%(message)s"))
        except ImportError:  # pragma: no cover - rich is a core dependency
            console = logging.StreamHandler()
            console.setFormatter(logging.Formatter(_FMT))
        console._sa_console = True  # type: ignore[attr-defined]
        logger.addHandler(console)
    existing = {getattr(h, "baseFilename", None) for h in logger.handlers}
    for path in log_files or []:
        path = Path(path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        if str(path) in existing:
            continue
        fh = logging.FileHandler(path, encoding="utf-8")
        fh.setFormatter(logging.Formatter(_FMT))
        logger.addHandler(fh)
    return logger
