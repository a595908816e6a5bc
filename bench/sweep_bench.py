#!/usr/bin/env python3
"""False-positive sweep: every .c file of linux-source-6.1 kernel/bpf and mm as a new-file patch.

    python bench/sweep_bench.py [--kernel DIR] [--rules IDS] [--jobs N] [--list FILE] [DIR ...]

Mainline code is mostly right, so each finding here is a probable false positive. Prints findings
per 10,000 lines per folder and per rule, and writes every finding (file:line rule message) to
--list (default: sweep-findings.txt in the current folder) for reading.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_KERNEL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reviewbot" / "linux-source-6.1"

_RULES = None


def _init(only: str | None) -> None:
    global _RULES
    from reviewbot import rulepack

    _RULES = rulepack.select(rulepack.load_rules(), only, None)


def review_file(job: tuple[str, str]) -> tuple[str, int, list[tuple[int, str, str]]]:
    from reviewbot import engine, thread

    path, rel = job
    text = Path(path).read_bytes().decode("utf-8", "replace")
    patch = thread.file_patch(rel, text)
    found = engine.run_patch(patch, _RULES)
    return rel, text.count("\n"), [(f.line, f.rule, f.message) for f in sorted(found, key=lambda f: f.sort_key())]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", default=["kernel/bpf", "mm"])
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL)
    ap.add_argument("--rules", help="only these rules (ids, names or packs)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--list", type=Path, default=Path("sweep-findings.txt"))
    args = ap.parse_args()
    if not args.kernel.is_dir():
        print(f"no kernel tree at {args.kernel}; run ../shared/tools/kernel-corpus", file=sys.stderr)
        return 2

    rows = []
    listing = []
    per_rule: Counter = Counter()
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init, initargs=(args.rules,)) as pool:
        for folder in args.dirs:
            files = sorted((args.kernel / folder).rglob("*.c"))
            jobs = [(str(p), str(p.relative_to(args.kernel))) for p in files]
            lines = findings = 0
            for rel, n_lines, found in pool.map(review_file, jobs, chunksize=4):
                lines += n_lines
                findings += len(found)
                for line, rule, message in found:
                    per_rule[rule] += 1
                    listing.append(f"{rel}:{line}: {rule}: {message}")
            rows.append((folder, len(files), lines, findings))
    seconds = time.perf_counter() - start
    args.list.write_text("\n".join(listing) + ("\n" if listing else ""))

    print(f"{'folder':12} {'files':>6} {'lines':>9} {'findings':>9} {'per 10k lines':>14}")
    for folder, n_files, lines, findings in rows:
        print(f"{folder:12} {n_files:6d} {lines:9d} {findings:9d} {findings * 10000 / max(lines, 1):14.2f}")
    total_lines = sum(r[2] for r in rows)
    total = sum(r[3] for r in rows)
    print(f"{'all':12} {sum(r[1] for r in rows):6d} {total_lines:9d} {total:9d} {total * 10000 / max(total_lines, 1):14.2f}")
    print(f"per rule: {dict(sorted(per_rule.items())) or '{}'}")
    print(f"{seconds:.1f} s with {args.jobs} processes; findings listed in {args.list}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
