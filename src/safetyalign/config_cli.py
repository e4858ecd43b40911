"""``safetyalign config``: validate configs, print the resolved YAML, or explain every field."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign config``."""
    parser.add_argument("paths", nargs="*", help="config files or folders (default: configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override applied to each config, e.g. --set train.max_steps=10 (repeatable)")
    parser.add_argument("--show", action="store_true",
                        help="print each config resolved: base: chain merged, overrides applied, defaults filled in")
    parser.add_argument("--explain", action="store_true", help="list every field with type, default and help")


def main(args: argparse.Namespace) -> int:
    """Validate each config; print resolved YAML or field docs on request."""
    from safetyalign.config import ExperimentConfig, dump_config, load_config
    from safetyalign.configlib import describe

    if args.explain:
        print("A config may start with 'base: FILE' (relative to the config) and hold only what differs: sections\n"
              "merge key by key, data.sources entries merge by name, other values replace. --show prints the result.")
        for section in dataclasses.fields(ExperimentConfig):
            cls = section.default_factory().__class__  # type: ignore[misc]
            print(f"[{section.name}] {cls.__doc__}")
            for name, tp, default, help_text in describe(cls):
                print(f"  {section.name}.{name}: {tp} = {default!r}\n      {help_text}")
        return 0
    paths = [Path(p) for p in (args.paths or ["configs"])]
    files = [f for p in paths for f in (sorted(p.rglob("*.yaml")) if p.is_dir() else [p])]
    files = [f for f in files if "accelerate" not in f.parts]
    for f in files:
        cfg = load_config(f, args.overrides)
        print(f"ok  {f}")
        if args.show:
            print(dump_config(cfg))
    return 0
