"""Content fingerprints for the evaluation's generation cache: a cached response is reused only when the base
weights, the adapter weights, the generation settings and the suite are byte-for-byte the ones that produced it.

* base: SHA-256 of every weight file of the resolved model folder (``*.safetensors``, or the ``.gguf`` file);
  file digests are memoized in ``<cache>/file_sha256.json`` by path, size and modification time, so a 15 GB
  model is read once, not at every evaluation. A hub model that is not a local folder is keyed by name@revision.
* adapter: SHA-256 of the LoRA tensors of the model in memory (what actually generates), by name, dtype and
  bytes; a few MB for rank-16 adapters.
* suite: SHA-256 of every prompt's id, suite, text and expected behaviour, in order.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safetyalign.io import write_json

MEMO = "file_sha256.json"


def file_sha256(path: Path, chunk: int = 8 << 20) -> str:
    """SHA-256 of a file's bytes, memoized by (path, size, mtime_ns) in the cache folder."""
    from safetyalign.paths import cache_dir

    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    memo_path = cache_dir() / MEMO
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    hit = memo.get(str(path))
    if isinstance(hit, dict) and hit.get("stamp") == stamp:
        return str(hit["sha256"])
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    memo[str(path)] = {"stamp": stamp, "sha256": digest.hexdigest()}
    try:
        write_json(memo_path, memo)
    except OSError:  # a read-only cache only costs re-hashing next time
        pass
    return digest.hexdigest()


def base_fingerprint(model_cfg: Any) -> str:
    """Digest of the base model's weight files (see module docs)."""
    from safetyalign.models.loading import _materialize_gguf, resolve_model

    resolved = resolve_model(model_cfg)
    if resolved.gguf_file:
        resolved = _materialize_gguf(resolved)
    if not resolved.is_local:
        return f"hub:{resolved.path}@{model_cfg.revision or 'default'}"
    folder = Path(resolved.path)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".gguf", ".bin")) \
        if folder.is_dir() else [folder]
    digest = hashlib.sha256()
    for p in files:
        digest.update(f"{p.name}\0{file_sha256(p)}\0".encode())
    return digest.hexdigest()


def adapter_fingerprint(model: Any) -> str | None:
    """Digest of the LoRA tensors of a PEFT model in memory (None for a plain model)."""
    import torch

    if not hasattr(model, "peft_config"):
        return None
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if "lora_" not in name:
            continue
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def suite_fingerprint(prompts: list[Any]) -> str:
    """Digest of the evaluated prompts (id, suite, text, expected), in order."""
    digest = hashlib.sha256()
    for p in prompts:
        digest.update(json.dumps([p.id, p.suite, p.prompt, p.expected], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def generation_key(cfg: Any, base: str, adapter: str | None, suite: str, chat_template: str | None) -> str:
    """The cache key of one model's generations: every input that can change a response."""
    payload = {"gen": vars(cfg.eval.generation), "base": base, "adapter": adapter, "suite": suite,
               "system": cfg.model.system_prompt, "max_prompt_length": cfg.model.max_prompt_length,
               "chat_template": hashlib.sha256((chat_template or "").encode()).hexdigest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]
