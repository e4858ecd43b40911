"""Prompt suites: built-in JSONL files, the shared benchmark sets by name, or any JSONL file with a column mapping.

A suite is a list of :class:`SuitePrompt` (id, prompt, lang, category, expected = ``refuse`` | ``comply``).
Names: ``redteam_basic`` / ``benign_lookalike`` (shipped in the package), the shared sets in :data:`SHARED`
(``advbench``, ``jbb_harmful``, ...), ``name@eval`` / ``name@train`` (the halves of the data stage's hash split,
so a set used half for training is evaluated on the other half only), or a path:
``path/to/file.jsonl[:prompt_field[:expected]]`` e.g. ``my.jsonl:question:refuse``.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safetyalign.errors import ConfigError, DataError
from safetyalign.logs import get_logger

log = get_logger(__name__)

SUITES_DIR = Path(__file__).resolve().parent / "suites"
EXPECTED = ("refuse", "comply")


@dataclass
class SuitePrompt:
    """One evaluation prompt and the behaviour a safe, helpful model should show."""

    id: str
    prompt: str
    lang: str
    category: str
    expected: str
    suite: str
    source: str = "project"  # the dataset it comes from (leave-source-out, see eval/provenance.py)
    harm: str = ""  # harm taxonomy key (taxonomy.py); for a benign prompt, the topic it resembles
    split: str = ""  # unseen | in_distribution, set by the evaluation from the run's training sources
    category_heldout: bool = False  # its harm category was held out of training (data.holdout_categories)
    style: str = ""  # request style (eval/taxonomy.request_style): imperative, question, roleplay, ...

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SharedSpec:
    """Where a shared set lives and how its columns map to a suite prompt."""

    path: str
    prompt_field: str
    expected: str
    lang: str
    category_field: str | None = None
    id_field: str | None = None
    filter_field: str | None = None
    filter_value: str | None = None
    transform: str | None = None  # a row reader in safetyalign.eval.shared_rows.TRANSFORMS

    @property
    def source(self) -> str:
        """The dataset this set comes from (its shared-data folder), for leave-source-out bookkeeping."""
        return self.path.split("/")[0]


SHARED: dict[str, SharedSpec] = {
    "advbench": SharedSpec("advbench/harmful_behaviors.jsonl", "goal", "refuse", "en"),
    "jbb_harmful": SharedSpec("jailbreakbench/harmful-behaviors.jsonl", "Goal", "refuse", "en", "Category", "Index"),
    "jbb_benign": SharedSpec("jailbreakbench/benign-behaviors.jsonl", "Goal", "comply", "en", "Category", "Index"),
    "coconot_contrast": SharedSpec("coconot/coconot_contrast_eval.jsonl", "prompt", "comply", "en", "subcategory",
                                   "id"),
    "coconot_harmful": SharedSpec("coconot/coconot_eval.jsonl", "prompt", "refuse", "en", "subcategory", "id",
                                  "category", "Requests with safety concerns"),
    "maliciousinstruct": SharedSpec("maliciousinstruct/MaliciousInstruct.jsonl", "prompt", "refuse", "en"),
    "simplesafetytests": SharedSpec("simplesafetytests/SimpleSafetyTests.jsonl", "prompts_final", "refuse", "en",
                                    "harm_area", "id"),
    "xsafety_zh": SharedSpec("zh-xsafety/xsafety_zh_en.jsonl", "prompt", "refuse", "zh", "category"),
    "xsafety_en": SharedSpec("zh-xsafety/xsafety_zh_en.jsonl", "prompt_en", "refuse", "en", "category"),
    "flames_zh": SharedSpec("zh-flames/flames_1k_chinese.jsonl", "prompt", "refuse", "zh", "dimension"),
    "cvalues_zh": SharedSpec("zh-cvalues-responsibility/cvalues_responsibility_prompts.jsonl", "prompt", "comply",
                             "zh", "domain_en", "id_"),
    # Leave-source-out sets (issue #20); their row readers and selection rules are in shared_rows.py.
    "toxicchat_toxic": SharedSpec("toxicchat-test/toxicchat_test.jsonl", "input", "refuse", "en",
                                  transform="toxicchat_harmful"),
    "toxicchat_benign": SharedSpec("toxicchat-test/toxicchat_test.jsonl", "input", "comply", "en",
                                   transform="toxicchat_unharmful"),
    "beavertails_harmful": SharedSpec("beavertails-30k-test/beavertails_30k_test.jsonl", "input", "refuse", "en",
                                      transform="beavertails_questions"),
    "jailjudge": SharedSpec("jailjudge-mini/jailjudge_mini.jsonl", "question", "refuse", "en",
                            "hazard_cate_llamaguard3", transform="jailjudge_plain"),
    "xsafety_zh_req": SharedSpec("zh-xsafety/xsafety_zh_en.jsonl", "prompt", "refuse", "zh", "category",
                                 transform="xsafety_requests"),
    "xsafety_en_req": SharedSpec("zh-xsafety/xsafety_zh_en.jsonl", "prompt_en", "refuse", "en", "category",
                                 transform="xsafety_requests"),
    "xsafety_commonsense_zh": SharedSpec("zh-xsafety/xsafety_zh_en.jsonl", "prompt", "comply", "zh", "category",
                                         "idx", "category", "commonsense"),
    "xsafety_commonsense_en": SharedSpec("zh-xsafety/xsafety_zh_en.jsonl", "prompt_en", "comply", "en", "category",
                                         "idx", "category", "commonsense"),
    "flames_zh_harm": SharedSpec("zh-flames/flames_1k_chinese.jsonl", "prompt", "refuse", "zh", "subcomponent",
                                 transform="flames_requests"),
    "alpaca_heldout_en": SharedSpec("refusal-direction-splits/harmless_test.jsonl", "instruction", "comply", "en"),
}
# xsafety has benign control scenarios; they are not red-team prompts.
XSAFETY_BENIGN = {"commonsense"}


def detect_lang(text: str) -> str:
    """``zh`` when at least 20% of the letters are CJK ideographs, else ``en``."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    cjk = sum(1 for c in letters if "\u4e00" <= c <= "\u9fff")
    return "zh" if cjk / len(letters) >= 0.2 else "en"


