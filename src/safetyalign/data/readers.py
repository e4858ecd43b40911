"""Read raw rows from a local file/folder (JSONL, JSON, CSV, parquet, optionally .gz) or a hub dataset.

Every row comes with a location string ``file:row`` for error messages. Split expressions such as
``train[:2000]``, ``train[100:200]`` or ``train[:10%]`` follow the ``datasets`` slicing syntax and are applied to
local files too. A file that cannot be read at all raises a one-line :class:`DataError` naming it; a row with bytes
that are not UTF-8 is kept as an invalid row with reason ``encoding`` (skipped and counted as ``file:row``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetyalign.errors import DataError
from safetyalign.logs import get_logger
from safetyalign.paths import resolve_data_path

log = get_logger(__name__)

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".jsonl.gz", ".json.gz", ".csv.gz")
_SPLIT = re.compile(r"^\s*(?P<name>[\w.-]+)?\s*(\[\s*(?P<start>-?\d+%?)?\s*:\s*(?P<stop>-?\d+%?)?\s*\])?\s*$")


@dataclass
class RawRow:
    """One raw record and where it came from."""

    where: str
    data: dict[str, Any]


@dataclass
class SplitExpr:
    """``name[start:stop]`` with optional percentages."""

    name: str
    start: str | None = None
    stop: str | None = None

    def apply(self, items: list) -> list:
        """Slice ``items`` like ``datasets`` does (percentages of the length, negative indices allowed)."""
        return items[_bound(self.start, len(items)):_bound(self.stop, len(items))]


def _bound(text: str | None, n: int) -> int | None:
    if text is None:
        return None
    if text.endswith("%"):
        return round(n * int(text[:-1]) / 100)
    return int(text)


def parse_split(expr: str) -> SplitExpr:
    """Parse ``train[:2000]`` into a :class:`SplitExpr`; an invalid expression is a :class:`DataError`."""
    m = _SPLIT.match(expr or "train")
    if not m:
        raise DataError(f"invalid split expression '{expr}': expected e.g. train, train[:2000], train[10%:50%]")
    return SplitExpr(m.group("name") or "train", m.group("start"), m.group("stop"))


def is_local(path: str) -> bool:
    """True for 'shared:' paths and paths that exist or look like files; hub names are 'owner/name'."""
    if path.startswith("shared:") or resolve_data_path(path).exists():
        return True
    return path.startswith((".", "/", "~")) or path.lower().endswith(DATA_SUFFIXES) or path.count("/") != 1


def read_source(path: str, split: str, key: str = "data.sources[0]", subset: str | None = None,
                data_dir: str | None = None) -> list[RawRow]:
    """Rows of a local file/folder or a hub dataset, sliced by the split expression (``key`` names the source
    in the offline hint; ``subset``/``data_dir`` are passed to ``datasets.load_dataset``)."""
    expr = parse_split(split)
    if not path:
        raise DataError(f"{key}.path is empty: give a hub dataset name or a local file")
    if is_local(path):
        return expr.apply(read_local(resolve_data_path(path), expr.name, display=path))
    return read_hub(path, split, key, subset, data_dir)


def data_files(folder: Path, split_name: str) -> list[Path]:
    """Data files in a folder; those whose name contains the split name when there are any."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))
    matching = [p for p in files if split_name.lower() in p.name.lower()]
    return matching or files


def read_local(path: Path, split_name: str = "train", display: str | None = None) -> list[RawRow]:
    """All rows of a file or of the data files in a folder (in name order)."""
    if not path.exists():
        raise DataError(f"{display or path}: data file or folder not found")
    if path.is_dir():
        files = data_files(path, split_name)
        if not files:
            raise DataError(f"{display or path}: folder has no data files ({', '.join(DATA_SUFFIXES)})")
        return [row for f in files for row in read_file(f, split_name)]
    return read_file(path, split_name)


def read_file(path: Path, split_name: str = "train") -> list[RawRow]:
    """Rows of one file; the format comes from the suffix (``.gz`` stripped)."""
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):
            return _read_parquet(path)
        text = _read_text(path)
        if name.endswith(".csv"):
            return _mark_bad_bytes(_read_csv(path, text))
        if name.endswith(".json") and text.lstrip()[:1] in ("[", "{") and not _looks_like_jsonl(text):
            return _mark_bad_bytes(_read_json(path, text, split_name))
        return _read_jsonl(path, text)
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot read data file ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no details"


