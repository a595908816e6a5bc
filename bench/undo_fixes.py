#!/usr/bin/env python3
"""Real fixes undone: apply each real fix of real-fixes-dev to its Linux 6.1 file, then review the
patch that undoes it (the change that brings the real bug back), with the fixed file as the tree.

    python bench/undo_fixes.py [--cases DIR] [--kernel DIR]

bench/realfixes.py asks whether reviewbot sees a real bug in the 6.1 file; this asks whether it sees
the change that introduces it, the way a maintainer meets it: as a patch whose `-` lines drop the
protection the fix added. A fix is applied with GNU patch (fuzz 3, only its hunks of the case's
file). A fix that does not apply to 6.1 is listed with patch's verdict, never dropped; the case is
found when an RCU*/SRCU* finding is within +-3 lines of the case's buggy lines (or names one).
"""

from __future__ import annotations

import argparse
import email
import json
import re
import shutil
import subprocess
import sys
import tempfile
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CASES = ROOT.parent / "shared" / "corpus" / "real-fixes-dev" / "cases"
DEFAULT_KERNEL = Path.home() / ".cache" / "reviewbot" / "linux-source-6.1-full"
SLACK = 3


def fix_diff(eml: Path) -> str:
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    start = body.find("diff --git")
    return body[start:] if start >= 0 else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL)
    args = ap.parse_args()
    if not args.cases.is_dir() or not args.kernel.is_dir():
        print(f"need {args.cases} and {args.kernel} (../shared/tools/kernel-corpus --full)", file=sys.stderr)
        return 2
    if shutil.which("patch") is None:
        print("need GNU patch (Debian package `patch`)", file=sys.stderr)
        return 2
    from reviewbot import engine, rulepack, thread

    rules = [r for r in rulepack.load_rules() if r.id.startswith(("RCU", "SRCU"))]
    cases = sorted(args.cases.glob("*.json"), key=lambda p: int(p.stem))
    applied = found = 0
    print(f"{'case':>4}  {'class':32} {'file':44} result")
    for path in cases:
        meta = json.loads(path.read_text())
        rel = meta["file"]
        with tempfile.TemporaryDirectory() as tree:
            target = Path(tree) / rel
            target.parent.mkdir(parents=True)
            shutil.copy(args.kernel / rel, target)
            run = subprocess.run(["patch", "-p1", "-F3", "--no-backup-if-mismatch", "-r", "-", rel],
                                 input=fix_diff(args.cases / f"{meta['n']}.fix.eml"), text=True, cwd=tree,
                                 capture_output=True)
            if run.returncode != 0:
                verdict = (run.stdout + run.stderr).strip().splitlines()[-1]
                print(f"{meta['n']:>4}  {meta['class']:32} {rel:44} the fix does not apply to 6.1: {verdict}")
                continue
            applied += 1
            fixed = target.read_text(encoding="utf-8", errors="surrogateescape")
            buggy = (args.kernel / rel).read_text(encoding="utf-8", errors="surrogateescape")
            patch = thread.change_patch(rel, fixed, buggy)
            findings = engine.run_patch(patch, rules, tree=tree)
        lo, hi = meta["buggy_lines"][0], meta["buggy_lines"][-1]

        def near(f) -> bool:
            named = [*f.related, *(int(x) for x in re.findall(r"\bline (\d+)", f.message))]
            return (f.line - SLACK <= hi and f.end_line + SLACK >= lo) or any(lo - SLACK <= n <= hi + SLACK for n in named)

        hits = [f for f in findings if near(f)]
        found += bool(hits)
        said = ", ".join(f"{f.rule}:{f.line}" for f in findings) or "nothing"
        print(f"{meta['n']:>4}  {meta['class']:32} {rel:44} {'FOUND' if hits else 'missed'} ({said})")
    print(f"\n{len(cases)} cases read; {applied} fixes apply to 6.1, {len(cases) - applied} do not (listed); "
          f"{found} of the {applied} undone fixes found at the buggy lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