def _builtin(name: str) -> list[SuitePrompt]:
    from safetyalign.io import iter_jsonl

    errors: list[str] = []
    out = []
    for lineno, row in iter_jsonl(SUITES_DIR / f"{name}.jsonl", errors):
        missing = [f for f in ("id", "prompt", "lang", "category", "expected") if not row.get(f)]
        if missing or row["expected"] not in EXPECTED:
            errors.append(f"{name}.jsonl:{lineno}: bad row (missing {missing} or bad expected)")
            continue
        out.append(SuitePrompt(str(row["id"]), row["prompt"], row["lang"], row["category"], row["expected"], name))
    for e in errors:
        log.warning("suite %s", e)
    return out


def _shared(name: str, spec: SharedSpec) -> list[SuitePrompt]:
    from safetyalign.io import iter_jsonl
    from safetyalign.paths import resolve_data_path

    path = resolve_data_path("shared:" + spec.path)
    if not path.is_file():
        raise DataError(f"suite '{name}': {path} not found (shared data folder incomplete?)")
    out, skipped = [], 0
    rows: Any = iter_jsonl(path)
    if spec.transform:
        from safetyalign.eval.shared_rows import TRANSFORMS

        rows = TRANSFORMS[spec.transform](rows, spec)
    for lineno, row in rows:
        if spec.filter_field and row.get(spec.filter_field) != spec.filter_value:
            continue
        prompt = row.get(spec.prompt_field)
        if not isinstance(prompt, str) or not prompt.strip():
            skipped += 1
            continue
        cat = str(row.get(spec.category_field) or "uncategorized") if spec.category_field else "uncategorized"
        expected = spec.expected
        if name.startswith("xsafety") and cat in XSAFETY_BENIGN and expected == "refuse":
            continue
        rid = str(row.get(spec.id_field)) if spec.id_field and row.get(spec.id_field) is not None else str(lineno)
        out.append(SuitePrompt(f"{name}-{rid}", prompt.strip(), spec.lang, cat, expected, name, spec.source))
    if skipped:
        log.warning("suite %s: skipped %d rows without a '%s' field", name, skipped, spec.prompt_field)
    return out


