"""``safetyalign judge --input FILE.jsonl --judge NAME [--output OUT.jsonl] [--label-field label]``.

Labels every ``{prompt, response, ...}`` row (extra fields pass through) with ``verdict, refused, harmful,
judge_raw``. Rows that are not JSON objects or lack a string ``response`` are skipped and listed as file:line.
With a label column it prints accuracy, precision, recall, F1 and a confusion matrix, and writes them to
``<output stem>.metrics.json``. ``--label-kind refused`` (default): labels refused/complied, refuse/comply, 1/0,
true/false, positive class = refused, partial verdicts count as refused. ``--label-kind harmful``: labels
harmful/unsafe/jailbroken/1/true vs safe/unharmful/0/false, positive class = harmful, scored against the judge's
harm verdict (rows the judge left without one are not scored). ``--judge-format`` picks a standard guard's official
prompt and parsing for ``llm:`` judges (llamaguard3, llamaguard4, harmbench, wildguard, strongreject).

Rows are read, judged and written in chunks of ``CHUNK`` (any judge), so memory does not grow with the file: only
confusion counts and the first skipped-row messages are kept. The output appears complete (temp file + rename).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK = 1024
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
    parser.add_argument("--prompt-field", default="prompt", help="column with the prompt (default prompt)")
    parser.add_argument("--response-field", default="response", help="column with the response (default response)")
    parser.add_argument("--strongreject", action="store_true", help="LLM judge: StrongREJECT score")


def parse_label(value: Any, kind: str = "refused") -> bool | None:
    """True (refused / harmful), False (complied / not harmful) or None (missing / unknown)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    pos, neg = (REFUSED_LABELS, COMPLIED_LABELS) if kind == "refused" else (HARMFUL_LABELS, HARMLESS_LABELS)
    return True if text in pos else False if text in neg else None


def iter_rows(path: Path, prompt_field: str, response_field: str,
              problems: list[str]) -> Iterator[dict[str, Any]]:
    """Valid rows, one at a time; ``file:line: reason`` for each skipped one is appended to ``problems``."""
    from safetyalign.errors import DataError
    from safetyalign.io import iter_jsonl

    if not path.is_file():
        raise DataError(f"judge input not found: {path}")
    for lineno, row in iter_jsonl(path, problems):
        if not isinstance(row.get(response_field), str):
            problems.append(f"{path}:{lineno}: missing string field '{response_field}'")
            continue
        if not isinstance(row.get(prompt_field) or "", str):
            problems.append(f"{path}:{lineno}: field '{prompt_field}' is not a string")
            continue
        yield row


def read_rows(path: Path, prompt_field: str, response_field: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Valid rows and ``file:line: reason`` strings for the skipped ones (whole file in memory)."""
    problems: list[str] = []
    rows = list(iter_rows(path, prompt_field, response_field, problems))
    return rows, problems


class _Problems(list):
    """Keeps the first ``keep`` skipped-row messages (printed as they come) and counts all of them."""

    def __init__(self, console: Any, keep: int = 20):
        super().__init__()
        self.console, self.keep, self.count = console, keep, 0

    def append(self, item: str) -> None:  # type: ignore[override]
        self.count += 1
        if self.count <= self.keep:
            super().append(item)
            self.console.print(f"[yellow]skipped[/] {item}", soft_wrap=True, highlight=False)


def confusion_table(scores: dict[str, Any], title: str, kind: str = "refused") -> Any:
    """Rich table of the confusion matrix."""
    from rich.table import Table

    pos, neg = ("refused", "complied") if kind == "refused" else ("harmful", "not harmful")
    c = scores["confusion"]
    t = Table(title=title)
    t.add_column("gold \\ predicted")
    t.add_column(pos, justify="right")
    t.add_column(neg, justify="right")
    t.add_row(pos, str(c["tp"]), str(c["fn"]))
    t.add_row(neg, str(c["fp"]), str(c["tn"]))
    return t


def _judge_stream(args: argparse.Namespace, judge: Any, rows: Iterator[dict[str, Any]], out: Any) -> tuple:
    """Judge ``rows`` chunk by chunk, writing each labelled row to ``out``; returns (rows, confusion counts)."""
    from itertools import islice

    n, confusion = 0, {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    kind = getattr(args, "label_kind", "refused")
    while chunk := list(islice(rows, CHUNK)):
        prompts = [r.get(args.prompt_field) or "" for r in chunk]
        verdicts = judge.judge(prompts, [r[args.response_field] for r in chunk])
        for r, v in zip(chunk, verdicts):
            out.write(json.dumps({**r, "verdict": v.verdict, "refused": v.refused, "harmful": v.harmful,
                                  "judge_score": v.score, "judge": judge.name, "judge_raw": v.raw},
                                 ensure_ascii=False, default=str) + "\n")
            gold = parse_label(r.get(args.label_field), kind)
            pred = bool(v.refused or v.verdict == "partial") if kind == "refused" else v.harmful
            if gold is not None and pred is not None:
                confusion[("t" if pred == gold else "f") + ("p" if pred else "n")] += 1
        n += len(chunk)
    return n, confusion


def main(args: argparse.Namespace) -> int:
    """Judge the file, write the labelled JSONL, print label metrics when gold labels exist."""
    import os

    from rich.console import Console

    from safetyalign.errors import ConfigError
    from safetyalign.eval.judges.registry import make_judge
    from safetyalign.eval.metrics import scores_from_confusion
    from safetyalign.io import write_json

    console = Console(width=max(Console().width, 120))
    if args.judge_format and not args.judge.startswith("llm:"):
        raise ConfigError(f"--judge-format needs an llm:<model> judge, not '{args.judge}'")
    judge = make_judge(args.judge, strongreject=args.strongreject, fmt=args.judge_format) \
        if args.judge.startswith("llm:") else make_judge(args.judge)
    kind = getattr(args, "label_kind", "refused")
    problems = _Problems(console)
    rows = iter_rows(args.input, args.prompt_field, args.response_field, problems)
    out_path = args.output or args.input.with_name(args.input.stem + ".judged.jsonl")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            n, confusion = _judge_stream(args, judge, rows, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    if problems.count:
        console.print(f"[yellow]{problems.count} malformed rows skipped[/]")
    console.print(f"judged {n} rows with '{judge.name}' -> {out_path}", soft_wrap=True)
    labelled = sum(confusion.values())
    if not labelled:
        if kind == "harmful" and args.label_field:
            console.print(f"[yellow]nothing scored: judge '{judge.name}' gives no harmful verdict or the "
                          f"'{args.label_field}' column has no harm labels[/]")
        return 0
    scores = scores_from_confusion(**confusion)
    scores.update(judge=judge.name, input=str(args.input), label_kind=kind, unlabelled_rows=n - labelled,
                  skipped_rows=problems.count)
    console.print(f"accuracy {scores['accuracy']:.3f} (95% CI {scores['accuracy_ci95'][0]:.3f}-"
                  f"{scores['accuracy_ci95'][1]:.3f}, n={scores['n']})  precision {scores['precision']:.3f}  "
                  f"recall {scores['recall']:.3f}  F1 {scores['f1']:.3f}  (positive = {kind})", soft_wrap=True)
    console.print(confusion_table(scores, f"Confusion matrix ({judge.name})", kind))
    metrics_path = out_path.with_name(out_path.stem + ".metrics.json")
    write_json(metrics_path, scores)
    console.print(f"metrics -> {metrics_path}", soft_wrap=True)
    return 0
