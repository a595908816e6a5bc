"""Parse robustness and speed on kernel C: the kernel-aware parse next to raw tree-sitter-c.

    python bench/parse_bench.py [CORPUS] [--repeat N]
    python bench/parse_bench.py --files LIST --corpus DIR [--repeat N] [--raw]

CORPUS is an unpacked kernel source tree (default: Debian's linux-source-6.1 in the reviewbot
cache). For kernel/bpf and mm it prints, for raw tree-sitter-c and for the masked parse measured in
the same run: % of lines outside ERROR/MISSING nodes, % of functions without errors, and MB/s
(best of N runs, the runs of both parsers interleaved so machine load hits both alike).
Coccinelle's numbers on the same corpus, for reference: 96.8% (kernel/bpf) and 99.5% (mm) of lines.

With --files, LIST names one file per line (relative to --corpus, e.g. /work/data/rcufiles.txt:
the 1,730 .c files of linux 6.1 that use RCU); those files are measured as one set, masked (and
raw with --raw). It prints how many files the list names, how many were read and measured (a
missing file is named on stderr and counted, never silently dropped), then the counts and
percentages.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reviewbot.csource.stats import measure  # noqa: E402

DEFAULT_CORPUS = Path(os.path.expanduser("~/.cache/reviewbot/linux-source-6.1"))
FOLDERS = ("kernel/bpf", "mm")


def best_of(paths: list[str], raw: bool, previous: dict | None) -> dict:
    result = measure(paths, raw=raw)
    if previous is not None and previous["seconds"] < result["seconds"]:
        result["seconds"] = previous["seconds"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus_arg", nargs="?", metavar="CORPUS", help="a kernel tree (folder mode)")
    parser.add_argument("--corpus", help="the tree the --files paths are relative to")
    parser.add_argument("--files", metavar="LIST", help="measure the files a list names (one path a line)")
    parser.add_argument("--raw", action="store_true", help="with --files: measure raw tree-sitter-c too")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    corpus = Path(args.corpus or args.corpus_arg or DEFAULT_CORPUS)
    if args.files:
        return measure_list(Path(args.files), corpus, args.repeat, args.raw)
    return measure_folders(corpus, args.repeat)


def measure_list(listing: Path, corpus: Path, repeat: int, raw: bool) -> int:
    if not listing.is_file():
        print(f"file list not found: {listing}", file=sys.stderr)
        return 2
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip() and not line.startswith("#")]
    paths = []
    missing = 0
    for name in names:
        path = corpus / name
        if path.is_file():
            paths.append(str(path))
        else:
            missing += 1
            print(f"missing: {path}", file=sys.stderr)
    results = {}
    for _ in range(repeat):  # parsers interleaved, best time of each kept
        for name, is_raw in (("raw", True), ("masked", False)) if raw else (("masked", False),):
            results[name] = best_of(paths, is_raw, results.get(name))
    measured = results["masked"]["files"]
    print(f"files: {len(names)} listed, {len(paths)} read, {measured} measured, {missing} missing "
          f"({listing} in {corpus})")
    header = f"{'parser':<7} {'lines':>9} {'in error':>8} {'lines ok %':>10} {'functions':>9} " \
             f"{'with error':>10} {'fn ok %':>7} {'dropped':>7} {'MB':>6} {'seconds':>7} {'MB/s':>5}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(f"{name:<7} {r['lines']:>9} {r['lines_in_error']:>8} {_pct(r['lines_ok_pct']):>10} "
              f"{r['functions']:>9} {r['functions_with_error']:>10} {_pct(r['functions_ok_pct']):>7} "
              f"{r['lines_dropped']:>7} {r['bytes'] / 1e6:>6.1f} {r['seconds']:>7.2f} "
              f"{r['bytes'] / max(r['seconds'], 1e-9) / 1e6:>5.2f}")
    return 0 if measured == len(names) else 1


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def measure_folders(corpus: Path, repeat: int) -> int:
    if not all((corpus / f).is_dir() for f in FOLDERS):
        print(f"corpus not found: {corpus} (needs {', '.join(FOLDERS)})", file=sys.stderr)
        return 2
    header = f"{'folder':<11} {'parser':<7} {'files':>5} {'lines':>7} {'lines ok %':>10} {'functions':>9} " \
             f"{'fn ok %':>7} {'dropped':>7} {'MB/s':>6}"
    print(header)
    print("-" * len(header))
    for folder in FOLDERS:
        raw = masked = None
        for _ in range(repeat):
            raw = best_of([str(corpus / folder)], True, raw)
            masked = best_of([str(corpus / folder)], False, masked)
        for name, r in (("raw", raw), ("masked", masked)):
            lines_ok = 100.0 * (1 - r["lines_in_error"] / r["lines"])
            fn_ok = 100.0 * (1 - r["functions_with_error"] / r["functions"])
            speed = r["bytes"] / r["seconds"] / 1e6
            print(f"{folder:<11} {name:<7} {r['files']:>5} {r['lines']:>7} {lines_ok:>10.3f} {r['functions']:>9} "
                  f"{fn_ok:>7.2f} {r['lines_dropped']:>7} {speed:>6.2f}")
        ratio = (masked["bytes"] / masked["seconds"]) / (raw["bytes"] / raw["seconds"])
        print(f"{folder:<11} masked speed = {100 * ratio:.0f}% of raw tree-sitter-c")
    print("\nlines ok: no ERROR/MISSING node covers the line; dropped: non-blank lines in #else branches")
    print("the mask does not parse (not counted as errors). Coccinelle: 96.8% (kernel/bpf), 99.5% (mm).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
