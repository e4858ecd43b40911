"""Foundation pieces: atomic IO, provenance, model resolution, chat rendering, packaging."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from safetyalign.chat import build_messages, end_of_turn, render_prompt, render_response
from safetyalign.errors import ModelLoadError
from safetyalign.io import atomic_write_text, iter_jsonl, write_json
from safetyalign.models.config import ModelConfig
from safetyalign.models.loading import resolve_model
from safetyalign.runs import Timings, new_run_dir, write_provenance

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_write_and_tolerant_jsonl(tmp_path):
    p = tmp_path / "a" / "x.jsonl"
    atomic_write_text(p, '{"a": 1}\nnot json\n[1]\n{"b": 2}\n{"trunc')
    errors: list[str] = []
    rows = list(iter_jsonl(p, errors))
    assert [r for _, r in rows] == [{"a": 1}, {"b": 2}]
    assert [n for n, _ in rows] == [1, 4]
    assert len(errors) == 3 and "x.jsonl:2" in errors[0]
    assert not list(tmp_path.glob("a/.x.jsonl.*"))  # no temp files left


def test_provenance_has_commit_versions_and_no_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN_FOR_TEST", "hunter2")
    run = new_run_dir(tmp_path, "demo")
    write_provenance(run, "a: 1\n", ["safetyalign", "train"])
    meta = json.loads((run / "meta.json").read_text())
    assert meta["packages"]["torch"] and meta["packages"]["transformers"]
    assert meta["command"] == ["safetyalign", "train"]
    assert "hunter2" not in (run / "meta.json").read_text()
    assert (run / "config.yaml").read_text() == "a: 1\n"
    t = Timings(run / "timings.json")
    with t.stage("data"):
        pass
    assert "data" in json.loads((run / "timings.json").read_text())["stages"]


def test_resolve_model_kinds(tmp_path):
    emb = resolve_model(ModelConfig(name_or_path="embedded:smollm2-135m"))
    assert emb.gguf_file and emb.gguf_file.endswith(".gguf") and Path(emb.path, emb.gguf_file).is_file()
    hub = resolve_model(ModelConfig(name_or_path="Qwen/Qwen2.5-7B-Instruct"))
    assert hub.path == "Qwen/Qwen2.5-7B-Instruct" and not hub.is_local
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_model(ModelConfig(name_or_path=str(tmp_path / "nope.gguf")))
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model(ModelConfig(name_or_path=str(tmp_path)))


def test_hub_name_offline_gives_clear_error():
    from safetyalign.models.loading import load_tokenizer

    with pytest.raises(ModelLoadError, match="offline or not cached"):
        load_tokenizer(ModelConfig(name_or_path="no-such-org/no-such-model-xyz"))


def test_chat_rendering_single_system_prompt(smollm_tokenizer):
    tok = smollm_tokenizer
    text = render_prompt(tok, "Hello?", system_prompt="Be careful.")
    assert text.count("<|im_start|>system") == 1 and "Be careful." in text
    assert text.endswith("<|im_start|>assistant\n")
    assert render_response(tok, " Sure. ") == "Sure.<|im_end|>"
    assert end_of_turn(tok) == "<|im_end|>"
    msgs = build_messages([{"role": "system", "content": "A"}, {"role": "user", "content": "q"}], "B")
    assert [m["content"] for m in msgs] == ["A", "q"]


def test_requirements_pin_what_pyproject_needs():
    reqs = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if m:
            reqs[m.group(1).lower()] = m.group(2)
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.findall(r'^\s+"([A-Za-z0-9_.-]+)[<>=!~]', text.split("[project.optional-dependencies]")[0], re.M)
    for dep in deps:
        assert dep.lower() in reqs, f"{dep} is a dependency but not pinned in requirements.txt"
    assert reqs["torch"] == "2.13.0"


def test_write_json_is_utf8(tmp_path):
    p = write_json(tmp_path / "x.json", {"zh": "拒绝"})
    assert "拒绝" in p.read_text(encoding="utf-8")


def test_atomic_write_uses_normal_permissions(tmp_path):
    import os
    import stat

    p = atomic_write_text(tmp_path / "perm.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask


def test_requirements_match_uv_lock():
    import tomllib

    lock = {p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if m:
            assert lock.get(m.group(1).lower().replace("_", "-")) == m.group(2), f"{m.group(1)} out of sync"


def test_gguf_parsed_once_shares_readers_and_restores_gguf():
    import gguf

    from safetyalign.models.loading import gguf_parsed_once

    emb = resolve_model(ModelConfig(name_or_path="embedded:smollm2-135m"))
    path = Path(emb.path, emb.gguf_file)
    orig_reader, orig_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with gguf_parsed_once():
        first, second = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is second  # parsed once, whatever the path type
        names = [t.name for t in first.tensors]
        assert len(names) == 272 and "token_embd.weight" in names
        arch = gguf.MODEL_ARCH.LLAMA
        assert gguf.get_tensor_name_map(arch, 30) is gguf.get_tensor_name_map(arch, 30)
    assert gguf.GGUFReader is orig_reader and gguf.get_tensor_name_map is orig_map
    assert [t.name for t in orig_reader(path).tensors] == names


def test_cpu_matmul_probe_measures_throughput():
    from safetyalign.runs import cpu_matmul_gflops

    small = cpu_matmul_gflops(size=64, seconds=0.01)
    assert isinstance(small, float) and small > 0
