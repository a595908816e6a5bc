#!/usr/bin/env python3
"""reviewbot vs checkpatch.pl, side by side in one run on this machine: the v1 series, batch
throughput on new-file patches, and peak memory.

    python bench/batch_bench.py [--runs N] [--kernel DIR] [--dirs kernel/bpf,mm] [--jobs N]

1. The v1 series (13 patches the archive has), one process each tool, wall-clock medians over
   --runs (bench/review_bench.py's measurement, reused): `python -m reviewbot review <01/14> --mbox
   fixtures/bpf-oom-v1/thread.mbox --format json` vs `checkpatch.pl --no-tree -q <13 patch files>`.
2. Batch throughput: every .c file of each --dirs folder of linux-source-6.1 as a new-file patch
   mail (reviewbot.diff.new_file_diff), all in one mbox per folder, reviewed by `reviewbot batch
   MBOX --no-store --format json --output DIR` (all cores by default) vs `checkpatch.pl --no-tree -q
   -f FILES` (one process: checkpatch has no parallel mode). Patches/s and lines/s of each.
3. Peak memory: the largest ru_maxrss of any process of each run (getrusage(RUSAGE_CHILDREN) of a
   fresh helper that runs the command: the maximum over its waited-for descendants).

The kernel tree is ../shared/tools/kernel-corpus's (default ~/.cache/reviewbot/linux-source-6.1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import review_bench  # noqa: E402  (bench/review_bench.py: the v1 measurement)

DEFAULT_KERNEL = review_bench.DEFAULT_KERNEL

# Runs argv as a child and prints "<wall seconds> <peak maxrss KB of any descendant> <exit code>".
_MEASURE = r"""
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.perf_counter() - t
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
"""


def measure(cmd: list[str], cwd: Path | None = None) -> tuple[float, int, int]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, cwd=cwd,
                         check=True, env=review_bench.TOOL_ENV).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def runs(cmd: list[str], n: int, cwd: Path | None = None) -> tuple[float, float, int, int]:
    """(median wall, min wall, peak KB, last exit code) over n runs."""
    walls, peak, rc = [], 0, 0
    measure(cmd, cwd)  # warm-up, untimed: byte-compile as an installed copy would be
    for _ in range(n):
        wall, kb, rc = measure(cmd, cwd)
        walls.append(wall)
        peak = max(peak, kb)
    return statistics.median(walls), min(walls), peak, rc


def new_file_mbox(kernel: Path, folder: str, out: Path) -> tuple[list[Path], int]:
    """Every .c file of kernel/folder (recursively) as a "[PATCH] add <path>" mail adding the whole
    file, in one mbox. Returns the files and their line count."""
    from reviewbot.diff import new_file_diff

    files = sorted((kernel / folder).rglob("*.c"))
    lines = 0
    with open(out, "wb") as fh:
        for n, path in enumerate(files, 1):
            rel = str(path.relative_to(kernel))
            text = path.read_bytes().decode("utf-8", "replace")
            lines += text.count("\n")
            body = f"Add {rel}.\n\nSigned-off-by: Bench <bench@example.org>\n---\n" + new_file_diff(rel, text)
            mail = (f"From: Bench <bench@example.org>\nSubject: [PATCH] add {rel}\n"
                    f"Message-ID: <bench-{n}-{rel.replace('/', '.')}@example.org>\n"
                    f"Date: {formatdate(1700000000 + n)}\nMIME-Version: 1.0\n"
                    f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}")
            if not mail.endswith("\n"):
                mail += "\n"
            # mboxrd: escape body lines that start with (>*)From
            escaped = "\n".join((">" + ln) if ln.lstrip(">").startswith("From ") else ln for ln in mail.split("\n"))
            fh.write(b"From bench@example.org Thu Jan  1 00:00:00 1970\n" + escaped.encode("utf-8") + b"\n")
    return files, lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of the v1 measurement (median)")
    ap.add_argument("--batch-runs", type=int, default=1, help="runs of each batch measurement (median)")
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL)
    ap.add_argument("--dirs", default="kernel/bpf,mm", help="kernel folders for the batch part")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    checkpatch = args.kernel / "scripts" / "checkpatch.pl"
    if not checkpatch.is_file():
        print(f"no checkpatch.pl under {args.kernel}; run ../shared/tools/kernel-corpus", file=sys.stderr)
        return 2
    rows: list[tuple] = []  # (what, tool, median s, min s, peak MB, rate text)
    py = sys.executable

    # 1. The v1 series.
    thread_dir = review_bench.THREAD
    rb_cmd = [py, "-m", "reviewbot", "review", review_bench.PATCH_01, "--mbox", str(thread_dir / "thread.mbox"),
              "--format", "json", "--fail-on", "never"]
    med, best, kb, rc = runs(rb_cmd, args.runs, cwd=ROOT)
    v1 = [("v1 series (13 patches)", "reviewbot review", med, best, kb / 1024, f"exit {rc}")]
    with tempfile.TemporaryDirectory() as tmp:
        patches = review_bench.write_v1_patches(Path(tmp))
        med, best, kb, rc = runs(["perl", str(checkpatch), "--no-tree", "-q", *patches], args.runs)
        v1.append((f"v1 series ({len(patches)} patches)", "checkpatch.pl", med, best, kb / 1024, f"exit {rc}"))
    rows += v1
    v1_ratio = v1[1][2] / v1[0][2]

    # 2./3. Batch throughput and memory.
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in [d.strip() for d in args.dirs.split(",") if d.strip()]:
            mbox = Path(tmp) / (folder.replace("/", "_") + ".mbox")
            files, lines = new_file_mbox(args.kernel, folder, mbox)
            outdir = Path(tmp) / (folder.replace("/", "_") + "-json")
            cmd = [py, "-m", "reviewbot", "batch", str(mbox), "--no-store", "--format", "json", "--output",
                   str(outdir), "--jobs", str(args.jobs), "--fail-on", "never"]
            med, best, kb, rc = runs(cmd, args.batch_runs, cwd=ROOT)
            what = f"{folder}: {len(files)} new files, {lines} lines"
            rows.append((what, f"reviewbot batch -j{args.jobs}", med, best, kb / 1024,
                         f"{len(files) / med:.1f} patches/s, {lines / med:,.0f} lines/s (exit {rc})"))
            cp_med, cp_best, cp_kb, cp_rc = runs(
                ["perl", str(checkpatch), "--no-tree", "-q", "-f", *map(str, files)], args.batch_runs)
            rows.append((what, "checkpatch.pl -f", cp_med, cp_best, cp_kb / 1024,
                         f"{len(files) / cp_med:.1f} files/s, {lines / cp_med:,.0f} lines/s (exit {cp_rc})"))
            ratios[folder] = cp_med / med

    print(f"{'what':44} {'tool':24} {'median s':>9} {'min s':>7} {'peak MB':>8}  rate")
    for what, tool, med, best, mb, rate in rows:
        print(f"{what:44} {tool:24} {med:9.2f} {best:7.2f} {mb:8.0f}  {rate}")
    print(f"v1 series: checkpatch / reviewbot = {v1_ratio:.1f}x (target >= 3x)")
    for folder, ratio in ratios.items():
        print(f"{folder}: checkpatch / reviewbot batch = {ratio:.1f}x (target for kernel/bpf >= 20x)")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
