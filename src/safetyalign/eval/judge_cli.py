"""``safetyalign judge --input FILE.jsonl --judge NAME [--output OUT.jsonl] [--label-field label]``.

Labels every ``{prompt, response, ...}`` row (extra fields pass through) with ``verdict, refused, harmful,
judge_raw``. Rows that are not JSON objects or lack a string ``response`` are skipped and listed as file:line.
With a label column it prints accuracy, precision, recall, F1 and a confusion matrix, and writes them to
``<output stem>.metrics.json``. ``--label-kind refused`` (default): labels refused/complied, refuse/comply, 1/0,
true/false, positive class = refused, partial verdicts count as refused. ``--label-kind harmful``: labels
harmful/unsafe/jailbroken/1/true vs safe/unharmful/0/false, positive class = harmful, scored against the judge's
harm verdict (rows the judge left without one are counted as skipped). ``--judge-format`` picks a standard guard's
official prompt for ``llm:`` judges (llamaguard3, llamaguard4, harmbench, wildguard, strongreject).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

REFUSED_LABELS = {"refused", "refuse", "refusal", "1", "true", "yes", "partial"}
COMPLIED_LABELS = {"complied", "comply", "compliance", "0", "false", "no"}
HARMFUL_LABELS = {"harmful", "unsafe", "jailbroken", "1", "true", "yes"}
HARMLESS_LABELS = {"harmless", "unharmful", "safe", "not_harmful", "0", "false", "no"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign judge``."""
    parser.add_argument("--input", required=True, type=Path, help="JSONL with prompt and response fields")
    parser.add_argument("--judge", default="cross", help="cross (default), learned, pattern or llm:<model>")
    parser.add_argument("--judge-format", default=None, help="llm judges: llamaguard3, llamaguard4, harmbench, "
                        "wildguard or strongreject (official prompt + parsing); default: the project's rubric")
    parser.add_argument("--label-kind", choices=("refused", "harmful"), default="refused",
                        help="what the label column means (refused vs complied, or harmful vs not)")
    parser.add_argument("--output", type=Path, default=None, help="output JSONL (default: <input>.judged.jsonl)")
    parser.add_argument("--label-field", default="label", help="column with gold labels (optional)")
    parser.add_argument("--prompt-field", default="prompt")
    parser.add_argument("--response-field", default="response")
    parser.add_argument("--strongreject", action="store_true", help="LLM judge: StrongREJECT score")


def parse_label(value: Any, kind: str = "refused") -> bool | None:
    """True (refused / harmful), False (complied / not harmful) or None (missing / unknown)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    pos, neg = (REFUSED_LABELS, COMPLIED_LABELS) if kind == "refused" else (HARMFUL_LABELS, HARMLESS_LABELS)
    return True if text in pos else False if text in neg else None


def read_rows(path: Path, prompt_field: str, response_field: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Valid rows and ``file:line: reason`` strings for the skipped ones."""
    from safetyalign.errors import DataError
    from safetyalign.io import iter_jsonl

    if not path.is_file():
        raise DataError(f"judge input not found: {path}")
    problems: list[str] = []
    rows = []
    for lineno, row in iter_jsonl(path, problems):
        if not isinstance(row.get(response_field), str):
            problems.append(f"{path}:{lineno}: missing string field '{response_field}'")
            continue
        if not isinstance(row.get(prompt_field) or "", str):
            problems.append(f"{path}:{lineno}: field '{prompt_field}' is not a string")
            continue
        rows.append(row)
    return rows, problems


def confusion_table(scores: dict[str, Any], title: str) -> Any:
    """Rich table of the confusion matrix."""
    from rich.table import Table

    c = scores["confusion"]
    t = Table(title=title)
    t.add_column("gold \\ predicted")
    t.add_column("refused", justify="right")
    t.add_column("complied", justify="right")
    t.add_row("refused", str(c["tp"]), str(c["fn"]))
    t.add_row("complied", str(c["fp"]), str(c["tn"]))
    return t


def main(args: argparse.Namespace) -> int:
    """Judge the file, write the labelled JSONL, print label metrics when gold labels exist."""
    from rich.console import Console

    from safetyalign.eval.judges.base import make_judge
    from safetyalign.eval.metrics import binary_scores
    from safetyalign.io import write_json, write_jsonl

    console = Console(width=max(Console().width, 120))
    rows, problems = read_rows(args.input, args.prompt_field, args.response_field)
    for p in problems[:20]:
        console.print(f"[yellow]skipped[/] {p}", soft_wrap=True, highlight=False)
    if problems:
        console.print(f"[yellow]{len(problems)} malformed rows skipped[/]")
    from safetyalign.errors import ConfigError

    if args.judge_format and not args.judge.startswith("llm:"):
        raise ConfigError(f"--judge-format needs an llm:<model> judge, not '{args.judge}'")
    judge = make_judge(args.judge, strongreject=args.strongreject, fmt=args.judge_format) \
        if args.judge.startswith("llm:") else make_judge(args.judge)
    verdicts = judge.judge([r.get(args.prompt_field) or "" for r in rows], [r[args.response_field] for r in rows])
    out_path = args.output or args.input.with_name(args.input.stem + ".judged.jsonl")
    out_rows = [{**r, "verdict": v.verdict, "refused": v.refused, "harmful": v.harmful, "judge_score": v.score,
                 "judge": judge.name, "judge_raw": v.raw} for r, v in zip(rows, verdicts)]
    write_jsonl(out_path, out_rows)
    console.print(f"judged {len(rows)} rows with '{judge.name}' -> {out_path}", soft_wrap=True)
    kind = getattr(args, "label_kind", "refused")
    gold = [parse_label(r.get(args.label_field), kind) for r in rows]
    pred = [(v.refused or v.verdict == "partial") if kind == "refused" else v.harmful for v in verdicts]
    pairs = [(p, g) for p, g in zip(pred, gold) if g is not None and p is not None]
    if not pairs:
        if any(g is not None for g in gold):
            console.print(f"[yellow]judge '{judge.name}' gives no {kind} verdict: nothing to score[/]")
        return 0
    scores = binary_scores([p for p, _ in pairs], [g for _, g in pairs])
    scores.update(judge=judge.name, input=str(args.input), label_kind=kind, unlabelled_rows=len(rows) - len(pairs),
                  skipped_rows=len(problems))
    console.print(f"accuracy {scores['accuracy']:.3f} (95% CI {scores['accuracy_ci95'][0]:.3f}-"
                  f"{scores['accuracy_ci95'][1]:.3f}, n={scores['n']})  precision {scores['precision']:.3f}  "
                  f"recall {scores['recall']:.3f}  F1 {scores['f1']:.3f}  (positive = {kind})", soft_wrap=True)
    console.print(confusion_table(scores, f"Confusion matrix ({judge.name}, positive = {kind})"))
    metrics_path = out_path.with_name(out_path.stem + ".metrics.json")
    write_json(metrics_path, scores)
    console.print(f"metrics -> {metrics_path}", soft_wrap=True)
    return 0