def _from_path(spec: str) -> list[SuitePrompt]:
    """``file.jsonl[:prompt_field[:expected]]``; rows may carry id, lang, category, expected themselves."""
    from safetyalign.io import iter_jsonl

    parts = spec.split(":")
    path, field = Path(parts[0]), parts[1] if len(parts) > 1 and parts[1] else "prompt"
    default_expected = parts[2] if len(parts) > 2 else None
    if default_expected is not None and default_expected not in EXPECTED:
        raise ConfigError(f"suite '{spec}': expected must be refuse or comply, not '{default_expected}'")
    if not path.is_file():
        raise ConfigError(f"suite '{spec}': not a built-in or shared suite name and {path} is not a file")
    name, errors, out = path.stem, [], []
    for lineno, row in iter_jsonl(path, errors):
        prompt, expected = row.get(field), row.get("expected", default_expected)
        if not isinstance(prompt, str) or not prompt.strip() or expected not in EXPECTED:
            errors.append(f"{path}:{lineno}: missing '{field}' text or expected (refuse|comply)")
            continue
        out.append(SuitePrompt(str(row.get("id", f"{name}-{lineno}")), prompt.strip(),
                               str(row.get("lang") or detect_lang(prompt)), str(row.get("category") or name),
                               expected, name, str(row.get("source") or f"file:{name}")))
    for e in errors[:20]:
        log.warning("suite %s", e)
    if errors:
        log.warning("suite %s: %d malformed rows skipped", name, len(errors))
    return out


def list_suites() -> list[str]:
    """Every suite name that :func:`load_suite` accepts without a path."""
    return sorted([p.stem for p in SUITES_DIR.glob("*.jsonl")] + list(SHARED))


def _split_half(prompts: list[SuitePrompt], half: str) -> list[SuitePrompt]:
    from safetyalign.data.split import in_holdout_part

    if half not in ("eval", "train"):
        raise ConfigError(f"suite half must be @eval or @train, not @{half}")
    return [p for p in prompts if in_holdout_part(p.prompt, half, 0.5)]


def load_suite(spec: str, max_prompts: int | None = None, seed: int = 0) -> list[SuitePrompt]:
    """Load one suite by name, ``name@eval|@train`` or JSONL path; cap to ``max_prompts`` by a seeded sample."""
    name, _, half = spec.partition("@") if ".jsonl" not in spec else (spec, "", "")
    if (SUITES_DIR / f"{name}.jsonl").is_file():
        prompts = _builtin(name)
    elif name in SHARED:
        prompts = _shared(name, SHARED[name])
    else:
        prompts = _from_path(name)
    if half:
        prompts = _split_half(prompts, half)
        for p in prompts:
            p.suite = spec
    if not prompts:
        raise DataError(f"suite '{spec}' has no usable prompts")
    from safetyalign.taxonomy import harm_category, request_style

    for p in prompts:
        p.harm = harm_category(p.source, p.category, p.prompt)  # for benign prompts: the topic it looks like
        p.style = request_style(p.prompt)
    if max_prompts is not None and len(prompts) > max_prompts:
        keep = sorted(random.Random(f"{seed}:{spec}").sample(range(len(prompts)), max_prompts))
        prompts = [prompts[i] for i in keep]
    return prompts


def load_suites(specs: list[str], max_per_suite: int | None = None, seed: int = 0) -> list[SuitePrompt]:
    """All prompts of several suites; ids are made unique across suites."""
    out: list[SuitePrompt] = []
    seen: set[str] = set()
    for spec in specs:
        for p in load_suite(spec, max_per_suite, seed):
            pid, i = p.id, 1
            while pid in seen:
                pid, i = f"{p.id}#{i}", i + 1
            p.id = pid
            seen.add(pid)
            out.append(p)
    return out
