#!/usr/bin/env python
"""Base vs tuned side by side: dataset samples, metrics, transitions and examples -> output/compare_results.json.

    python scripts/compare_safety.py [--do-sample] [--temperature 0.9] [--max-new-tokens 256] [CONFIG --adapter DIR]

Without CONFIG it uses the last training run (the config stored in output/dpo_lora, and that adapter). The original
snake_case flags (--do_sample, --max_new_tokens, --top_p) work too. Same as ``safetyalign compare ...``; runs with
the project's .venv when ``python`` itself does not have the package.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    os.chdir(ROOT)
    try:
        from safetyalign.cli import main
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if not venv_python.is_file() or Path(sys.prefix).resolve() == venv_python.parent.parent.resolve():
            sys.exit("safetyalign is not installed: python3 scripts/dev.py setup (or uv sync, or pip install -e .)")
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
    raise SystemExit(main(["compare", *sys.argv[1:]]))
