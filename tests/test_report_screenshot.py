"""Render a report in headless Chromium (skipped when chromium is not installed, e.g. on CI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from safetyalign.report import write_report
from test_report_fixtures import make_fake_run

ROOT = Path(__file__).resolve().parent.parent
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(BROWSER is None, reason="chromium not installed")
def test_screenshot_script_renders_report(tmp_path):
    run = make_fake_run(tmp_path / "run", real_plots=False)
    write_report(run)
    out = tmp_path / "shot.png"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "screenshot_report.sh"), str(run), str(out), "1280x2000"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (1280, 2000)
        colours = im.convert("RGB").resize((64, 100)).getcolors(64 * 100)
    assert colours is not None and len(colours) > 20  # a rendered page, not a blank canvas


def test_screenshot_script_errors_on_missing_report(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "screenshot_report.sh"), str(tmp_path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "not found" in proc.stderr
