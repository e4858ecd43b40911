"""The generation cache of one model: ``generations_<model>.jsonl`` rows keyed by content, read on demand.

Rows carry ``gen_key`` (see :mod:`safetyalign.eval.fingerprint`): a row is reused only when the key of the
current evaluation matches, so another adapter's, base model's, decoding setting's or suite's answers are never
served. Only an index ``{digest(id, prompt): byte offset}`` is held in memory (about 100 bytes a row), so the
cache of a 100k-prompt evaluation costs a few MB; responses are read back from the file when needed. New
responses are appended (and flushed) batch by batch, so an interrupted evaluation resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safetyalign.eval.suites import SuitePrompt
from safetyalign.logs import get_logger

log = get_logger(__name__)


def _digest(pid: str, prompt: str) -> bytes:
    return hashlib.blake2b(f"{pid}\0{prompt}".encode("utf-8", "surrogatepass"), digest_size=16).digest()


class GenerationCache:
    """Index of the reusable rows of ``path`` for ``key``; :meth:`get` reads a response, :meth:`put` appends."""

    def __init__(self, path: Path, key: str):
        self.path, self.key = Path(path), key
        self.index: dict[bytes, int] = {}
        if self.path.is_file():
            self._scan()

    def _scan(self) -> None:
        with open(self.path, "rb") as fh:
            offset = 0
            for line in fh:
                row = _parse(line)
                if row is not None and row.get("gen_key") == self.key:
                    self.index[_digest(row["id"], row["prompt"])] = offset
                offset += len(line)

    def get(self, p: SuitePrompt) -> str | None:
        """The cached response for ``p`` (None when not cached for this key)."""
        offset = self.index.get(_digest(p.id, p.prompt))
        if offset is None:
            return None
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            row = _parse(fh.readline())
        if row is None or row["id"] != p.id or row["prompt"] != p.prompt or row.get("gen_key") != self.key:
            return None
        return row["response"]

    def put(self, items: list[tuple[SuitePrompt, str]]) -> None:
        """Append responses (one flushed write per batch, so a kill loses at most the batch in progress)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            offset = fh.seek(0, 2)
            if offset and not _ends_with_newline(self.path):
                fh.write(b"\n")  # a kill mid-append left a partial line: start clean
                offset += 1
            for p, resp in items:
                line = (json.dumps({"id": p.id, "prompt": p.prompt, "response": resp, "gen_key": self.key},
                                   ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")
                fh.write(line)
                self.index[_digest(p.id, p.prompt)] = offset
                offset += len(line)
            fh.flush()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    ok = isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("id", "prompt", "response"))
    return row if ok else None


def generate_cached(model: Any, tokenizer: Any, prompts: list[SuitePrompt], cfg: Any, cache: GenerationCache,
                    stats: Any, desc: str) -> list[str]:
    """Responses for ``prompts``: cached ones read back, the others generated and appended batch by batch.
    ``stats`` (a :class:`~safetyalign.eval.generate.GenerationStats`) accumulates throughput and ``reused``."""
    from safetyalign.eval.generate import generate

    found = [cache.get(p) for p in prompts]
    todo = [i for i, r in enumerate(found) if r is None]
    stats.extra["reused"] = stats.extra.get("reused", 0) + len(prompts) - len(todo)

    def save(idx: list[int], responses: list[str]) -> None:
        cache.put([(prompts[todo[j]], resp) for j, resp in zip(idx, responses)])
        for j, resp in zip(idx, responses):
            found[todo[j]] = resp

    if todo:
        generate(model, tokenizer, [prompts[i].prompt for i in todo], cfg.eval.generation,
                 system_prompt=cfg.model.system_prompt, max_prompt_length=cfg.model.max_prompt_length, stats=stats,
                 on_batch=save, desc=desc)
    return [r if r is not None else "" for r in found]
