"""Rule folders: find them, read them, check their form. Running them is the engine's job.

A rule is one folder, `rules/<pack>/<ID>-<kebab-name>/`, holding `rule.toml` (what the rule is),
`check.py` (a Python judge: `def check(ctx) -> Iterable[Hit]`), optionally `query.scm` (a tree-sitter
query for candidate sites, handed to the judge as `ctx.query_matches`), `cases.c` (annotated
examples) and `README.md` (the fixed sections `reviewbot explain` prints). Adding a folder adds the
rule; nothing else is registered anywhere.

`rule.toml` may list `requires = ["srcu", ...]`: words without which the rule has nothing to say
about a file; the engine then skips the file for that rule before parsing it (most patches touch no
RCU code, and parsing is most of a review's time).

Rules load only from the installed package or from a folder the user names (`--rules-dir`): a rule's
check.py is code, and we never run code from anywhere else.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Callable

from reviewbot.errors import InputError
from reviewbot.finding import CONFIDENCES, SEVERITIES

REQUIRED_KEYS = ("id", "name", "severity", "confidence", "summary", "message", "see")
README_SECTIONS = ("What it checks", "Why it matters", "Example", "Use instead", "Known problems")
_FOLDER = re.compile(r"^(?P<id>[A-Z][A-Z_]*[0-9]{3})-(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)$")


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    pack: str
    severity: str
    confidence: str
    summary: str
    message: str  # a str.format template over the keys of a Hit's args
    see: str
    folder: Path
    files: tuple[str, ...] = ("*.c", "*.h")  # which changed files the rule reads
    scope: str = "file"  # "file": check(ctx) once per changed file; "patch": once per patch
    # The rule has nothing to say about a file whose text contains none of these (it is not run on
    # it, and the file is not even parsed for it): `requires = ["srcu"]`. Empty: every file.
    requires: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def module(self) -> ModuleType:
        path = self.folder / "check.py"
        spec = importlib.util.spec_from_file_location(f"reviewbot_rule_{self.id}", path)
        if spec is None or spec.loader is None:
            raise InputError(f"rule {self.id}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @property
    def check(self) -> Callable:
        return self.module.check

    @cached_property
    def query_source(self) -> str | None:
        path = self.folder / "query.scm"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    @property
    def readme(self) -> str:
        path = self.folder / "README.md"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    @property
    def cases_path(self) -> Path:
        return self.folder / "cases.c"


def default_rules_dir() -> Path:
    """The rules that ship with reviewbot: inside the installed package, or the checkout's rules/."""
    here = Path(__file__).resolve().parent
    installed = here / "_data" / "rules"
    if installed.is_dir():
        return installed
    return here.parent / "rules"


def load_rules(rules_dir: Path | None = None) -> list[Rule]:
    """Every rule folder under rules_dir (default: the shipped rules), sorted by id."""
    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    if not root.is_dir():
        raise InputError(f"rules folder {root} does not exist")
    rules = []
    for toml_path in sorted(root.glob("*/*/rule.toml")):
        rules.append(_read_rule(toml_path))
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"duplicate rule ids in {root}: {', '.join(dupes)}")
    return sorted(rules, key=lambda r: r.id)


def _read_rule(toml_path: Path) -> Rule:
    folder = toml_path.parent
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"rule {folder.name}: bad rule.toml: {exc}") from None
    problems = rule_problems(folder, data)
    if problems:
        raise InputError(f"rule {folder.name}: {problems[0]}")
    return Rule(
        id=data["id"],
        name=data["name"],
        pack=folder.parent.name,
        severity=data["severity"],
        confidence=data["confidence"],
        summary=data["summary"],
        message=data["message"],
        see=data["see"],
        folder=folder,
        files=tuple(data.get("files", ("*.c", "*.h"))),
        scope=data.get("scope", "file"),
        requires=tuple(data.get("requires", ())),
        meta={k: v for k, v in data.items() if k not in REQUIRED_KEYS},
    )


def rule_problems(folder: Path, data: dict) -> list[str]:
    """What is wrong with a rule folder's form (empty when nothing is)."""
    problems = [f"rule.toml lacks {key!r}" for key in REQUIRED_KEYS if not data.get(key)]
    if problems:
        return problems
    m = _FOLDER.match(folder.name)
    if not m:
        problems.append(f"folder name {folder.name!r} is not <ID>-<kebab-name>")
    elif (m["id"], m["name"]) != (data["id"], data["name"]):
        problems.append(f"folder {folder.name!r} does not match id {data['id']!r} / name {data['name']!r}")
    if data["severity"] not in SEVERITIES:
        problems.append(f"severity {data['severity']!r} is not one of {', '.join(SEVERITIES)}")
    if data["confidence"] not in CONFIDENCES:
        problems.append(f"confidence {data['confidence']!r} is not one of {', '.join(CONFIDENCES)}")
    if data.get("scope", "file") not in ("file", "patch"):
        problems.append(f"scope {data['scope']!r} is not file or patch")
    requires = data.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(x, str) and x for x in requires):
        problems.append("requires is not a list of non-empty strings")
    if not (folder / "check.py").is_file():
        problems.append("check.py is missing")
    return problems


def readme_problems(rule: Rule) -> list[str]:
    text = rule.readme
    if not text:
        return ["README.md is missing"]
    headings = re.findall(r"^##\s+(.+?)\s*$", text, re.MULTILINE)
    return [f"README.md lacks the section '## {s}'" for s in README_SECTIONS if s not in headings]


def select(rules: list[Rule], only: str | None, skip: str | None, models: list | None = None):
    """--rules / --skip: comma-separated rule ids, names or packs; for models also the model id
    and the ids of its findings. Returns (rules, models, keep) where keep(finding_id) says whether
    a model finding of that id is wanted. Without models (None), returns the rules alone."""

    def names(spec: str | None) -> set[str]:
        return {s.strip() for s in (spec or "").split(",") if s.strip()}

    def rule_names(rule: Rule) -> set[str]:
        return {rule.id, rule.name, rule.pack}

    def model_names(model) -> set[str]:
        return {model.id, model.name, model.folder.parent.name}

    wanted, skipped = names(only), names(skip)
    known = {x for r in rules for x in rule_names(r)}
    known |= {x for m in models or () for x in (*model_names(m), *(k.id for k in m.kinds), *(k.title for k in m.kinds))}
    unknown = sorted((wanted | skipped) - known)
    if unknown:
        raise InputError(f"unknown rule: {', '.join(unknown)} (see `reviewbot rules`)")
    chosen = [r for r in rules if (not wanted or rule_names(r) & wanted) and not rule_names(r) & skipped]
    if models is None:
        return chosen

    def kind_names(model, kind) -> set[str]:
        return model_names(model) | {kind.id, kind.title}

    wanted_kinds = {k.id for m in models for k in m.kinds
                    if (not wanted or kind_names(m, k) & wanted) and not kind_names(m, k) & skipped}
    chosen_models = [m for m in models if any(k.id in wanted_kinds for k in m.kinds)]
    return chosen, chosen_models, wanted_kinds.__contains__
