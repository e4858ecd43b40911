"""Evaluation outputs written as rows go by: ``generations_<model>.jsonl`` and ``evaluation_results.json``.

Each chunk's rows are appended to hidden temp files next to the targets and counted into a streaming
:class:`~safetyalign.eval.metrics.MetricCounter`; :meth:`StreamedOutputs.finish` then renames the generation files
into place and streams the records into ``evaluation_results.json`` (temp file + rename). Memory does not grow with
the number of prompts, and a kill at any point leaves the previous complete files (or none), never a torn one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, TextIO

from safetyalign.eval.metrics import MetricCounter
from safetyalign.eval.suites import SuitePrompt


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _close(fh: TextIO) -> None:
    if not fh.closed:
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()


class StreamedOutputs:
    """Temp files for the generations of each model and for the combined records, plus metric counters."""

    def __init__(self, out_dir: Path, models: list[str], keep_records: bool, timings: Any):
        self.dir, self.models, self.timings = Path(out_dir), models, timings
        for stale in [*self.dir.glob(".generations_*.tmp*"), *self.dir.glob(".records.jsonl.tmp*"),
                      *self.dir.glob(".evaluation_results.json.tmp*")]:
            stale.unlink(missing_ok=True)  # left by a killed evaluation
        tag = f".tmp{os.getpid()}"
        self.gen_paths = {k: self.dir / f".generations_{k}.jsonl{tag}" for k in models}
        self.gen_files = {k: open(p, "w", encoding="utf-8") for k, p in self.gen_paths.items()}
        self.rec_path = self.dir / f".records.jsonl{tag}"
        self.rec_file = open(self.rec_path, "w", encoding="utf-8")
        self.counters = {k: MetricCounter() for k in models}
        self.records: list[dict[str, Any]] | None = [] if keep_records else None

    def add(self, chunk: list[SuitePrompt], rows: dict[str, list[dict[str, Any]]], keys: dict[str, str]) -> None:
        """Write and count one chunk's rows (``rows[model][i]`` belongs to ``chunk[i]``)."""
        for i, p in enumerate(chunk):
            base = p.to_dict()
            for k in self.models:
                self.gen_files[k].write(_dumps({**base, **rows[k][i], "gen_key": keys[k]}) + "\n")
                self.counters[k].add(base, rows[k][i])
            record = {**base, **{k: rows[k][i] for k in self.models}}
            self.rec_file.write(_dumps(record) + "\n")
            if self.records is not None:
                self.records.append(record)

    def finish(self, head: dict[str, Any], legacy: Path | None) -> Path:
        """Put the generation files in place and write ``evaluation_results.json`` (+ the legacy copy)."""
        for k, fh in self.gen_files.items():
            _close(fh)
            os.replace(self.gen_paths[k], self.dir / f"generations_{k}.jsonl")
        _close(self.rec_file)
        target = self.dir / "evaluation_results.json"
        tmp = self.dir / f".evaluation_results.json.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh, open(self.rec_path, encoding="utf-8") as records:
            text = json.dumps(head, indent=2, ensure_ascii=False, default=str)
            fh.write(text[:-2] + ',\n  "records": [')
            for i, line in enumerate(records):
                fh.write(("," if i else "") + "\n    " + line.rstrip("\n"))
            fh.write("\n  ]\n}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        if legacy is not None and legacy.resolve() != target.resolve():
            legacy.parent.mkdir(parents=True, exist_ok=True)
            ltmp = legacy.with_name(f".{legacy.name}.tmp{os.getpid()}")
            shutil.copyfile(target, ltmp)
            os.replace(ltmp, legacy)
        return target

    def cleanup(self) -> None:
        """Close and remove whatever temp file is left (after an error)."""
        for fh in [*self.gen_files.values(), self.rec_file]:
            if not fh.closed:
                fh.close()
        for path in [*self.gen_paths.values(), self.rec_path]:
            path.unlink(missing_ok=True)
