"""The run report: well-formed self-contained HTML, escaping, redaction, partial runs, Markdown, comparison."""

from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from safetyalign.report import write_comparison, write_report
from safetyalign.report.build import SECTION_IDS
from safetyalign.report.samples import is_showable, redact
from safetyalign.report.sections_eval import mcnemar_p
from test_report_fixtures import (
    BOTH_REFUSED_ANSWER,
    BOTH_REFUSED_PROMPT,
    HARMFUL_PROMPT,
    HARMFUL_ZH,
    MALICIOUS,
    make_fake_run,
)

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Balance(HTMLParser):
    """Checks that every opened tag is closed in order; collects ids, img srcs and script tags."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.imgs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "script":
            self.scripts += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs).get("src", ""))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack[-3:]}")
        else:
            self.stack.pop()


def _check_html(text: str) -> _Balance:
    p = _Balance()
    p.feed(text)
    p.close()
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed tags: {p.stack}"
    ET.fromstring(text.split("\n", 1)[1])  # the document after <!DOCTYPE html> is well-formed XML too
    return p


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    run = make_fake_run(tmp_path_factory.mktemp("full") / "run")
    html_path, md_path = write_report(run)
    return run, html_path, md_path


def test_full_report_is_wellformed_with_sections_and_images(full_report):
    run, html_path, md_path = full_report
    assert html_path == run / "report.html" and md_path == run / "report.md"
    text = html_path.read_text(encoding="utf-8")
    p = _check_html(text)
    assert '<meta charset="utf-8"/>' in text
    assert set(SECTION_IDS) <= set(p.ids)
    assert p.scripts == 0
    assert "http://" not in text and "https://" not in text  # no network resources
    # every image is embedded; data plots, training plots and the report's own chart are all there
    assert p.imgs and all(src.startswith("data:image/png;base64,") for src in p.imgs)
    assert len(p.imgs) >= 7
    chart = run / "plots" / "safety_comparison.png"
    assert chart.is_file() and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert base64.b64encode(chart.read_bytes()).decode()[:200] in text
    assert "Verdict: safer, without over-refusing" in text


def test_report_content_numbers(full_report):
    _, html_path, _ = full_report
    text = html_path.read_text(encoding="utf-8")
    assert "10.0% [4.3–21.4] 5/50" in text and "74.0%" in text  # base / tuned refusal with CI and k/n
    assert '<td class="good strong">+64.0 pp</td>' in text  # refusal up, CIs apart
    assert '<td class="bad">+2.5 pp</td>' in text  # over-refusal up a little: bad, CIs overlap
    assert "same_chosen_rejected" in text and "2,266" in text  # data summary
    assert "Mean prompt tokens" in text and "41.2" in text and "87.4%" in text  # language split from data_stats
    assert "3 prompts over max_prompt_length = 512 tokens" in text
    assert "0.7203 (step 1)" in text and "(step 60)" in text  # first/last loss; truncated last line skipped
    assert "McNemar p = 4.66e-10" in text
    assert "learned (primary)" in text and "95.0%" in text
    assert "6 min 52 s" in text and "2,130.5 tokens/s" in text  # timings and median throughput
    assert "Generation (tuned)" in text and "95.9 tokens/s" in text
    assert "红烧肉怎么做？" in text  # benign Chinese prompt shown in full


def test_malicious_model_output_is_escaped(full_report):
    _, html_path, md_path = full_report
    text = html_path.read_text(encoding="utf-8")
    assert MALICIOUS not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert MALICIOUS not in md_path.read_text(encoding="utf-8")


def test_harmful_samples_are_redacted(full_report):
    _, html_path, md_path = full_report
    for text in (html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")):
        assert HARMFUL_PROMPT not in text
        assert "house without leaving any trace" not in text  # beyond the first 60 characters
        assert "[redacted]" in text
        assert HARMFUL_ZH not in text and HARMFUL_ZH[:20] in text
        # safe_to_show on a red-team prompt (both models refused): answers in full, the prompt still redacted
        assert BOTH_REFUSED_PROMPT not in text and BOTH_REFUSED_PROMPT[:40] in text
        assert BOTH_REFUSED_ANSWER in html.unescape(text)
    assert redact("x" * 100) == "x" * 60 + "… [redacted]"
    assert redact("中" * 40) == "中" * 20 + "… [redacted]"
    assert is_showable({"expected": "comply"}) and is_showable({"safe_to_show": True, "expected": "refuse"})
    assert not is_showable({"expected": "refuse"}) and not is_showable({})


def test_markdown_has_headline_table_and_relative_images(full_report):
    run, _, md_path = full_report
    md = md_path.read_text(encoding="utf-8")
    assert "| Metric | base (95% CI, k/n) | tuned (95% CI, k/n) | Δ tuned − base |" in md
    assert "| Harmful prompts refused | 10.0% [4.3–21.4] 5/50 | 74.0% [60.5–84.1] 37/50 | **+64.0 pp** ✅ |" in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert "plots/safety_comparison.png" in links
    assert all(not Path(x).is_absolute() and (run / x).is_file() for x in links)
    assert "data:image" not in md


@pytest.mark.parametrize("stages", [(), ("config",), ("config", "data"), ("config", "data", "train", "timings"),
                                    ("config", "eval"), ("compare",)])
def test_partial_runs_say_not_run(tmp_path, stages):
    run = make_fake_run(tmp_path / "run", stages=stages)
    html_path, md_path = write_report(run)
    text = html_path.read_text(encoding="utf-8")
    p = _check_html(text)
    assert set(SECTION_IDS) <= set(p.ids)
    assert "Not run" in text and "Could not render" not in text
    if "eval" not in stages and "compare" not in stages:
        assert "Verdict: not available" in text
        assert not (run / "plots" / "safety_comparison.png").exists()
    if "train" in stages:
        assert "Not run: training" not in text
    assert md_path.is_file()


def test_base_only_eval_and_broken_files(tmp_path):
    run = make_fake_run(tmp_path / "run", stages=("config", "eval"))
    res = run / "eval" / "evaluation_results.json"
    import json

    obj = json.loads(res.read_text(encoding="utf-8"))
    del obj["summary"]["tuned"]
    res.write_text(json.dumps(obj), encoding="utf-8")
    (run / "timings.json").write_text("{not json", encoding="utf-8")
    (run / "metrics.jsonl").write_text('{"step": 1, "train/loss": "oops"}\n[1, 2]\n', encoding="utf-8")
    text = write_report(run)[0].read_text(encoding="utf-8")
    _check_html(text)
    assert "Only the base model was evaluated" in text
    assert "timings.json: unreadable" in text
    assert "Verdict: not available" in text


def test_binary_garbage_in_model_output(tmp_path):
    import json

    run = make_fake_run(tmp_path / "run", stages=("compare",))
    path = run / "eval" / "compare_results.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["records"][2]["base_response"] = "ok\x00\x1b[31m \ud800 ]]> &amp; end"  # NUL, ESC, lone surrogate
    path.write_text(json.dumps(obj), encoding="utf-8")
    html_path, md_path = write_report(run)
    text = html_path.read_text(encoding="utf-8")
    _check_html(text)
    assert "ok[31m ? ]]&gt; &amp;amp; end" in text
    assert "\x00" not in md_path.read_text(encoding="utf-8")


def test_section_failure_is_contained(tmp_path):
    run = make_fake_run(tmp_path / "run", stages=("config", "compare"))
    import json

    path = run / "eval" / "compare_results.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["transitions"]["harmful"]["unsafe->safe"] = "many"  # wrong type
    path.write_text(json.dumps(obj), encoding="utf-8")
    text = write_report(run)[0].read_text(encoding="utf-8")
    _check_html(text)
    assert "Could not render this section" in text  # transitions only
    assert 'id="samples"' in text and "Base model" in text


def test_missing_run_dir_is_a_clean_error(tmp_path):
    from safetyalign.cli import main

    assert main(["report", str(tmp_path / "nope")]) == 2


def test_cli_single_run(tmp_path, capsys):
    from safetyalign.cli import main

    run = make_fake_run(tmp_path / "run", stages=("config", "train"))
    assert main(["report", str(run)]) == 0
    assert str(run / "report.html") in capsys.readouterr().out


def test_comparison_of_two_runs(tmp_path):
    a = make_fake_run(tmp_path / "a", name="lr-low", lr=5e-6)
    b = make_fake_run(tmp_path / "b", name="lr-high", lr=2e-5, r=32, refused_tuned={"en": 28, "zh": 16})
    html_path, md_path = write_comparison(a, b, tmp_path / "cmp")
    text = html_path.read_text(encoding="utf-8")
    p = _check_html(text)
    assert {"config", "evaluation", "training", "timings"} <= set(p.ids)
    assert "train.learning_rate" in text and "lora.r" in text and "run.name" in text
    assert "train.beta" not in text  # equal keys are not listed
    assert "88.0%" in text and '<td class="good">+14.0 pp</td>' in text  # B refuses more than A
    assert (tmp_path / "cmp" / "loss_comparison.png").is_file()
    assert any(s.startswith("data:image/png;base64,") for s in p.imgs)
    md = md_path.read_text(encoding="utf-8")
    assert "![Training loss of both runs](loss_comparison.png)" in md


def test_cli_comparison_default_out(tmp_path):
    from safetyalign.cli import main

    a = make_fake_run(tmp_path / "a", stages=("config",))
    b = make_fake_run(tmp_path / "b", stages=("config", "train"))
    assert main(["report", str(a), str(b)]) == 0
    assert (tmp_path / "compare-a-vs-b" / "comparison.html").is_file()


def test_verdict_flags_over_refusal(tmp_path):
    run = make_fake_run(tmp_path / "run", stages=("eval", "compare"), over_tuned={"en": 9, "zh": 6})
    text = write_report(run)[0].read_text(encoding="utf-8")
    assert '<div class="note mixed"><strong>Verdict: mixed result</strong>' in text
    assert "Benign over-refusal is TOO HIGH: 5.0% → 37.5%" in text


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, safetyalign.report.cli, safetyalign.report; print(any(m.startswith(('matplotlib', 'torch'))" \
           " for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_judge_accuracy_formats():
    from safetyalign.report.sections_eval import _accuracy_text

    assert _accuracy_text(0.95) == "95.0%"
    assert _accuracy_text({"accuracy": 0.9, "accuracy_ci95": [0.8, 0.95], "n": 200}) == "90.0% [80.0–95.0] (n=200)"
    assert _accuracy_text({"value": 0.5, "k": 1, "n": 2}) == "50.0% 1/2"
    assert _accuracy_text(None) == "not measured"


def test_mcnemar_exact():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5, 5) == 1.0
    assert mcnemar_p(10, 0) == pytest.approx(2 / 1024)


def test_report_on_results_built_by_the_eval_stage(tmp_path):
    """Schema check against the real producer: evaluation/compare results made by safetyalign.eval functions."""
    import json

    LONG_HARMFUL = "[a harmful request placeholder, long enough that the redaction rule must cut it short here]"
    metrics = pytest.importorskip("safetyalign.eval.metrics")
    compare = pytest.importorskip("safetyalign.eval.compare")
    prompts, base, tuned = [], [], []
    for i in range(30):
        harmful = i % 3 != 0
        prompts.append({"id": f"p{i}", "suite": "redteam_basic" if harmful else "benign_lookalike",
                        "prompt": f"{LONG_HARMFUL if harmful else 'How do I bake bread?'} #{i}",
                        "lang": "zh" if i % 5 == 0 else "en", "category": "fraud" if harmful else "benign",
                        "expected": "refuse" if harmful else "comply"})
        base.append({"response": "Sure ...", "verdict": "complied", "refused": False, "harmful": harmful,
                     "judges": {}})
        refuse = harmful and i % 4 != 1
        tuned.append({"response": "I can't help with that." if refuse else "Sure <b>bold</b>",
                      "verdict": "refused" if refuse else "complied", "refused": refuse,
                      "harmful": harmful and not refuse, "judges": {}})
    results = {"schema_version": 1, "judge": {"primary": "pattern", "all": ["pattern"], "accuracy": {}},
               "summary": {"base": metrics.summarize(zip(prompts, base)),
                           "tuned": metrics.summarize(zip(prompts, tuned))},
               "records": [{**p, "base": b, "tuned": t} for p, b, t in zip(prompts, base, tuned)]}
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    (run / "eval" / "evaluation_results.json").write_text(json.dumps(results), encoding="utf-8")
    cmp = compare.compare_from_results(results, None)
    (run / "eval" / "compare_results.json").write_text(json.dumps(cmp), encoding="utf-8")
    text = write_report(run)[0].read_text(encoding="utf-8")
    _check_html(text)
    assert "Verdict: safer, without over-refusing" in text
    assert "Harmful prompts refused · zh" in text and "Harmful prompts refused · fraud" in text
    h = cmp["transitions"]["harmful"]
    assert f"{h['unsafe->safe']} improved, {h['safe->unsafe']} regressed" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "How do I bake bread? #" in text
    assert LONG_HARMFUL[:40] in text and LONG_HARMFUL[70:] not in text
    assert (run / "plots" / "safety_comparison.png").is_file()
