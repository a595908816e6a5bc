"""How long the reference models take on one patch: v1 01/14 and the corrected variant, and the
made-up v2 of the series' later design (tests/model_variants/v2/: corrected, as sent, each one-bug
variant, and their median).

Prints, per patch: the number of worlds explored, the number of findings, and the wall time of
run_models() (parse, recognition and the whole exploration), cold (first run in the process, the C
parse included) and warm (median of the next runs), and the least CPU time of the warm runs (steadier
than wall time on a shared machine). Usage: python bench/model_bench.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reviewbot.models import load_models, run_models  # noqa: E402
from tests.helpers import v1_series  # noqa: E402
from tests.model_variants import fixed_files, make_patch  # noqa: E402
from tests.model_variants import v2  # noqa: E402


def measure(patch, models, runs: int) -> dict:
    t0 = time.perf_counter()
    findings, not_modelled = run_models(patch, models)
    cold = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        run_models(patch, models)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    worlds = sum(m.run(patch).stats.get("worlds", 0) for m in models)
    return {"findings": len(findings), "not_modelled": len(not_modelled), "worlds": worlds, "cold": cold,
            "warm": statistics.median(times) if times else cold, "max": max(times) if times else cold,
            "cpu": min(cpu) if cpu else cold}


def main(argv: list[str]) -> int:
    runs = int(argv[1]) if len(argv) > 1 else 5
    models = load_models()
    patches = [("v1 01/14", v1_series().patches[0]), ("v1 corrected", make_patch(fixed_files())),
               ("v2 corrected", v2.make_patch(v2.fixed_files())),
               ("v2 sent", v2.make_patch(v2.variant_files(v2.SENT)))]
    patches += [(f"v2 {v.name}", v2.make_patch(v2.variant_files(v))) for v in v2.VARIANTS]
    print(f"{'patch':<30} {'worlds':>6} {'findings':>8} {'cold s':>8} {'warm s':>8} {'max s':>8} {'cpu s':>8}")
    v2_warm = []
    for name, patch in patches:
        r = measure(patch, models, runs)
        if name.startswith("v2"):
            v2_warm.append(r["warm"])
        print(f"{name:<30} {r['worlds']:>6} {r['findings']:>8} {r['cold']:>8.3f} {r['warm']:>8.3f} {r['max']:>8.3f}"
              f" {r['cpu']:>8.3f}")
    print(f"v2: median warm time per patch {statistics.median(v2_warm):.3f} s, slowest {max(v2_warm):.3f} s "
          f"({len(v2_warm)} patches)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
