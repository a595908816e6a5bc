"""The README's commands run as written: the demo, batch, versions and watch on the bundled data, the
test command and the CI install. Commands are read from the README itself, so a changed example
that no longer works fails here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from reviewbot import cli
from tests import list_inbox as L
from tests import pi_server

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end >= 0 else None]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def commands(text: str, program: str) -> list[list[str]]:
    """Every line of the text's sh blocks that runs `program`, split as the shell would."""
    return [shlex.split(line) for block in blocks(text, "sh") for line in block.splitlines()
            if line.split(" ", 1)[0].endswith(program)]


def only(cmds: list[list[str]], sub: str) -> list[str]:
    (cmd,) = [c for c in cmds if len(c) > 1 and c[1] == sub]
    return cmd


@pytest.fixture()
def at_root(monkeypatch, tmp_path):
    """In the checkout's root, as the README says, with a store of the test's own."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def run(argv, capsys):
    rc = cli.main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_the_demo_exits_1_for_findings_at_error_level_and_says_so(at_root, capsys):
    demo = section("The two commands")
    line = next(b for b in blocks(demo, "sh") if "reviewbot review" in b)
    argv = shlex.split(line.split("&&")[-1])
    assert argv[0].endswith("reviewbot") and argv[1] == "review"
    rc, out, _ = run(argv[1:], capsys)
    assert rc == 1 and out.rstrip().endswith("11 findings: 3 error, 5 warning, 3 info")
    assert "exits 1: findings at error\nlevel** (three here), not a crash" in demo
    assert "eleven findings" in demo


def test_batch_example_on_the_bundled_thread(at_root, capsys):
    argv = only(commands(section("Mailboxes, lists and versions"), "reviewbot"), "batch")
    assert not Path(argv[2]).is_absolute() and (ROOT / argv[2]).is_file()
    rc, out, err = run(argv[1:], capsys)
    assert rc == 1, err  # the README: "the example exits 1"
    row = next(line for line in out.splitlines() if line.startswith("mm: BPF OOM"))
    assert row.split()[3:7] == ["v1", "13/14", "1444", "3/5/3"] and "missing 12" in row
    assert "1 series: 1 reviewed" in out


def test_versions_example_on_the_bundled_made_up_v2(at_root, capsys):
    text = section("Mailboxes, lists and versions")
    argv = only(commands(text, "reviewbot"), "versions")
    assert "--offline" in argv and "--mbox" not in argv  # found in the archives reviewbot ships
    rc, out, err = run(argv[1:], capsys)
    assert rc == 0, err
    first = out.splitlines()[0]
    assert first.startswith("v1 -> v2: 1 addressed, 8 still present")
    assert "`v1 -> v2: 1 addressed, 8 still\npresent, ...`" in text
    assert "[addressed] BPFOOM007" in out  # the lockdep condition the made-up v2 fixes


def test_watch_example_against_a_local_public_inbox(at_root, capsys, tmp_path):
    missing = pi_server.missing_binaries()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"public-inbox is missing ({', '.join(missing)}); .ci/run installs it")
        pytest.skip(f"public-inbox not installed (missing: {', '.join(missing)})")
    text = section("Mailboxes, lists and versions")
    (serve,) = [c for c in commands(text, "python3") if c[1:3] == ["-m", "tests.pi_server"]]
    watch = only(commands(text, "reviewbot"), "watch")
    port = pi_server.free_port()  # the README's 8080 may be taken here
    assert serve[-3:] == ["--port", "8080", "&"]  # in the background, as the README runs it
    serve = [sys.executable] + serve[1:-2] + [str(port)]
    watch = [w.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for w in watch]
    proc = subprocess.Popen(serve, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("serving 80 messages at http://127.0.0.1:"), first
        rc, out, err = run(watch[1:], capsys)
        said = "reviewed: v1 'mm: BPF OOM' (13/14 patches): 3 error, 5 warning, 3 info"
        assert rc == 0 and out.strip() == said, (out, err)
        assert f"`{said}`" in text
        rc, out, err = run(watch[1:], capsys)  # "Run it again and it says nothing"
        assert (rc, out) == (0, "")
    finally:
        proc.terminate()  # the server stops its public-inbox-httpd on SIGTERM
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_bundled_made_up_v2_is_what_the_tests_make_and_is_labelled():
    assert L.BUNDLED_V2.read_bytes() == L.bundled_v2_mbox(), "python -m tests.list_inbox writes it again"
    data = L.BUNDLED_V2.read_bytes()
    assert data.count(b"\nX-Reviewbot-Note: made up") == 2 and b"\nReceived:" not in data
    assert "Nobody sent these messages" in (L.BUNDLED_V2.parent / "README.md").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert shipped["fixtures/bpf-oom-v2-made-up/thread.mbox"] == "reviewbot/_data/archive/bpf-oom-v2-made-up.mbox"


def test_the_test_command_is_what_ci_runs_and_ci_leaves_dot_venv_alone():
    demo = section("The two commands")
    assert ".venv/bin/python -m pytest -q" in demo
    assert '"$VPY" -m pytest -q' in CI_RUN and 'VENV=$ROOT/.ci/venv' in CI_RUN
    # .ci/run works in .ci/venv and .ci/dist only: no path of it is a user's .venv.
    code = "\n".join(line for line in CI_RUN.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r'(^|[\s"/=$])\.venv\b', code.replace(".ci/venv", "")), "a .venv path in .ci/run"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {".venv/", "/.ci/venv/", "/.ci/dist/"} <= set(ignored)
    assert "libmailtools-perl" in CI_RUN and "libmailtools-perl" in demo


def test_the_github_job_installs_the_wheel_the_readme_says_how_to_build():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    wheel = f"reviewbot-{version}-py3-none-any.whl"
    (job,) = [b for b in blocks(README, "yaml") if "reviewbot ci" in b]
    installs = [line.strip()[len("- run: "):] for line in job.splitlines() if "pip install" in line]
    assert installs == [f"pip install .github/reviewbot/{wheel}"]
    build = "python3 -m pip wheel --no-deps -w dist ."
    assert f"`{build}` writes\n`dist/{wheel}`" in README
    # .ci/run builds with the same command (into its own folder) and installs that wheel.
    assert '-m pip wheel -q --no-deps -w .ci/dist .' in CI_RUN and '"${WHEELS[0]}[test]"' in CI_RUN
    assert "pip install reviewbot\n" not in README
