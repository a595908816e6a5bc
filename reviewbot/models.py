"""Reference models: load the model packs, run them on a patch, turn their divergences into Findings.

A model pack is a folder `rules/<pack>/model/` holding `model.toml` (id, name, summary, see, and one
`[[finding]]` table per kind of finding it can report: id, title, severity, confidence, and the
kind's own one-line summary), `model.py` (`run(patch) -> ModelResult`), `contract.py` and a
README.md with a section `### <id> <title>` per kind. Adding the folder adds the model.

A model reports `Divergence`s: where the patched code and the contract disagree, with the minimal
counterexample as a trace. `run_models` keeps those at a line the patch adds (or related to one),
quotes the diff lines, and gives back the code the model could not run as `not_modelled` dicts:

    {"model": "bpf_oom", "file": "mm/bpf_oom.c", "line": 32, "construct": "...", "reason": "..."}

Those never become findings.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

from reviewbot.errors import InputError
from reviewbot.finding import CONFIDENCES, SEVERITIES, Finding, finding_at
from reviewbot.interp.errors import NotModelled
from reviewbot.thread import Patch


@dataclass(frozen=True)
class FindingKind:
    id: str
    title: str
    severity: str
    confidence: str
    # Rule ids whose finding says the same thing at the same lines: the engine keeps the model's
    # finding (it carries the counterexample) and drops the rule's, so a reply does not say it twice.
    subsumes: tuple[str, ...] = ()
    summary: str = ""  # one line: what this kind of finding says (`reviewbot rules`)
    # Rule ids whose finding this kind reproduces when it stands at overlapping lines: the engine
    # makes such a rule finding confidence "high" and gives it the model's trace; a rule finding whose
    # code the model ran without a divergence of a kind that confirms it is refuted (engine.py).
    confirms: tuple[str, ...] = ()
    # False: a finding of this kind is said only through a rule finding it confirms (its trace);
    # on its own it is not reported (a kind whose own findings were not precise enough on real code)
    alone: bool = True


@dataclass(frozen=True)
class Divergence:
    """One disagreement between the code and the contract, as a model reports it."""

    rule: str  # a finding id from model.toml
    file: str
    line: int
    message: str
    trace: tuple[str, ...] = ()
    end_line: int | None = None
    related: tuple[int, ...] = ()  # other lines that make the finding (it is kept if any is added)


@dataclass
class ModelResult:
    divergences: list[Divergence] = field(default_factory=list)
    not_modelled: list[dict] = field(default_factory=list)  # without the "model" key; added here
    applied: bool = False  # whether the model recognised the patch at all
    stats: dict = field(default_factory=dict)
    # What the model ran to the end with no divergence, for refuting rule findings: {"file", "rules"
    # (the rule ids its kinds confirm), "lines" (the lines its threads ran), "what"}.
    explored: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    summary: str
    see: str
    folder: Path
    kinds: tuple[FindingKind, ...]

    def has_something_to_say(self, rule_ids: set[str]) -> bool:
        """Whether running the model on a patch whose rules said `rule_ids` can change the review.
        A model with a kind that speaks alone always can. One whose every kind is `alone = false`
        only confirms or refutes rule findings: with none of the rules it confirms on the patch,
        all it would find is dropped, so it is not run (the lifetime model on most patches)."""
        if any(kind.alone for kind in self.kinds):
            return True
        return any(rule in rule_ids for kind in self.kinds for rule in kind.confirms)

    def kind(self, rule: str) -> FindingKind | None:
        return next((k for k in self.kinds if k.id == rule), None)

    @cached_property
    def module(self) -> ModuleType:
        path = self.folder / "model.py"
        name = f"reviewbot_model_{self.id}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"model {self.id}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def run(self, patch: Patch, **kwargs) -> ModelResult:
        return self.module.run(patch, **kwargs)

    @property
    def readme(self) -> str:
        path = self.folder / "README.md"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def kind_readme(self, rule: str) -> str:
        """The README section of one kind of finding: from its `### <id>` heading to the next heading
        (empty when the README has none), so `reviewbot explain <id>` is about that kind alone."""
        lines = self.readme.splitlines(keepends=True)
        start = next((i for i, line in enumerate(lines) if line.startswith(f"### {rule} ") or line.strip() == f"### {rule}"), None)
        if start is None:
            return ""
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
        return "".join(lines[start:end]).rstrip("\n") + "\n"


def load_models(rules_dir: Path | str | None = None) -> list[Model]:
    """Every model pack under rules_dir (default: the shipped rules), sorted by id."""
    from reviewbot.rulepack import default_rules_dir

    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    if not root.is_dir():
        raise InputError(f"rules folder {root} does not exist")
    models = [_read_model(p) for p in sorted(root.glob("*/model/model.toml"))]
    ids = [m.id for m in models]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"duplicate model ids in {root}: {', '.join(dupes)}")
    return sorted(models, key=lambda m: m.id)


def _read_model(path: Path) -> Model:
    folder = path.parent
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"model {folder}: bad model.toml: {exc}") from None
    for key in ("id", "name", "summary", "see"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InputError(f"model {folder}: model.toml lacks {key!r}")
    kinds = []
    for entry in data.get("finding", []):
        missing = [k for k in ("id", "title", "severity", "confidence") if k not in entry]
        if missing:
            raise InputError(f"model {data['id']}: a [[finding]] lacks {', '.join(missing)}")
        if entry["severity"] not in SEVERITIES or entry["confidence"] not in CONFIDENCES:
            raise InputError(f"model {data['id']}: finding {entry['id']}: bad severity or confidence")
        kinds.append(FindingKind(entry["id"], entry["title"], entry["severity"], entry["confidence"],
                                 tuple(entry.get("subsumes", ())), str(entry.get("summary", "")).strip(),
                                 tuple(entry.get("confirms", ())), bool(entry.get("alone", True))))
    if not (folder / "model.py").is_file():
        raise InputError(f"model {data['id']}: no model.py in {folder}")
    return Model(data["id"], data["name"], data["summary"], data["see"], folder, tuple(kinds))


def _accepts(fn, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def sibling_module(model_file: str, name: str, **preset) -> ModuleType:
    """The module `name`.py beside a model's model.py, loaded once per process as
    reviewbot_model_<pack>_<name> (a model pack is a folder of files, not a package). `preset`
    attributes are set on it before it runs (a module that builds on the model reads them)."""
    here = Path(model_file)
    modname = f"reviewbot_model_{here.parent.parent.name}_{name}"
    if modname not in sys.modules:
        spec = importlib.util.spec_from_file_location(modname, here.with_name(f"{name}.py"))
        if spec is None or spec.loader is None:
            raise InputError(f"model {here.parent.parent.name}: cannot load {name}.py")
        module = importlib.util.module_from_spec(spec)
        for key, value in preset.items():
            setattr(module, key, value)
        sys.modules[modname] = module
        spec.loader.exec_module(module)
    return sys.modules[modname]


def run_models(patch: Patch, models: list[Model], tree: str | None = None, units: dict | None = None,
               explored: list | None = None) -> tuple[list[Finding], list[dict]]:
    """Run every model on one patch: (findings at lines the patch adds, what was not modelled).
    A model whose run() takes `tree`/`units` gets the kernel tree and the engine's parsed files;
    what the models ran without a divergence is appended to `explored` (for refuting rules)."""
    findings: list[Finding] = []
    not_modelled: list[dict] = []
    files = {cf.path: cf for cf in patch.changed_files}
    for model in models:
        kwargs = {}
        runner = getattr(model, "module", None)
        if runner is not None and _accepts(model.run, "tree"):
            if _accepts(runner.run, "tree"):
                kwargs["tree"] = tree
            if _accepts(runner.run, "units"):
                kwargs["units"] = units
        try:
            result = model.run(patch, **kwargs)
        except NotModelled as exc:
            not_modelled.append(exc.as_dict(model.id))
            continue
        except RecursionError as exc:  # deep C the interpreter cannot follow: say so, never guess
            not_modelled.append({"model": model.id, "file": "", "line": 0, "construct": "the patch",
                                 "reason": f"the interpreter failed: {type(exc).__name__}"})
            continue
        if explored is not None:
            explored.extend({**e, "model": model.id} for e in result.explored)
        for item in result.not_modelled:
            entry = {"model": model.id, "file": "", "line": 0, "construct": "", "reason": ""}
            entry.update(item)
            not_modelled.append(entry)
        for div in result.divergences:
            kind = model.kind(div.rule)
            cf = files.get(div.file)
            if kind is None:
                raise InputError(f"model {model.id} reported {div.rule}, which model.toml does not declare")
            if cf is None:
                continue
            found = finding_at(patch, cf, div.rule, kind.severity, kind.confidence, model.see, div.line,
                               div.end_line, div.message, div.trace, div.related)
            if found is not None:
                findings.append(found)
    findings.sort(key=lambda f: f.sort_key())
    return findings, not_modelled
