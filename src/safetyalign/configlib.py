"""Typed YAML configs: dataclasses built from dicts with strict key and type checking, plus dotted overrides.

Every config section is a dataclass whose fields carry a docstring-like ``help`` in ``field(metadata=...)`` or a
comment-free default. ``from_dict`` rejects unknown keys and wrong types with a one-line :class:`ConfigError` that
names the key and the file.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from safetyalign.errors import ConfigError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it (converted where lossless)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{source}: key '{key}' expects {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{source}: key '{key}' must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: key '{key}' expects a list, got {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}' expects a mapping, got {value!r}")
        _, val_tp = get_args(tp) or (Any, Any)
        return {str(k): _coerce(v, val_tp, f"{key}.{k}", source) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}' expects a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, source=source, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: key '{key}' expects true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: key '{key}' expects an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{source}: key '{key}' expects a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{source}: key '{key}' expects a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], source: str = "<config>", prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at '{prefix.rstrip('.') or '<root>'}', got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    renamed = getattr(cls, "RENAMED", {})
    for key in data:
        if key in renamed and key not in names:
            raise ConfigError(f"{source}: key '{prefix}{key}' was renamed to '{prefix}{renamed[key]}' "
                              "(TRL DPOConfig / PEFT LoraConfig name)")
        if key not in names:
            raise ConfigError(f"{source}: unknown key '{prefix}{key}' (allowed: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}{k}", source) for k, v in data.items()}
    try:
        obj = cls(**kwargs)
    except TypeError as exc:  # missing required field
        raise ConfigError(f"{source}: {prefix or cls.__name__}: {exc}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) to plain dict/list values for YAML/JSON."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (``5e-6`` → float, ``true`` → bool, ``[1,2]`` → list)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected KEY=VALUE, e.g. train.learning_rate=5e-6")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{text}': empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):  # YAML reads 5e-6 as a string; accept it as a float
        try:
            value = float(value) if any(c in value.lower() for c in "e.") and not value.isalpha() else value
        except ValueError:
            pass
    return key.split("."), value


_INDEXED = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")


def _steps(path: list[str], text: str, source: str) -> list[str | int]:
    """``["data", "sources[0]", "path"]`` -> ``["data", "sources", 0, "path"]``."""
    steps: list[str | int] = []
    for part in path:
        m = _INDEXED.match(part)
        if not m:
            raise ConfigError(f"{source}: override '{text}': bad key part '{part}'")
        steps.append(m.group(1))
        steps += [int(i) for i in re.findall(r"\d+", m.group(2))]
    return steps


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str = "<override>",
                    defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply dotted overrides (``a.b=1``, ``data.sources[0].path=x``) to a raw config dict, before typing.

    A list indexed by an override but absent from the file is first copied from ``defaults`` (the resolved
    default config as a dict), so ``data.sources[0].path=...`` also works on a config that does not list sources.
    """
    for text in overrides:
        path, value = parse_override(text)
        steps = _steps(path, text, source)
        node: Any = data
        dnode: Any = defaults
        for step, nxt in zip(steps[:-1], steps[1:]):
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    raise ConfigError(f"{source}: override '{text}': index [{step}] is out of range")
                child = node[step]
                dnode = dnode[step] if isinstance(dnode, list) and step < len(dnode) else None
            else:
                if not isinstance(node, dict):
                    raise ConfigError(f"{source}: override '{text}': '{step}' is not a section")
                child = node.get(step)
                dchild = dnode.get(step) if isinstance(dnode, dict) else None
                if child is None:
                    child = copy.deepcopy(dchild) if isinstance(nxt, int) and isinstance(dchild, list) else {}
                    node[step] = child
                dnode = dchild
            if isinstance(nxt, int) and not isinstance(child, list):
                raise ConfigError(f"{source}: override '{text}': '{step}' is not a list")
            if isinstance(nxt, str) and not isinstance(child, dict):
                raise ConfigError(f"{source}: override '{text}': '{step}' is not a section")
            node = child
        last = steps[-1]
        if isinstance(last, int):
            if last >= len(node):
                raise ConfigError(f"{source}: override '{text}': index [{last}] is out of range")
        node[last] = value
    return data


def merge_config(base: Any, diff: Any) -> Any:
    """``diff`` laid over ``base``: mappings merge key by key; a list of named mappings (``data.sources``) merges by
    ``name`` when both sides name every entry (same name: merged, new name: appended); other values replace."""
    if isinstance(base, dict) and isinstance(diff, dict):
        out = dict(base)
        for key, value in diff.items():
            out[key] = merge_config(base[key], value) if key in base else value
        return out
    if _named_list(base) and _named_list(diff):
        out = list(base)
        index = {entry["name"]: i for i, entry in enumerate(out)}
        for entry in diff:
            if entry["name"] in index:
                out[index[entry["name"]]] = merge_config(out[index[entry["name"]]], entry)
            else:
                out.append(entry)
        return out
    return copy.deepcopy(diff)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "name" in v for v in value)


def read_config(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read an experiment YAML and resolve its ``base:`` chain: ``base: quickstart.yaml`` (relative to the file)
    names the config this one is a diff of. A cycle or a missing base is a one-line :class:`ConfigError`."""
    path = Path(path)
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: key 'base' expects a config file path, got {base!r}")
    base_path = (path.parent / base).resolve()
    if base_path in _seen or base_path == path.resolve():
        raise ConfigError(f"{path}: 'base: {base}' makes a cycle")
    if not base_path.is_file():
        raise ConfigError(f"{path}: base config '{base}' not found (looked for {base_path})")
    return merge_config(read_config(base_path, (*_seen, path.resolve())), data)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or a syntax error is a one-line :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) for each field of a config dataclass; used by ``safetyalign config --explain``."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        rows.append((f.name, _type_name(hints[f.name]), to_dict(default), f.metadata.get("help", "")))
    return rows


def check_range(obj: Any, section: str, name: str, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise ``ValueError("<section>.<name> must be ...")`` when field ``name`` of ``obj`` is NaN/inf or lies outside
    ``[lo, hi]`` (``lo_open``/``hi_open`` exclude the bound). None values (optional fields left unset) pass."""
    value = getattr(obj, name)
    if value is None:
        return
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    wanted = (f"in {left}{lo}, {hi}{right}" if lo is not None and hi is not None
              else f"{'>' if lo_open else '>='} {lo}" if lo is not None else f"{'<' if hi_open else '<='} {hi}")
    bad = isinstance(value, float) and not math.isfinite(value)
    bad = bad or (lo is not None and (value <= lo if lo_open else value < lo))
    bad = bad or (hi is not None and (value >= hi if hi_open else value > hi))
    if bad:
        raise ValueError(f"{section}.{name} must be {wanted}, got {value!r}")


def opt(default: Any = dataclasses.MISSING, help: str = "", factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with a help text (shown by ``safetyalign config --explain``)."""
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})
