#!/usr/bin/env python3
"""Whole-process review of the v1 series vs checkpatch.pl over the same patches, in one run.

    python bench/review_bench.py [--runs N] [--kernel DIR]

reviewbot: `reviewbot review <01/14> --mbox fixtures/bpf-oom-v1/thread.mbox --format json` as a new
process each run (interpreter start-up and imports included: that is what a user waits for).
checkpatch: `checkpatch.pl --no-tree -q` over the 13 patch mails of the thread, one invocation.
The kernel tree comes from ../shared/tools/kernel-corpus (linux-source-6.1). Prints medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREAD = ROOT / "fixtures" / "bpf-oom-v1"
PATCH_01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
DEFAULT_KERNEL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reviewbot" / "linux-source-6.1"
# An installed reviewbot runs from byte-compiled modules (pip compiles them at install time). Our
# machines set PYTHONDONTWRITEBYTECODE, which would make every timed run recompile the checkout's
# sources; the benches allow the cache and warm it with one untimed run, so they time what a user
# of an installed reviewbot waits for.
TOOL_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def write_v1_patches(folder: Path) -> list[str]:
    """The v1 thread's patch mails as NNNN.patch files in folder, for checkpatch.pl."""
    patches = []
    for n in range(2, 16):
        src = THREAD / "messages" / f"20250818170136.209169-{n}-roman.gushchin@linux.dev.eml"
        if src.is_file():
            dst = folder / f"{n:04d}.patch"
            dst.write_bytes(src.read_bytes())
            patches.append(str(dst))
    return patches


def timed(cmd: list[str], runs: int, **kw) -> tuple[float, float, int]:
    """Median and min wall seconds over runs, and the last exit code."""
    times = []
    kw.setdefault("env", TOOL_ENV)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # warm-up, untimed
    rc = 0
    for _ in range(runs):
        start = time.perf_counter()
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL)
    args = ap.parse_args()

    reviewbot = [sys.executable, "-m", "reviewbot", "review", PATCH_01, "--mbox", str(THREAD / "thread.mbox"),
                 "--format", "json", "--fail-on", "never"]
    rows = []
    med, best, rc = timed(reviewbot, args.runs, cwd=ROOT)
    rows.append(("reviewbot review (v1, 13 patches, one process)", med, best, rc))

    checkpatch = args.kernel / "scripts" / "checkpatch.pl"
    if checkpatch.is_file() and shutil.which("perl"):
        with tempfile.TemporaryDirectory() as tmp:
            patches = write_v1_patches(Path(tmp))
            cmd = ["perl", str(checkpatch), "--no-tree", "-q", *patches]
            med, best, rc = timed(cmd, args.runs)
            rows.append((f"checkpatch.pl --no-tree -q ({len(patches)} patches, one process)", med, best, rc))
    else:
        print(f"(checkpatch.pl not found under {args.kernel}; run ../shared/tools/kernel-corpus)")

    print(f"{'what':58} {'median s':>9} {'min s':>7} {'exit':>5}")
    for what, med, best, rc in rows:
        print(f"{what:58} {med:9.3f} {best:7.3f} {rc:5d}")
    if len(rows) == 2:
        print(f"checkpatch / reviewbot (median): {rows[1][1] / rows[0][1]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
