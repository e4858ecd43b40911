"""``safetyalign judge --input FILE.jsonl --judge NAME [--output OUT.jsonl] [--label-field label]``.

Labels every ``{prompt, response, ...}`` row (extra fields pass through) with ``verdict, refused, harmful,
judge_raw``. Rows that are not JSON objects or lack a string ``response`` are skipped and listed as file:line.
With a label column (refused/complied, refuse/comply, 1/0, true/false) it prints accuracy, precision, recall, F1
(positive class = refused; partial verdicts count as refused) and a confusion matrix, and writes them to
``<output stem>.metrics.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

REFUSED_LABELS = {"refused", "refuse", "refusal", "1", "true", "yes", "partial"}
COMPLIED_LABELS = {"complied", "comply", "compliance", "0", "false", "no"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign judge``."""
    parser.add_argument("--input", required=True, type=Path, help="JSONL with prompt and response fields")
    parser.add_argument("--judge", default="pattern", help="pattern, learned or llm:<model>")
    parser.add_argument("--output", type=Path, default=None, help="output JSONL (default: <input>.judged.jsonl)")
    parser.add_argument("--label-field", default="label", help="column with gold labels (optional)")
    parser.add_argument("--prompt-field", default="prompt")
    parser.add_argument("--response-field", default="response")
    parser.add_argument("--strongreject", action="store_true", help="LLM judge: StrongREJECT score")


def parse_label(value: Any) -> bool | None:
    """True (refused), False (complied) or None (missing / unknown)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return True if text in REFUSED_LABELS else False if text in COMPLIED_LABELS else None


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

    from safetyalign.eval.judges.registry import make_judge
    from safetyalign.eval.metrics import binary_scores
    from safetyalign.io import write_json, write_jsonl

    console = Console(width=max(Console().width, 120))
    rows, problems = read_rows(args.input, args.prompt_field, args.response_field)
    for p in problems[:20]:
        console.print(f"[yellow]skipped[/] {p}", soft_wrap=True, highlight=False)
    if problems:
        console.print(f"[yellow]{len(problems)} malformed rows skipped[/]")
    judge = make_judge(args.judge, strongreject=args.strongreject) if args.judge.startswith("llm:") \
        else make_judge(args.judge)
    verdicts = judge.judge([r.get(args.prompt_field) or "" for r in rows], [r[args.response_field] for r in rows])
    out_path = args.output or args.input.with_name(args.input.stem + ".judged.jsonl")
    out_rows = [{**r, "verdict": v.verdict, "refused": v.refused, "harmful": v.harmful, "judge_score": v.score,
                 "judge": judge.name, "judge_raw": v.raw} for r, v in zip(rows, verdicts)]
    write_jsonl(out_path, out_rows)
    console.print(f"judged {len(rows)} rows with '{judge.name}' -> {out_path}", soft_wrap=True)
    gold = [parse_label(r.get(args.label_field)) for r in rows]
    pairs = [(v.refused or v.verdict == "partial", g) for v, g in zip(verdicts, gold) if g is not None]
    if not pairs:
        return 0
    scores = binary_scores([p for p, _ in pairs], [g for _, g in pairs])
    scores.update(judge=judge.name, input=str(args.input), unlabelled_rows=len(rows) - len(pairs),
                  skipped_rows=len(problems))
    console.print(f"accuracy {scores['accuracy']:.3f} (95% CI {scores['accuracy_ci95'][0]:.3f}-"
                  f"{scores['accuracy_ci95'][1]:.3f}, n={scores['n']})  precision {scores['precision']:.3f}  "
                  f"recall {scores['recall']:.3f}  F1 {scores['f1']:.3f}  (positive = refused)", soft_wrap=True)
    console.print(confusion_table(scores, f"Confusion matrix ({judge.name})"))
    metrics_path = out_path.with_name(out_path.stem + ".metrics.json")
    write_json(metrics_path, scores)
    console.print(f"metrics -> {metrics_path}", soft_wrap=True)
    return 0
