#!/usr/bin/env python3
"""False-positive sweep: every .c file of kernel folders, or of a file list, as a new-file patch.

    python bench/sweep_bench.py [--kernel DIR] [--rules IDS] [--jobs N] [--list FILE] [DIR ...]
    python bench/sweep_bench.py --files /work/data/rcufiles.txt --rules rcu,srcu [--jobs 2]
           [--checkpatch | --checkpatch-sample N] [--sample N --seed S --verdicts bench/verdicts/X.tsv]

Mainline code is mostly right, so each finding here is a probable false positive. Without --files,
sweeps the folders given (default kernel/bpf and mm of linux-source-6.1); with --files, the files
of the list (paths relative to --kernel, which then defaults to the full tree) grouped by their top
folder. Prints findings per 10,000 lines per folder and per rule, files read vs reviewed (a file
that fails to review is counted and named, never skipped), wall time and lines/s, and writes every
finding as `file:line: RULE: message` to --list (default: sweep-findings.txt here).

--checkpatch runs `checkpatch.pl --no-tree -q -f` on the same files after the review, in --jobs
chunks in parallel, and prints its time and lines/s beside reviewbot's; --checkpatch-sample N runs
it on a deterministic sample of N of the files instead (a sample: its time is not scaled up).

--sample N --seed S --verdicts FILE.tsv writes a deterministic random sample of N findings to a
TSV (rule, file, line, verdict, reason) for a human to judge; verdicts already in the file are kept
for findings still present (matched by rule+file+line), and precision is printed over judged rows.

Targets (printed as PASS/FAIL, not enforced): the whole sweep set within 2 minutes on 2 cores;
judged precision >= 90%; <= 0.5 findings per 10k lines.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reviewbot"
DEFAULT_KERNEL = CACHE / "linux-source-6.1"
FULL_KERNEL = CACHE / "linux-source-6.1-full"

TARGET_SECONDS = 120.0  # the whole sweep set on 2 cores
TARGET_PRECISION = 0.90
TARGET_PER_10K = 0.5
TRUE_VERDICTS = {"true", "tp", "yes", "y", "t"}
FALSE_VERDICTS = {"false", "fp", "no", "n", "f"}
TSV_COLUMNS = ["rule", "file", "line", "verdict", "reason"]

_RULES = None
_MODELS = None
_KEEP = None  # which model findings --rules asks for


def _init(only: str | None, use_models: bool = False) -> None:
    global _RULES, _MODELS, _KEEP
    import gc

    from reviewbot import cli, models, rulepack

    gc.set_threshold(*cli.GC_THRESHOLD)  # as the reviewbot command runs (cli.entry)

    if use_models:
        _RULES, _MODELS, _KEEP = rulepack.select(rulepack.load_rules(), only, None, models.load_models())
    else:
        _RULES, _MODELS = rulepack.select(rulepack.load_rules(), only, None), []


def model_outcome(f) -> str:
    """What the models did with a rule finding: "reproduced" (confirmed, with a trace), "refuted"
    (they ran its code without a divergence) or "" (neither, or no model ran)."""
    extra = dict(f.extra)
    return "reproduced" if "confirmed_by" in extra else "refuted" if "refuted_by" in extra else ""


def review_file(job: tuple[str, str]) -> tuple[str, int, list[tuple[int, str, str, str]], str | None]:
    """(rel, lines, [(line, rule, message, model outcome)], error): error names why the file could
    not be read (lines -1) or reviewed (lines 0); the caller counts and prints it."""
    from reviewbot import engine, thread

    path, rel = job
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        return rel, -1, [], f"not read: {type(exc).__name__}: {exc}"
    try:
        patch = thread.file_patch(rel, text)
        if _MODELS:
            found = engine.run(thread.single_series((patch,)), _RULES, models=_MODELS, keep=_KEEP).findings
        else:
            found = engine.run_patch(patch, _RULES)
    except Exception as exc:  # one bad file must not stop the sweep, nor vanish from it
        return rel, 0, [], f"{type(exc).__name__}: {exc}"
    return rel, text.count("\n"), [(f.line, f.rule, f.message, model_outcome(f))
                                    for f in sorted(found, key=lambda f: f.sort_key())], None


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far: the review workers
    once the pool has shut down, checkpatch once it has exited. Unlike wall time, this hardly moves
    when other work shares the cores."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


# --- checkpatch ----------------------------------------------------------------------------------


def run_checkpatch(kernel: Path, rels: list[str], jobs: int) -> tuple[float, float, Counter]:
    """checkpatch.pl --no-tree -q -f over the files, one process per chunk, `jobs` chunks at once.
    Returns wall seconds, CPU seconds and counts (exit codes, WARNING/ERROR/CHECK lines printed)."""
    script = kernel / "scripts" / "checkpatch.pl"
    # chunks balanced by size: biggest file first into the lightest chunk
    sizes = sorted(((count_lines(kernel / r), r) for r in rels), reverse=True)
    chunks: list[list[str]] = [[] for _ in range(max(1, min(jobs, len(rels))))]
    load = [0] * len(chunks)
    for size, rel in sizes:
        i = load.index(min(load))
        chunks[i].append(rel)
        load[i] += size
    counts: Counter = Counter()
    cpu = children_cpu()
    start = time.perf_counter()
    procs = [subprocess.Popen(["perl", str(script), "--no-tree", "-q", "-f", *sorted(chunk)], cwd=kernel,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for chunk in chunks if chunk]
    for proc in procs:
        out, _ = proc.communicate()
        counts[f"exit {proc.returncode}"] += 1
        for line in out.decode("utf-8", "replace").splitlines():
            for kind in ("ERROR", "WARNING", "CHECK"):
                if line.startswith(kind + ":"):
                    counts[kind] += 1
    return time.perf_counter() - start, children_cpu() - cpu, counts


# --- verdicts --------------------------------------------------------------------------------------


def read_verdicts(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [dict(row) for row in csv.DictReader(fh, delimiter="\t")]


def write_verdicts(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TSV_COLUMNS, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") or "" for k in TSV_COLUMNS})


def update_verdicts(path: Path, findings: list[tuple[str, int, str, str]], n: int, seed: int) -> dict:
    """Sample n findings (rule+file+line, deterministic for a seed) into the TSV at path, keeping
    the verdicts of rows whose finding is still present. Returns what happened, for printing."""
    present = sorted({(rule, rel, line) for rel, line, rule, _msg in findings}, key=lambda k: (k[1], k[2], k[0]))
    sample = random.Random(seed).sample(present, min(n, len(present)))
    old = read_verdicts(path) if path.is_file() else []
    current = set(present)
    kept, stale, seen = [], [], set()
    for row in old:
        try:
            key = (row.get("rule", ""), row.get("file", ""), int(row.get("line", "")))
        except ValueError:
            stale.append(row)  # not a row we can match; shown, not silently dropped
            continue
        if key in seen:
            continue
        if key in current:
            kept.append(row)
            seen.add(key)
        else:
            stale.append(row)
    added = [{"rule": r, "file": f, "line": str(line), "verdict": "", "reason": ""}
             for r, f, line in sample if (r, f, line) not in seen]
    rows = sorted(kept + added, key=lambda row: (row["file"], int(row["line"]), row["rule"]))
    write_verdicts(path, rows)
    if stale:  # judged rows of findings that are gone: set aside beside the TSV, not lost
        gone = path.with_name(path.stem + ".gone.tsv")
        write_verdicts(gone, (read_verdicts(gone) if gone.is_file() else []) + stale)
    verdicts = [(row.get("verdict") or "").strip().lower() for row in rows]
    return {
        "rows": len(rows), "kept": len(kept), "added": len(added), "stale": stale,
        "gone_file": path.with_name(path.stem + ".gone.tsv"),
        "true": sum(v in TRUE_VERDICTS for v in verdicts),
        "false": sum(v in FALSE_VERDICTS for v in verdicts),
        "unjudged": sum(not v for v in verdicts),
        "unreadable": [row for row, v in zip(rows, verdicts) if v and v not in TRUE_VERDICTS | FALSE_VERDICTS],
    }


# --- main ------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", help="kernel folders to sweep (default kernel/bpf mm; not with --files)")
    ap.add_argument("--files", type=Path, help="a list of .c files, paths relative to --kernel")
    ap.add_argument("--kernel", type=Path, help=f"kernel tree (default {DEFAULT_KERNEL}; {FULL_KERNEL} with --files)")
    ap.add_argument("--rules", help="only these rules (ids, names or packs)")
    ap.add_argument("--models", action="store_true", help="also run the reference models")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--list", type=Path, default=Path("sweep-findings.txt"))
    ap.add_argument("--checkpatch", action="store_true", help="time checkpatch.pl -f on the same files")
    ap.add_argument("--checkpatch-sample", type=int, metavar="N", help="time checkpatch.pl on N of the files")
    ap.add_argument("--sample", type=int, metavar="N", help="findings to sample into --verdicts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verdicts", type=Path, help="TSV of sampled findings and their human verdicts")
    args = ap.parse_args()
    if args.files and args.dirs:
        ap.error("give folders or --files, not both")
    if (args.sample is None) != (args.verdicts is None):
        ap.error("--sample and --verdicts go together")
    kernel = args.kernel or (FULL_KERNEL if args.files else DEFAULT_KERNEL)
    if not kernel.is_dir():
        print(f"no kernel tree at {kernel}; run ../shared/tools/kernel-corpus", file=sys.stderr)
        return 2

    # what to sweep: (group, rel) in a fixed order
    if args.files:
        rels = [line.strip() for line in args.files.read_text().splitlines() if line.strip()]
        groups = [(rel.split("/", 1)[0], rel) for rel in sorted(set(rels))]
        if len(groups) != len(rels):
            print(f"note: {len(rels) - len(groups)} duplicate paths in {args.files} reviewed once")
    else:
        groups = []
        for folder in args.dirs or ["kernel/bpf", "mm"]:
            groups.extend((folder, str(p.relative_to(kernel))) for p in sorted((kernel / folder).rglob("*.c")))
    jobs = [(str(kernel / rel), rel) for _, rel in groups]
    group_of = dict((rel, g) for g, rel in groups)

    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # group -> files, lines, findings
    listing: list[str] = []
    findings: list[tuple[str, int, str, str]] = []
    per_rule: Counter = Counter()
    outcomes: dict[tuple[str, str, int], str] = {}  # (rule, file, line) -> what the models did
    failed: list[tuple[str, str]] = []
    read = 0
    unread: set[str] = set()
    cpu = children_cpu()
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init, initargs=(args.rules, args.models)) as pool:
        for rel, n_lines, found, error in pool.map(review_file, jobs, chunksize=4):
            read += n_lines >= 0
            if n_lines < 0:
                unread.add(rel)
            if error:
                failed.append((rel, error))
                continue
            row = rows[group_of[rel]]
            row[0] += 1
            row[1] += n_lines
            row[2] += len(found)
            for line, rule, message, outcome in found:
                per_rule[rule] += 1
                listing.append(f"{rel}:{line}: {rule}: {message}" + (f" [model: {outcome}]" if outcome else ""))
                if outcome:
                    outcomes[(rule, rel, line)] = outcome
                findings.append((rel, line, rule, message))
    seconds = time.perf_counter() - start
    cpu_seconds = children_cpu() - cpu  # the workers have exited with the pool
    args.list.write_text("\n".join(listing) + ("\n" if listing else ""))

    reviewed = sum(r[0] for r in rows.values())
    total_lines = sum(r[1] for r in rows.values())
    total = sum(r[2] for r in rows.values())
    print(f"{'folder':12} {'files':>6} {'lines':>9} {'findings':>9} {'per 10k lines':>14}")
    for group in sorted(rows) if args.files else dict.fromkeys(g for g, _ in groups):
        n_files, lines, n_found = rows[group]
        print(f"{group:12} {n_files:6d} {lines:9d} {n_found:9d} {n_found * 10000 / max(lines, 1):14.2f}")
    per_10k = total * 10000 / max(total_lines, 1)
    print(f"{'all':12} {reviewed:6d} {total_lines:9d} {total:9d} {per_10k:14.2f}")
    print(f"files: {len(jobs)} listed, {read} read, {reviewed} reviewed, {len(failed)} failed")
    for rel, error in failed:
        print(f"  failed: {rel}: {error}")
    print(f"per rule: {dict(sorted(per_rule.items())) or '{}'}")
    if args.models:
        by_outcome = Counter((rule, outcome) for (rule, _f, _l), outcome in outcomes.items())
        print("models on rule findings (the rest: neither): "
              + (", ".join(f"{rule} {outcome} {n}" for (rule, outcome), n in sorted(by_outcome.items())) or "none"))
    rate = total_lines / seconds if seconds else 0.0
    cpu_rate = total_lines / cpu_seconds if cpu_seconds else 0.0
    print(f"reviewbot: {seconds:.1f} s wall with {args.jobs} processes, {rate:,.0f} lines/s; "
          f"{cpu_seconds:.1f} CPU s, {cpu_rate:,.0f} lines per CPU s; load average at the end "
          f"{os.getloadavg()[0]:.1f}; findings listed in {args.list}")

    if args.checkpatch or args.checkpatch_sample:
        cp_rels = [rel for _, rel in groups if rel not in unread]  # what reviewbot could read too
        what = "the same files"
        if args.checkpatch_sample and not args.checkpatch:
            cp_rels = sorted(random.Random(args.seed).sample(cp_rels, min(args.checkpatch_sample, len(cp_rels))))
            what = f"a sample of {len(cp_rels)} of the {len(groups)} files (seed {args.seed}; times not scaled)"
        cp_lines = sum(count_lines(kernel / r) for r in cp_rels)
        cp_seconds, cp_cpu, cp_counts = run_checkpatch(kernel, cp_rels, args.jobs)
        cp_rate = cp_lines / cp_seconds if cp_seconds else 0.0
        cp_cpu_rate = cp_lines / cp_cpu if cp_cpu else 0.0
        print(f"checkpatch.pl --no-tree -q -f on {what}: {len(cp_rels)} files, {cp_lines} lines, "
              f"{cp_seconds:.1f} s wall with {args.jobs} processes, {cp_rate:,.0f} lines/s; {cp_cpu:.1f} CPU s, "
              f"{cp_cpu_rate:,.0f} lines per CPU s ({dict(sorted(cp_counts.items()))})")

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.1f}x" if b else "-"

        print(f"reviewbot vs checkpatch.pl: {rate:,.0f} vs {cp_rate:,.0f} lines/s wall ({ratio(rate, cp_rate)}), "
              f"{cpu_rate:,.0f} vs {cp_cpu_rate:,.0f} lines per CPU s ({ratio(cpu_rate, cp_cpu_rate)})")

    precision = None
    if args.verdicts:
        v = update_verdicts(args.verdicts, findings, args.sample, args.seed)
        judged = v["true"] + v["false"]
        print(f"verdicts {args.verdicts}: {v['rows']} rows ({v['kept']} kept, {v['added']} added, "
              f"{len(v['stale'])} moved to {v['gone_file'].name} as no longer found); judged {judged}, unjudged {v['unjudged']}, "
              f"unreadable verdicts {len(v['unreadable'])}")
        for row in v["stale"]:
            print(f"  moved (finding gone): {row.get('file')}:{row.get('line')} {row.get('rule')} "
                  f"verdict={row.get('verdict') or '-'}")
        for row in v["unreadable"]:
            print(f"  unreadable verdict {row['verdict']!r} (use true/false): {row['file']}:{row['line']} {row['rule']}")
        if judged:
            precision = v["true"] / judged
            print(f"precision over judged rows: {v['true']}/{judged} = {100 * precision:.1f}%")
        if args.models and judged:
            # the two ways to treat a refuted finding, measured on the same verdicts
            rows = [r for r in read_verdicts(args.verdicts) if (r.get("verdict") or "").strip().lower()
                    in TRUE_VERDICTS | FALSE_VERDICTS]
            refuted = [r for r in rows if outcomes.get((r["rule"], r["file"], int(r["line"]))) == "refuted"]
            true_refuted = sum(r["verdict"].strip().lower() in TRUE_VERDICTS for r in refuted)
            kept = len(rows) - len(refuted)
            print(f"refuted by the models: {len(refuted)} judged findings ({true_refuted} true); kept at confidence low: "
                  f"precision {v['true']}/{judged}; dropped: precision {v['true'] - true_refuted}/{kept} = "
                  f"{100 * (v['true'] - true_refuted) / max(kept, 1):.1f}%")

    # the targets of the issue, printed and not enforced
    whole = "" if args.jobs <= 2 else f" (ran with {args.jobs} processes, not 2: not comparable)"
    print(f"{'PASS' if seconds <= TARGET_SECONDS and args.jobs <= 2 else 'FAIL'}: sweep time {seconds:.1f} s for {reviewed} files, {total_lines} lines "
          f"(target <= {TARGET_SECONDS:.0f} s on 2 cores for the whole sweep set){whole}; "
          f"{cpu_seconds:.1f} CPU s / {args.jobs} = {cpu_seconds / max(args.jobs, 1):.1f} s if the cores were idle")
    if precision is None:
        print(f"UNMEASURED: judged precision (target >= {100 * TARGET_PRECISION:.0f}%): no judged rows"
              + ("" if args.verdicts else "; use --sample N --verdicts FILE and fill in the verdicts"))
    else:
        print(f"{'PASS' if precision >= TARGET_PRECISION else 'FAIL'}: judged precision {100 * precision:.1f}% "
              f"(target >= {100 * TARGET_PRECISION:.0f}%)")
    print(f"{'PASS' if per_10k <= TARGET_PER_10K else 'FAIL'}: {per_10k:.2f} findings per 10k lines "
          f"(target <= {TARGET_PER_10K})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
