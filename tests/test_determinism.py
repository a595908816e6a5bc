"""Determinism and atomicity: the same input gives the same bytes (JSON, SARIF, drafts with --date),
across runs and processes with different hash seeds; an output file is either absent, the old one,
or complete, even when the process is killed (SIGKILL) in the middle of writing it, and a killed
run's temporary file is removed by the next run.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reviewbot import cli, outfile

ROOT = Path(__file__).resolve().parent.parent
THREAD = ROOT / "fixtures" / "bpf-oom-v1" / "thread.mbox"
PATCH_01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
DATE = "2025-08-19T10:00:00+00:00"


def main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def outputs(folder: Path) -> dict[str, bytes]:
    review = ["review", PATCH_01, "--mbox", str(THREAD)]
    res = {}
    for fmt in ("json", "sarif"):
        target = folder / f"out.{fmt}"
        assert main([*review, "--format", fmt, "--output", str(target)])[0] == 1
        res[fmt] = target.read_bytes()
    drafts = folder / "drafts"
    assert main([*review, "--format", "email", "--output", str(drafts), "--date", DATE,
                 "--from", "Reviewer <r@example.com>"])[0] == 1
    for f in sorted(drafts.iterdir()):
        res[f"drafts/{f.name}"] = f.read_bytes()
    return res


def test_same_input_same_bytes_in_process(tmp_path: Path) -> None:
    a, b = outputs(tmp_path / "a"), outputs(tmp_path / "b")
    assert a == b
    assert any(k.startswith("drafts/") and k.endswith(".eml") for k in a) and "drafts/drafts.mbox" in a


def test_same_bytes_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    got = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-m", "reviewbot", "review", PATCH_01, "--mbox", str(THREAD),
                               "--format", "sarif"], capture_output=True, env=env, timeout=120)
        assert proc.returncode == 1, proc.stderr
        got.append(proc.stdout)
    assert got[0] == got[1]
    assert got[0] == outputs(tmp_path)["sarif"]


# --------------------------------------------------------------------------------------------------
# Killed mid-write
# --------------------------------------------------------------------------------------------------

# The child writes its report through outfile.write_atomic; the hook stops it after the bytes are
# written to the temporary file and before the rename (at the fsync), tells the parent, and waits to
# be killed.
_CHILD = """
import os, sys, time
import reviewbot.outfile as outfile
real_fsync = os.fsync
def stalled_fsync(fd):
    real_fsync(fd)
    sys.stdout.write("WRITING\\n"); sys.stdout.flush()
    time.sleep(60)
outfile.os.fsync = stalled_fsync
from reviewbot import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def _kill_mid_write(target: Path, fmt: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, "review", PATCH_01, "--mbox", str(THREAD),
                             "--format", fmt, "--output", str(target)], stdout=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline()
        assert line == b"WRITING\n"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("fmt", ["sarif", "json"])
def test_killed_mid_write_leaves_no_half_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    complete = outputs(tmp_path / "ref")[fmt]
    _kill_mid_write(target, fmt)
    assert not target.exists()  # absent: never a truncated file
    stale = [p.name for p in tmp_path.iterdir() if p.name.startswith(".reviewbot-")]
    assert len(stale) == 1  # the killed run's temporary, named by its pid

    # An older complete report survives a killed rewrite.
    target.write_bytes(complete)
    _kill_mid_write(target, fmt)
    assert target.read_bytes() == complete

    # The next run writes the report whole and removes the killed runs' temporaries.
    assert main(["review", PATCH_01, "--mbox", str(THREAD), "--format", fmt, "--output", str(target)])[0] == 1
    assert target.read_bytes() == complete
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".reviewbot-")] == []


def test_clean_stale_temporaries_keeps_live_processes_files(tmp_path: Path) -> None:
    live = tmp_path / f".reviewbot-{os.getppid()}-abc.tmp"
    mine = tmp_path / f".reviewbot-{os.getpid()}-abc.tmp"
    dead_pid = 2**22 + 12345  # above the default pid_max
    dead = tmp_path / f".reviewbot-{dead_pid}-abc.tmp"
    other = tmp_path / "keep.tmp"
    for p in (live, mine, dead, other):
        p.write_bytes(b"x")
    outfile.clean_stale_temporaries(str(tmp_path))
    assert live.exists() and mine.exists() and other.exists() and not dead.exists()


def test_drafts_are_written_atomically_too(tmp_path: Path) -> None:
    # write_drafts goes through write_atomic: no temporaries remain after a normal run.
    drafts = tmp_path / "d"
    code, _, err = main(["review", PATCH_01, "--mbox", str(THREAD), "--format", "email", "--output", str(drafts),
                         "--date", DATE, "--from", "R <r@example.com>"])
    assert code == 1 and len(err.splitlines()) == 1
    assert not [p for p in drafts.iterdir() if p.name.startswith(".reviewbot-")]
    time.sleep(0)