def _read_text(path: Path) -> str:
    """The file as text; bytes that are not UTF-8 become lone surrogates (``surrogateescape``), so the row holding
    them can be skipped alone (see :func:`has_bad_bytes`)."""
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8-sig", errors="surrogateescape")


_BAD_BYTES = re.compile("[\udc80-\udcff]")
ENCODING_ROW = {"__invalid__": "bytes that are not UTF-8", "__reason__": "encoding"}


def has_bad_bytes(value: Any) -> bool:
    """True when a decoded value (string, list or dict, nested) holds an undecodable byte."""
    if isinstance(value, str):
        return bool(_BAD_BYTES.search(value))
    if isinstance(value, dict):
        return any(has_bad_bytes(k) or has_bad_bytes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_bad_bytes(v) for v in value)
    return False


def _mark_bad_bytes(rows: list[RawRow]) -> list[RawRow]:
    return [RawRow(r.where, dict(ENCODING_ROW)) if has_bad_bytes(r.data) else r for r in rows]


def _looks_like_jsonl(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:3] if ln.strip()]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(json.loads(ln), dict) for ln in lines)
    except json.JSONDecodeError:
        return False


def _read_jsonl(path: Path, text: str) -> list[RawRow]:
    rows, bad = [], 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if has_bad_bytes(line):
            bad += 1
            rows.append(RawRow(f"{path.name}:{lineno}", dict(ENCODING_ROW)))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            rows.append(RawRow(f"{path.name}:{lineno}", obj))
        else:
            bad += 1
            rows.append(RawRow(f"{path.name}:{lineno}", {"__invalid__": "not a JSON object"}))
    if not rows or bad == len(rows):
        raise DataError(f"{path}: no JSON objects found (expected one JSON object per line)")
    return rows


def _read_json(path: Path, text: str, split_name: str = "train") -> list[RawRow]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from None
    if isinstance(obj, dict):  # {"train": [...], "test": [...]}, {"data": [...]} or a single row
        lists = {k: v for k, v in obj.items() if isinstance(v, list)}
        if split_name in lists:
            obj = lists[split_name]
        else:
            obj = next(iter(lists.values())) if len(lists) == 1 else [obj]
    if not isinstance(obj, list):
        raise DataError(f"{path}: expected a JSON list of objects")
    return [RawRow(f"{path.name}:{i + 1}", r if isinstance(r, dict) else {"__invalid__": "not a JSON object"})
            for i, r in enumerate(obj)]


def _read_csv(path: Path, text: str) -> list[RawRow]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise DataError(f"{path}: CSV file has no header row")
    return [RawRow(f"{path.name}:{i + 2}", {k: v for k, v in r.items() if k is not None})
            for i, r in enumerate(reader)]


def _read_parquet(path: Path) -> list[RawRow]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot read parquet file ({_first_line(exc)})") from None
    return [RawRow(f"{path.name}:{i + 1}", r) for i, r in enumerate(table.to_pylist())]


def read_hub(name: str, split: str, key: str = "data.sources[0]", subset: str | None = None,
             data_dir: str | None = None) -> list[RawRow]:
    """A hub dataset through ``datasets.load_dataset``; offline without a cached copy is one clear error."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"{name}: the 'datasets' package is needed to load hub datasets") from None
    try:
        ds = datasets.load_dataset(name, subset, split=split, data_dir=data_dir)
    except Exception as exc:  # network, offline, missing split: all reported the same way
        raise DataError(
            f"cannot load hub dataset '{name}' split '{split}' ({type(exc).__name__}: {_first_line(exc)}); "
            f"offline or not cached: point the source at a local file, e.g. "
            f"{key}.path=shared:pku-saferlhf/safer_pairs.jsonl (as in configs/data/pku_saferlhf_local.yaml)") from None
    log.info("loaded %s %s from the hub cache (%d rows)", name, split, len(ds))
    return [RawRow(f"{name}:{i + 1}", dict(r)) for i, r in enumerate(ds)]
