#!/usr/bin/env python3
"""Replay a real list through reviewbot, with checkpatch.pl on the same patches in the same run.

    python bench/replay.py [MBOX] [--kernel DIR] [--jobs N] [--runs N] [--skip-checkpatch] [--misses N]

MBOX is a list archive as an mbox (gzipped or not); default ../shared/corpus/lists/cgroups-3000.mbox.gz.
Prints, and checks against the targets of the issue "Real lists, first run":

1. What was read: messages, threads, patch mails (subject not a reply, a diff in the body), and
   where each patch mail went: reviewed, unreadable (with git's own verdict on it), in a failed
   series, or dropped. Dropped must be 0: a replay that reviews fewer patches than it read is a bug.
2. Speed: `reviewbot batch MBOX` as one whole process (all cores), twice, against
   `checkpatch.pl --no-tree -q` over the same patch mails in one process; patches/s of each and the
   ratio (target >= 20x), peak memory of the batch (target < 300 MB).
3. Determinism: the two batch runs (JSON reports and reply drafts with a fixed --date) must be
   byte-identical.
4. Findings by rule.
5. Agreement with human review: every reply that quotes lines of the patch it answers and comments
   right under them (dedupe.quoted_comments); the last quoted code line of each such block is the
   line the human commented on. Overlap: such lines that a reviewbot finding on the same patch
   covers (its line range, or one of its related lines). Prints the overlap and the misses. This is
   reviewbot's recall against real review.
6. The v1 BPF OOM thread: `reviewbot review` vs checkpatch.pl on its 13 patches, in paired runs of
   whole processes (alternating), target >= 4x.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import review_bench  # noqa: E402  (the v1 thread, the tool environment)

DEFAULT_MBOX = ROOT.parent / "shared" / "corpus" / "lists" / "cgroups-3000.mbox.gz"
BOTS = re.compile(r"bot\b|robot|\bci@|noreply|no-reply|patchwork", re.IGNORECASE)
# What follows a quote without being a comment on it: a review trailer, a closing.
NOT_A_COMMENT = re.compile(r"^(?:[A-Z][A-Za-z-]*-by:|(?:thanks|thank you|regards|kind regards|best regards|cheers|"
                           r"br|best)\b[\s,.!]*(?:\n|$))", re.IGNORECASE)
DRAFT_DATE = "2026-01-01T00:00:00+00:00"
DRAFT_FROM = "reviewbot replay <replay@reviewbot.invalid>"

# Runs argv as a child and prints "<wall seconds> <peak maxrss KB of any descendant> <exit code>".
_MEASURE = r"""
import resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
wall = time.perf_counter() - t
open(sys.argv[1], "wb").write(p.stdout)
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)
"""


def measure(cmd: list[str], log: Path, cwd: Path | None = None) -> tuple[float, int, int]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(log), *cmd], capture_output=True, text=True,
                         cwd=cwd, check=True, env=review_bench.TOOL_ENV).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def tree_digest(*folders: Path) -> str:
    h = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# What was read
# --------------------------------------------------------------------------------------------------


def census(raws: list[bytes]) -> dict:
    """Messages, threads, and the patch mails of the archive (what batch must review)."""
    from reviewbot import batch, lore

    threads = batch.split_threads(raws)
    patch_mails: dict[str, bytes] = {}
    diffs_in_replies = 0
    for raw in raws:
        msg = lore.parse_message(raw)
        mid = lore.clean_msgid(msg)
        if mid is None or mid in patch_mails:
            continue
        if not lore.has_diff(msg):
            continue
        if lore.is_reply(msg):
            diffs_in_replies += 1
            continue
        patch_mails[mid] = raw
    return {"messages": len(raws), "threads": len(threads), "patch_mails": patch_mails,
            "diffs_in_replies": diffs_in_replies}


def git_verdict(raw: bytes, tmp: Path) -> str:
    """What git says of a patch mail: `git mailinfo` splits it, `git apply --numstat` reads the diff
    (it parses every hunk without needing the files it patches)."""
    work = tmp / "git-verdict"
    work.mkdir(exist_ok=True)
    (work / "mail").write_bytes(raw)
    with open(work / "mail", "rb") as mail:
        info = subprocess.run(["git", "mailinfo", str(work / "msg"), str(work / "patch")], stdin=mail,
                              capture_output=True, timeout=60)
    if info.returncode != 0:
        return "git mailinfo refuses the mail"
    run = subprocess.run(["git", "apply", "--numstat", str(work / "patch")], capture_output=True, text=True,
                         timeout=60)
    if run.returncode == 0:
        return "git reads the diff"
    return "git refuses the diff: " + (run.stderr.strip().splitlines() or ["?"])[0]


# --------------------------------------------------------------------------------------------------
# Agreement with human review
# --------------------------------------------------------------------------------------------------


def commented_lines(patch) -> list[dict]:
    """Every (reply, post-image line) a human commented right under, on this patch."""
    from reviewbot import dedupe

    by_text: dict[str, list[tuple[str, int]]] = {}
    for cf in patch.changed_files:
        for n, text in cf.post_image.items():
            prefix = "+" if n in cf.added_lines else " "
            key = dedupe.normalise(prefix + text)
            if key:
                by_text.setdefault(key, []).append((cf.path, n))
    out = []
    for reply in patch.replies:
        if BOTS.search(f"{reply.author_name} {reply.author_email}"):
            continue
        if reply.author_email and reply.author_email.lower() == (patch.author_email or "").lower():
            continue  # the author answering a reviewer, not a review
        for lines, comment in dedupe.quoted_comments(reply.body):
            if NOT_A_COMMENT.match(comment):
                continue  # a trailer or a closing under the last quote
            code = [dedupe.normalise(x) for x in lines if x[:1] in "+- " and dedupe.normalise(x)]
            if not code:
                continue
            last = code[-1]
            where = by_text.get(last, [])
            out.append({"reply": reply.msgid, "author": reply.author_name, "quoted": last,
                        "places": where, "removed": last.startswith("-"), "comment": comment.splitlines()[0][:100]})
    return out


def agreement(raws: list[bytes], reports: list[dict]) -> dict:
    """Human-commented lines vs reviewbot findings, over every version batch reviewed."""
    from reviewbot import batch, lore, thread
    from reviewbot.errors import ReviewbotError

    findings: dict[str, list[dict]] = {}
    for report in reports:
        for f in report["findings"]:
            findings.setdefault(f["patch"], []).append(f)
    items = []
    for raws_of_thread in batch.split_threads(raws):
        msgs = [lore.parse_message(r) for r in raws_of_thread]
        first = next((m for m in (lore.clean_msgid(x) for x in msgs) if m), None)
        try:
            versions = thread.assemble_versions(msgs, first)
        except ReviewbotError:
            continue
        for series in versions:
            for patch in series.patches:
                for item in commented_lines(patch):
                    item["patch"] = patch.subject
                    hits = [f for f in findings.get(patch.msgid, [])
                            if any(f["file"] == path and f["line"] <= n <= f["end_line"] for path, n in item["places"])]
                    item["flagged"] = [f["rule"] for f in hits]
                    items.append(item)
    return {"items": items}


# --------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mbox", nargs="?", type=Path, default=DEFAULT_MBOX)
    ap.add_argument("--kernel", type=Path, default=review_bench.DEFAULT_KERNEL)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=5, help="paired runs of the v1 measurement")
    ap.add_argument("--skip-checkpatch", action="store_true", help="leave checkpatch.pl out (quick runs)")
    ap.add_argument("--misses", type=int, default=40, help="how many missed human comments to print")
    args = ap.parse_args()
    from reviewbot import lore

    checkpatch = args.kernel / "scripts" / "checkpatch.pl"
    if not args.skip_checkpatch and not checkpatch.is_file():
        print(f"no checkpatch.pl under {args.kernel}; run ../shared/tools/kernel-corpus", file=sys.stderr)
        return 2
    data = args.mbox.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    raws = lore.split_mbox_raw(data)
    seen = census(raws)
    patch_mails = seen["patch_mails"]
    failures: list[str] = []
    print(f"# replay of {args.mbox.name}")
    print(f"read: {seen['messages']} messages, {seen['threads']} threads, {len(patch_mails)} patch mails "
          f"({seen['diffs_in_replies']} diffs inside replies are not patches)")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mbox = tmp / "list.mbox"
        mbox.write_bytes(data)
        runs = []
        for n in (1, 2):
            out, drafts = tmp / f"json{n}", tmp / f"drafts{n}"
            cmd = [sys.executable, "-m", "reviewbot", "batch", str(mbox), "--no-store", "--format", "json",
                   "--output", str(out), "--drafts", str(drafts), "--date", DRAFT_DATE, "--from", DRAFT_FROM,
                   "--jobs", str(args.jobs), "--fail-on", "never"]
            if n == 1:  # untimed warm-up: byte-compile as an installed copy would be
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                               env=review_bench.TOOL_ENV)
                for folder in (out, drafts):
                    shutil.rmtree(folder, ignore_errors=True)
            wall, kb, rc = measure(cmd, tmp / f"batch{n}.log", cwd=ROOT)
            runs.append((wall, kb, rc, tree_digest(out, drafts) if out.exists() else "none"))
        summary_line = (tmp / "batch1.log").read_text("utf-8", "replace").strip().splitlines()[-1]
        failed_lines = [ln for ln in (tmp / "batch1.log").read_text("utf-8", "replace").splitlines()
                        if ln.startswith("reviewbot: batch:")]
        reports = [json.loads(p.read_text("utf-8")) for p in sorted((tmp / "json1").glob("*.json"))]

        # where each patch mail went
        reviewed = {p["msgid"] for r in reports for p in r["patches"]}
        unreadable = {u["msgid"]: u for r in reports for u in r["unreadable"]}
        dropped = [mid for mid in patch_mails if mid not in reviewed]
        print(f"series reviewed: {len(reports)}; batch says: {summary_line}")
        print(f"patch mails: {len(patch_mails)} read, {len(reviewed & set(patch_mails)) - len(unreadable)} reviewed, "
              f"{len(unreadable)} unreadable, {len(failed_lines)} series failed, {len(dropped)} dropped")
        for line in failed_lines:
            print(f"  failed: {line}")
        for mid in dropped[:20]:
            print(f"  dropped: <{mid}>")
        git_accepts_unreadable = 0
        for mid, u in sorted(unreadable.items()):
            verdict = git_verdict(patch_mails[mid], tmp) if mid in patch_mails else "not a patch mail of the archive"
            git_accepts_unreadable += verdict == "git reads the diff"
            print(f"  unreadable: <{mid}> {u['subject'][:60]!r}: {u['reason']} | {verdict}")
        if failed_lines:
            failures.append(f"{len(failed_lines)} series failed (target 0)")
        if dropped:
            failures.append(f"{len(dropped)} patch mails dropped (target 0)")
        if git_accepts_unreadable:
            failures.append(f"{git_accepts_unreadable} unreadable patches that git reads (target 0)")

        # speed and memory
        batch_wall = min(r[0] for r in runs)
        peak_mb = max(r[1] for r in runs) / 1024
        n_reviewed = len((reviewed & set(patch_mails)) - set(unreadable))
        print(f"\nreviewbot batch -j{args.jobs}: {[round(r[0], 2) for r in runs]} s "
              f"({n_reviewed / batch_wall:.1f} patches/s at best), peak {peak_mb:.0f} MB, exit {runs[0][2]}")
        if peak_mb >= 300:
            failures.append(f"peak memory {peak_mb:.0f} MB (target < 300 MB)")
        same = runs[0][3] == runs[1][3]
        print(f"deterministic: the two runs' JSON reports and drafts are {'byte-identical' if same else 'DIFFERENT'}"
              f" ({sum(1 for _ in (tmp / 'json1').glob('*.json'))} reports, "
              f"{sum(1 for _ in (tmp / 'drafts1').rglob('*.eml')) if (tmp / 'drafts1').exists() else 0} drafts)")
        if not same:
            failures.append("the two replays differ")
        if not args.skip_checkpatch:
            folder = tmp / "patches"
            folder.mkdir()
            files = []
            for n, mid in enumerate(sorted(m for m in patch_mails if m in reviewed and m not in unreadable)):
                path = folder / f"{n:05d}.patch"
                path.write_bytes(patch_mails[mid])
                files.append(str(path))
            cp_wall, cp_kb, cp_rc = measure(["perl", str(checkpatch), "--no-tree", "-q", *files],
                                            tmp / "checkpatch.log")
            ratio = cp_wall / batch_wall
            print(f"checkpatch.pl --no-tree -q, one process: {cp_wall:.1f} s for the same {len(files)} patches "
                  f"({len(files) / cp_wall:.1f} patches/s), peak {cp_kb / 1024:.0f} MB")
            print(f"checkpatch / reviewbot = {ratio:.1f}x (target >= 20x)")
            if ratio < 20:
                failures.append(f"{ratio:.1f}x checkpatch (target >= 20x)")

        # findings by rule
        by_rule = Counter(f["rule"] for r in reports for f in r["findings"])
        print(f"\nfindings: {sum(by_rule.values())}")
        for rule, count in sorted(by_rule.items()):
            print(f"  {rule:10} {count}")

        # agreement with humans
        agree = agreement(raws, reports)["items"]
        on_added = [i for i in agree if i["places"]]
        removed = sum(1 for i in agree if i["removed"])
        flagged = [i for i in on_added if i["flagged"]]
        print(f"\nhuman comments under quoted patch lines: {len(agree)} "
              f"({len(on_added)} on lines of the post-image, {removed} on removed lines, "
              f"{len(agree) - len(on_added) - removed} on lines not found in the patch)")
        print(f"reviewbot flagged {len(flagged)} of the {len(on_added)} commented post-image lines "
              f"({100 * len(flagged) / max(len(on_added), 1):.1f}% recall against human review)")
        for i in flagged:
            print(f"  overlap: {i['patch'][:60]!r} {i['places'][0][0]}:{i['places'][0][1]} {i['flagged']} "
                  f"({i['author']}: {i['comment'][:60]!r})")
        for i in on_added[: args.misses]:
            if not i["flagged"]:
                print(f"  miss: {i['patch'][:50]!r} {i['places'][0][0]}:{i['places'][0][1]} {i['quoted'][:50]!r} "
                      f"-- {i['author']}: {i['comment'][:70]!r}")

    # the v1 thread, paired runs
    if not args.skip_checkpatch:
        ratio = paired_v1(checkpatch, args.runs)
        if ratio < 4:
            failures.append(f"v1 review {ratio:.1f}x checkpatch (target >= 4x)")
    print(f"\nmachine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}")
    print("targets: " + ("all met" if not failures else "NOT MET: " + "; ".join(failures)))
    return 0 if not failures else 1


def paired_v1(checkpatch: Path, runs: int) -> float:
    rb = [sys.executable, "-m", "reviewbot", "review", review_bench.PATCH_01, "--mbox",
          str(review_bench.THREAD / "thread.mbox"), "--format", "json", "--fail-on", "never"]
    with tempfile.TemporaryDirectory() as tmp:
        patches = review_bench.write_v1_patches(Path(tmp))
        cp = ["perl", str(checkpatch), "--no-tree", "-q", *patches]
        times: dict[str, list[float]] = {"rb": [], "cp": []}
        for cmd in (rb, cp):  # warm-up, untimed
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=review_bench.TOOL_ENV)
        for _ in range(runs):
            for name, cmd in (("rb", rb), ("cp", cp)):
                start = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                               env=review_bench.TOOL_ENV)
                times[name].append(time.perf_counter() - start)
    rb_med, cp_med = statistics.median(times["rb"]), statistics.median(times["cp"])
    ratio = cp_med / rb_med
    print(f"\nv1 thread, {runs} paired runs: reviewbot review {rb_med:.3f} s (median), checkpatch.pl on its "
          f"{len(patches)} patches {cp_med:.3f} s: {ratio:.1f}x (target >= 4x)")
    return ratio


if __name__ == "__main__":
    sys.exit(main())
