#!/usr/bin/env python3
"""Recall on real RCU/SRCU bugs: the real-fixes corpus, each 6.1 file reviewed as a patch that adds it.

    python bench/realfixes.py [--cases DIR] [--kernel DIR] [--tree] [--models]

For every case of ../shared/corpus/real-fixes-dev (or --cases DIR with the same layout: cases/<n>.json
and a make-patches script), writes the case's patch with the corpus's own make-patches, reviews it
the way `reviewbot ci <n>.patch` does (with --tree: `reviewbot ci --tree KERNEL`, so rules may read
the file's folder), and grades it as the corpus says: found when a finding of the case's class
lies on the buggy lines widened by 3 on each side. Prints each case, the per-class and total recall,
and every other finding on those files (for judging precision separately).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CASES = ROOT.parent / "shared" / "corpus" / "real-fixes-dev"
DEFAULT_KERNEL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reviewbot" / "linux-source-6.1-full"

# The rules (and model finding kinds) that report each class of the corpus.
CLASS_RULES = {
    "rcu-free-before-gp": {"RCU001", "RCU002", "RCU009", "SRCU005"},
    "pointer-after-unlock": {"RCU002"},
    "publish-before-init": {"RCU006"},
    "wrong-rcu-accessor": {"RCU004"},
    "lockdep-condition": {"RCU004", "SRCU002", "SRCU003"},
    "teardown-missing-rcu-barrier": {"RCU007"},
    "srcu-lock-unlock-mismatch": {"SRCU001", "SRCU006"},
    "sleep-in-rcu-read-section": {"RCU005"},
    "synchronize-under-lock": {"RCU008"},
    "rcu-walk-error-path": {"RCU010"},
}
# The lifetime cases the lifetime model is measured on (issue 13), and its kinds for each class.
LIFETIME = {"rcu-free-before-gp": {"LIFE001"}, "pointer-after-unlock": {"LIFE002"},
            "publish-before-init": {"LIFE004"}, "synchronize-under-lock": {"LIFE003"},
            "teardown-missing-rcu-barrier": {"LIFE005"}}


def review(patch: Path, tree: Path | None, with_models: bool, refuted: str = "low"):
    from reviewbot import engine, models, patchfiles, rulepack, thread

    msgs = patchfiles.read_paths([str(patch)])
    series = thread.assemble_patches(msgs)
    rules = rulepack.load_rules()
    loaded = models.load_models() if with_models else []
    return engine.run(series, rules, tree=str(tree) if tree else None, models=loaded, refuted=refuted)


def model_verdict(result, case, wanted) -> str:
    """What the lifetime model did with a case: reproduced (a finding at the buggy lines confirmed
    by it, or its own, with a trace), refuted (a rule finding of the class there downgraded), not
    modelled (it could not run something of the file), or ran without a divergence."""
    lo, hi = case["buggy_lines"]
    near = [f for f in result.findings if f.file == case["file"] and f.line <= hi + 3 and f.end_line >= lo - 3]
    kinds = LIFETIME.get(case["class"], set())
    for f in near:
        if f.trace and (f.rule in kinds or (f.rule in wanted and dict(f.extra).get("confirmed_by") in kinds)):
            return f"reproduced with trace ({f.rule}{'<-' + dict(f.extra)['confirmed_by'] if dict(f.extra).get('confirmed_by') else ''}:{f.line})"
    if any(dict(f.extra).get("refuted_by") for f in near if f.rule in wanted):
        return "REFUTED"
    nm = [m for m in result.not_modelled if m.get("file") == case["file"]]
    return f"not modelled ({len(nm)} constructs)" if nm else "no divergence"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL)
    ap.add_argument("--tree", action="store_true", help="review with --tree KERNEL (rules may read the folder)")
    ap.add_argument("--models", action="store_true", help="run the reference models too")
    ap.add_argument("--refuted", choices=("low", "drop"), default="low",
                    help="what a rule finding the model refutes becomes (with --models)")
    args = ap.parse_args()
    case_files = sorted((args.cases / "cases").glob("*.json"), key=lambda p: int(p.stem))
    if not case_files or not args.kernel.is_dir():
        print(f"need {args.cases}/cases/*.json and a 6.1 tree at {args.kernel} (kernel-corpus --full)", file=sys.stderr)
        return 2
    model_counts: Counter = Counter()
    found_by_class: Counter = Counter()
    total_by_class: Counter = Counter()
    others = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(args.cases / "make-patches"), str(args.kernel), tmp], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr.strip(), file=sys.stderr)
            return 2
        print(f"{'case':>4}  {'class':30} {'file':52} {'buggy':>11}  result")
        for path in case_files:
            case = json.loads(path.read_text())
            n, cls, file = case["n"], case["class"], case["file"]
            lo, hi = case["buggy_lines"]
            wanted = CLASS_RULES.get(cls, set())
            t0 = time.perf_counter()
            result = review(Path(tmp) / f"{n}.patch", args.kernel if args.tree else None, args.models, args.refuted)
            took = time.perf_counter() - t0
            hits = [f for f in result.findings if f.file == file and f.rule in wanted
                    and f.line <= hi + 3 and f.end_line >= lo - 3]
            total_by_class[cls] += 1
            if hits:
                found_by_class[cls] += 1
            verdict = f"found ({', '.join(sorted({f'{h.rule}:{h.line}' for h in hits}))})" if hits else "missed"
            if args.models:
                mv = model_verdict(result, case, wanted)
                lifetime = cls in LIFETIME
                model_counts[("lifetime" if lifetime else "other", mv.split(" (")[0])] += 1
                verdict += f"  | model: {mv}{'' if lifetime else ' (not a lifetime case)'} {took:.1f} s"
            print(f"{n:>4}  {cls:30} {file:52} {lo:>5}-{hi:<5}  {verdict}")
            others += [(n, f) for f in result.findings if f not in hits and f.rule.startswith(("RCU", "SRCU"))]
    found, total = sum(found_by_class.values()), sum(total_by_class.values())
    print(f"\nfound {found} of {total} cases ({100 * found / max(total, 1):.0f}%; target >= 60%)"
          f"{' with --tree' if args.tree else ''}{' and models' if args.models else ''}, "
          f"{time.perf_counter() - start:.1f} s")
    for cls in sorted(total_by_class):
        print(f"  {cls:30} {found_by_class[cls]}/{total_by_class[cls]}")
    if args.models:
        n_life = sum(v for (k, _), v in model_counts.items() if k == "lifetime")
        rep = model_counts[("lifetime", "reproduced with trace")]
        refuted = sum(v for (_, what), v in model_counts.items() if what == "REFUTED")
        print(f"\nlifetime model: reproduced with a trace {rep} of {n_life} lifetime cases "
              f"({100 * rep / max(n_life, 1):.0f}%; target >= 50%); refuted {refuted} of the {total} true cases "
              f"(target 0); refuted findings are {'dropped' if args.refuted == 'drop' else 'kept at confidence low'}")
        for (k, what), v in sorted(model_counts.items()):
            print(f"  {k:9} {what:24} {v}")
    print(f"\nother RCU/SRCU findings on these files: {len(others)}")
    for n, f in others:
        print(f"  case {n}: {f.file}:{f.line} {f.rule}: {f.message[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
