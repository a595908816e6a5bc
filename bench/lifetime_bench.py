#!/usr/bin/env python3
"""Median time of the lifetime model per patch on a list replay.

    python bench/lifetime_bench.py [MBOX]     (default: ../shared/corpus/lists/cgroups-3000.mbox.gz)

Every patch of every version of every thread of the mailbox (as batch assembles them) goes through
models.run_models with the lifetime model alone, as the engine runs it (its own parse of the files it
reads). Prints the patches, how many the model applied to (a file with RCU roles), the median and
the slowest time per patch, and the target (median <= 1 s).
"""

from __future__ import annotations

import gzip
import statistics
from collections import Counter
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "corpus" / "lists" / "cgroups-3000.mbox.gz"


def main(argv: list[str]) -> int:
    from reviewbot import batch, lore, models
    from reviewbot.errors import ReviewbotError

    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    if path.suffix == ".gz":
        tmp = Path(tempfile.mkdtemp()) / "list.mbox"
        tmp.write_bytes(gzip.decompress(path.read_bytes()))
        path = tmp
    raws = batch.read_mbox(path)
    lifetime = [m for m in models.load_models() if m.id == "lifetime"]
    times, applied, worlds = [], 0, 0
    slow = (0.0, "")
    threads = Counter()
    unreadable = 0
    for raws_of_thread in batch.split_threads(raws):
        threads["read"] += 1
        msgs = [lore.parse_message(r) for r in raws_of_thread]
        first = next((m for m in (lore.clean_msgid(x) for x in msgs) if m), None)
        try:
            versions = batch.thread_series(msgs, first) if first else []
        except ReviewbotError as exc:
            # counted, not dropped: a thread with no series is a discussion; any other reason is shown
            threads["without patches" if str(exc).startswith("no patches") else f"failed: {exc}"] += 1
            continue
        threads["with patches"] += 1
        for series in versions:
            for patch in series.patches:
                if patch.unreadable:
                    unreadable += 1
                    continue
                t0 = time.perf_counter()
                result = lifetime[0].run(patch)
                took = time.perf_counter() - t0
                times.append(took)
                applied += result.applied
                worlds += result.stats.get("worlds", 0)
                if took > slow[0]:
                    slow = (took, patch.subject)
    if not times:
        print("no patches", file=sys.stderr)
        return 2
    med = statistics.median(times)
    print(f"threads: {', '.join(f'{n} {what}' for what, n in threads.items())}; "
          f"patches: {len(times) + unreadable} assembled, {len(times)} run, {unreadable} unreadable (no diff to run)")
    print(f"{len(times)} patches, the lifetime model applied to {applied} ({worlds} worlds); "
          f"median {med * 1000:.1f} ms per patch, mean {statistics.mean(times) * 1000:.1f} ms, "
          f"slowest {slow[0]:.2f} s ({slow[1][:70]})")
    print(f"{'PASS' if med <= 1.0 else 'FAIL'}: median model time per patch {med:.3f} s (target <= 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
