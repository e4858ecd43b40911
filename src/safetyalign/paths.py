"""Where things live: the shared data folder, the project root, caches."""

from __future__ import annotations

import os
from pathlib import Path

from safetyalign.errors import DataError


def project_root() -> Path:
    """The checkout root when running from a source tree, else the current directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "safetyalign").is_dir():
            return parent
    return Path.cwd()


def shared_data_dir(required: bool = True) -> Path | None:
    """``$SAFETYALIGN_SHARED_DATA`` or ``../shared/data`` next to the checkout (or the working directory)."""
    env = os.environ.get("SAFETYALIGN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [project_root().parent / "shared" / "data", Path.cwd().parent / "shared" / "data",
                   Path.cwd() / "shared" / "data"]
    for cand in candidates:
        if (cand / "MANIFEST.md").is_file() or cand.is_dir() and any(cand.iterdir()):
            return cand.resolve()
    if required:
        raise DataError("shared data folder not found: set SAFETYALIGN_SHARED_DATA=/path/to/shared/data "
                        "(expected ../shared/data next to the checkout)")
    return None


def resolve_data_path(path: str) -> Path:
    """Expand ``shared:coconot/coconot_pref.jsonl`` (shared data folder) and ``pkg:data/recipe_data/x.jsonl``
    (files shipped inside the safetyalign package); other paths stay as given. A ``shared:`` or ``pkg:`` path that
    leads outside its folder (``shared:../../etc``) is a :class:`DataError`."""
    if path.startswith("shared:"):
        return confined(shared_data_dir(), path[len("shared:"):], path)  # type: ignore[arg-type]
    if path.startswith("pkg:"):
        return confined(Path(__file__).resolve().parent, path[len("pkg:"):], path)
    return Path(path).expanduser()


def confined(root: Path, relative: str, shown: str) -> Path:
    """``root / relative``, refusing a result that resolves outside ``root`` (``..`` parts, symlinks)."""
    target = root / relative.lstrip("/")
    if not target.resolve().is_relative_to(root.resolve()):
        raise DataError(f"{shown}: path leads outside {root}")
    return target


def cache_dir() -> Path:
    """``$SAFETYALIGN_CACHE`` or ``~/.cache/safetyalign`` (dequantized models, judge weights)."""
    path = Path(os.environ.get("SAFETYALIGN_CACHE", Path.home() / ".cache" / "safetyalign"))
    path.mkdir(parents=True, exist_ok=True)
    return path
