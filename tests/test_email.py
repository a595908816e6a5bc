"""Email reply drafts: headers, body form, the golden draft for v1 01/14, hostile input, git's tools."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reviewbot import dedupe, engine, lore
from reviewbot.engine import Review
from reviewbot.errors import InputError
from reviewbot.finding import Finding
from reviewbot.render import email as remail
from reviewbot.render import json as rjson
from reviewbot.thread import Reply
from tests.helpers import PATCH_01, COVER, v1_series

GOLDEN = Path(__file__).resolve().parent / "golden"
REVIEWER = "Review Bot <bot@example.org>"
DATE = datetime(2025, 8, 19, 9, 0, tzinfo=timezone.utc)
SUREN_REPLY = "CAJuCfpF2akVnbZgPoDAXea2joJ1DWvBTHC7wGzEJcYX9xF9dSA@mail.gmail.com"

LOCKDEP_MSG = (
    "list_for_each_entry_srcu() is given the lockdep condition false, so lockdep cannot check "
    "that bpf_oom_srcu is held here. Should this be srcu_read_lock_held(&bpf_oom_srcu)?"
)
MODEL_MSG = (
    "Is it intended that a handler which frees memory but returns 0 does not stop the loop, "
    "while the next handler runs with oc->bpf_memory_freed already true?"
)
TRACE = (
    "handler A frees a page, sets oc->bpf_memory_freed = true, and returns 0",
    "the loop goes on to handler B, which frees nothing and returns 1",
    "ret && oc->bpf_memory_freed is true, so bpf_handle_oom() reports that B freed memory",
)


def patch01():
    return v1_series().patches[0]


def changed(path: str, patch=None):
    patch = patch or patch01()
    return next(cf for cf in patch.changed_files if cf.path == path)


def finding(rule, severity, line, message, *, path="mm/bpf_oom.c", end=None, trace=(), patch=None):
    patch = patch or patch01()
    cf = changed(path, patch)
    end = end or line
    return Finding(rule, severity, "high", patch.msgid, path, line, end, message,
                   quoted=engine.quote(patch, cf, line, end), trace=trace, see="Documentation/RCU/listRCU.rst")


def golden_findings() -> tuple[Finding, ...]:
    """Hand-made findings at real lines of 01/14 (to be replaced by the real rules' findings)."""
    return (
        finding("SRCU001", "warning", 32, LOCKDEP_MSG),
        finding("BPFOOM001", "error", 43, MODEL_MSG, trace=TRACE),
        finding("STYLE001", "info", 43, "ret and oc->bpf_memory_freed seem to carry the same state."),
    )


def review_of(findings, series=None) -> Review:
    series = series or v1_series()
    return Review(series=series, findings=tuple(findings), rules=tuple(sorted({f.rule for f in findings})))


def render(findings, series=None, **kw):
    kw.setdefault("reviewer", REVIEWER)
    kw.setdefault("date", DATE)
    return remail.drafts(review_of(findings, series), **kw)


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def text_body(data: bytes) -> str:
    return parse(data).get_content()


# ---------------------------------------------------------------------------------------------
# Golden


def test_golden_draft_for_v1_patch_01():
    """The draft reviewbot writes for 01/14 with the shipped rules and models, reviewed like code."""
    from reviewbot import models, rulepack

    review = dedupe.mark_replied(engine.run(v1_series(), rulepack.load_rules(), models=models.load_models()))
    drafts = [d for d in remail.drafts(review, reviewer=REVIEWER, date=DATE) if d.patch == PATCH_01]
    assert len(drafts) == 1
    path = GOLDEN / "bpf-oom-v1-01.eml"
    if os.environ.get("REVIEWBOT_REGEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(drafts[0].data)
    assert drafts[0].data == path.read_bytes(), "draft differs from tests/golden (REVIEWBOT_REGEN=1 rewrites it)"


def test_same_input_same_bytes_and_random_ids_without_a_date():
    a = render(golden_findings())[0]
    b = render(golden_findings())[0]
    assert a.data == b.data
    c = render(golden_findings(), date=None)[0]
    d = render(golden_findings(), date=None)[0]
    assert c.message_id != d.message_id
    assert render(golden_findings(), date=DATE + timedelta(seconds=1))[0].message_id != a.message_id
    assert render(golden_findings(), seed="x")[0].message_id != a.message_id


# ---------------------------------------------------------------------------------------------
# Headers


def test_threading_and_addressing_headers():
    draft = render(golden_findings())[0]
    msg = parse(draft.data)
    patch = patch01()
    assert msg["Subject"] == "Re: [PATCH v1 01/14] mm: introduce bpf struct ops for OOM handling"
    assert msg["In-Reply-To"] == f"<{PATCH_01}>"
    assert msg["References"].split() == [f"<{COVER}>", f"<{PATCH_01}>"]
    assert msg["From"] == REVIEWER
    assert [a.addr_spec for a in msg["To"].addresses] == ["roman.gushchin@linux.dev"]
    cc = [a.addr_spec for a in msg["Cc"].addresses]
    assert "linux-mm@kvack.org" in cc and "bpf@vger.kernel.org" in cc and "linux-kernel@vger.kernel.org" in cc
    assert "surenb@google.com" in cc
    assert "roman.gushchin@linux.dev" not in cc  # the author is To, not Cc
    assert len(cc) == len(set(cc)) == len(patch.to) + len(patch.cc) - 1
    assert msg["Message-ID"] == f"<{draft.message_id}>" and draft.message_id.endswith("@example.org")
    assert msg["Date"] == "Tue, 19 Aug 2025 09:00:00 +0000"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert not msg.is_multipart()
    assert draft.filename == "0001-mm-introduce-bpf-struct-ops-for-OOM-handling.eml"


def test_reviewer_is_not_copied_and_re_is_not_doubled():
    patch = patch01()
    re_patch = replace(patch, subject="Re: " + patch.subject)
    series = replace(v1_series(), patches=(re_patch,))
    msg = parse(render([finding("SRCU001", "warning", 32, LOCKDEP_MSG)], series,
                       reviewer="Suren Baghdasaryan <SurenB@google.com>", msgid_domain="example.net")[0].data)
    assert msg["Subject"] == "Re: [PATCH v1 01/14] mm: introduce bpf struct ops for OOM handling"
    assert "surenb@google.com" not in [a.addr_spec.lower() for a in msg["Cc"].addresses]
    assert msg["Message-ID"].endswith("@example.net>")


def test_one_draft_per_patch_with_findings_in_patch_order():
    series = v1_series()
    p3 = series.patches[2]
    cf = p3.changed_files[0]
    line = min(cf.added_lines)
    f3 = Finding("X001", "warning", "low", p3.msgid, cf.path, line, line, "Is this intended?",
                 quoted=engine.quote(p3, cf, line, line))
    drafts = render([f3, finding("SRCU001", "warning", 32, LOCKDEP_MSG)])
    assert [d.patch for d in drafts] == [PATCH_01, p3.msgid]
    assert drafts[1].filename.startswith("0003-")
    assert parse(drafts[1].data)["In-Reply-To"] == f"<{p3.msgid}>"


# ---------------------------------------------------------------------------------------------
# Body


def test_body_quotes_context_and_comments_under_the_lines():
    body = text_body(render([finding("SRCU001", "warning", 32, LOCKDEP_MSG)])[0].data)
    lines = body.splitlines()
    assert lines[0] == "On Mon, Aug 18, 2025 at 10:01 AM Roman Gushchin <roman.gushchin@linux.dev> wrote:"
    target = "> +\tlist_for_each_entry_srcu(bpf_oom, &bpf_oom_handlers, node, false) {"
    i = lines.index(target)  # quoted code keeps its tab: never rewrapped
    assert lines[:i] == ["On Mon, Aug 18, 2025 at 10:01 AM Roman Gushchin <roman.gushchin@linux.dev> wrote:",
                         "[...]", "> diff --git a/mm/bpf_oom.c b/mm/bpf_oom.c",
                         "[...]", "> +bool bpf_handle_oom(struct oom_control *oc)", "[...]"]
    assert lines[i + 1] == ""
    assert lines[i + 2].startswith("list_for_each_entry_srcu() is given the lockdep condition false")
    prose = lines[i + 2: lines.index("-- ")]
    assert all(len(x) <= 72 for x in prose)
    assert " ".join(" ".join(prose).split()) == LOCKDEP_MSG
    assert lines[-2] == "-- " or lines[-3] == "-- "
    sig = " ".join(lines[lines.index("-- ") + 1:])
    assert sig == "reviewbot 0.1.0 (rules: SRCU001), a deterministic reviewer; answer this mail to dispute a finding."


def test_findings_on_the_same_lines_share_one_quote():
    a = finding("A001", "warning", 32, "First point?")
    b = finding("B001", "warning", 32, "Second point?")
    body = text_body(render([b, a])[0].data)
    assert body.count("list_for_each_entry_srcu(bpf_oom") == 1
    after = body.split("node, false) {\n", 1)[1]
    assert after.startswith("\nFirst point?\n\nSecond point?\n\n")


def test_findings_in_patch_order_and_contiguous_lines_without_cut():
    a = finding("A001", "warning", 44, "About the break.")
    b = finding("B001", "warning", 43, "About the condition.")
    c = finding("C001", "warning", 1179, "About the call.", path="mm/oom_kill.c")
    body = text_body(render([c, a, b])[0].data)
    # mm/bpf_oom.c comes before mm/oom_kill.c in the patch
    assert body.index("About the condition.") < body.index("About the break.") < body.index("About the call.")
    # line 44 follows line 43 directly in the diff, but a comment stands between: still no cut needed
    seg = body.split("About the condition.\n\n", 1)[1]
    assert seg.startswith("> +\t\t\tbreak;\n")
    # a modified file: the hunk header names the function
    tail = body.split("About the break.\n\n", 1)[1]
    assert tail.splitlines()[:5] == [
        "[...]", "> diff --git a/mm/oom_kill.c b/mm/oom_kill.c", "[...]",
        "> @@ -1161,6 +1172,13 @@ bool out_of_memory(struct oom_control *oc)", "[...]"]
    assert "> +\tif (bpf_handle_oom(oc))" in tail


def test_model_finding_gives_the_counterexample_then_the_question():
    body = text_body(render([finding("BPFOOM001", "error", 43, MODEL_MSG, trace=TRACE)])[0].data)
    seg = body.split("> +\t\tif (ret && oc->bpf_memory_freed)\n\n", 1)[1]
    lines = seg.splitlines()
    assert lines[0] == "Consider the following sequence:"
    assert lines[2].startswith("  1. handler A frees a page")
    steps = "\n".join(lines[2:8])
    assert "  2. the loop goes on to handler B" in steps and "  3. ret && oc->bpf_memory_freed" in steps
    q = seg.index("Is it intended")
    assert q > seg.index("  3. ret")


def test_replied_findings_build_on_the_reply_or_are_dropped():
    review = dedupe.mark_replied(review_of(golden_findings()))
    by_rule = {f.rule: f for f in review.findings}
    assert by_rule["BPFOOM001"].replied_by == SUREN_REPLY
    assert by_rule["STYLE001"].replied_by == SUREN_REPLY
    assert by_rule["SRCU001"].replied_by is None
    draft = remail.drafts(review, reviewer=REVIEWER, date=DATE)[0]
    body = text_body(draft.data)
    assert "As Suren Baghdasaryan asked, consider the following sequence:" in body
    assert "carry the same state" not in body  # info, no trace: adds nothing to Suren's question
    assert [f.rule for f in draft.findings] == ["SRCU001", "BPFOOM001"]
    kept = text_body(remail.drafts(review, reviewer=REVIEWER, date=DATE, keep_replied=True)[0].data)
    assert "As Suren Baghdasaryan asked, ret and oc->bpf_memory_freed seem to carry the same state." in " ".join(
        kept.split())


def test_a_patch_whose_findings_were_all_raised_gets_no_draft():
    f = replace(finding("STYLE001", "warning", 43, "Same state?"), replied_by=SUREN_REPLY)
    assert remail.drafts(review_of([f]), reviewer=REVIEWER, date=DATE) == []
    assert remail.drafts(review_of([]), reviewer=REVIEWER, date=DATE) == []


def test_overlong_quoted_line_is_cut_to_stay_valid_8bit():
    f = replace(finding("X001", "warning", 32, "Long?"), quoted=("+" + "x" * 3000,))
    data = render([f])[0].data
    assert max(len(line) for line in data.split(b"\n")) < 998
    assert "> +" + "x" * 800 in text_body(data)


# ---------------------------------------------------------------------------------------------
# Hostile input


HOSTILE_SUBJECTS = [
    "[PATCH 1/1] x\r\nBcc: victim@example.com",
    "[PATCH 1/1] =?utf-8?q?x=0D=0ABcc:_victim@example.com?=",
    "=?utf-8?b?" + __import__("base64").b64encode(b"[PATCH] y\r\nBcc: victim@example.com").decode() + "?=",
    "[PATCH] =?utf-8?q?=3D=3Futf-8=3Fq=3Fz=3D0D=3D0ABcc=3A_victim=40example.com=3F=3D?=",
    "[PATCH] line\u2028Bcc: victim@example.com\x85X-Evil: 1",
]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_no_header_injection_through_the_subject(subject):
    patch = replace(patch01(), subject=subject, title=subject)
    series = replace(v1_series(), patches=(patch,))
    draft = render([finding("X001", "warning", 32, "Why?", patch=patch)], series)[0]
    msg = parse(draft.data)
    assert [k.lower() for k in msg.keys()] == [h.lower() for h in remail.HEADERS]
    assert "victim" not in " ".join(str(msg[h]) for h in ("To", "Cc"))
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
    assert msg["Subject"].startswith("Re: ")
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.eml", draft.filename)


def test_no_header_injection_through_names_addresses_and_msgids():
    patch = replace(
        patch01(),
        author_name="Evil\r\nBcc: victim@example.com",
        author_email="author@example.com",
        to=("=?utf-8?q?Ev=0D=0AX-Evil:_1?= <list@example.com>", "a@example.com, b@example.com",
            "bad\nBcc: victim@example.com <c@example.com>"),
        cc=("Name <d@example.com>\r\nBcc: victim@example.com", "\"Quoted, Comma\" <e@example.com>",
            "not-an-address", "x@example.com>\nBcc: victim@example.com"),
        references=("ok@example.com", "evil>\r\nBcc: victim@example.com", "sp ace@x"),
        msgid=PATCH_01,
    )
    series = replace(v1_series(), patches=(patch,))
    draft = render([finding("X001", "warning", 32, "Why?", patch=patch)], series)[0]
    msg = parse(draft.data)
    assert [k.lower() for k in msg.keys()] == [h.lower() for h in remail.HEADERS]
    raw_headers = draft.data.split(b"\n\n", 1)[0].decode()
    assert not re.search(r"(?mi)^(bcc|x-evil):", raw_headers)
    assert [a.addr_spec for a in msg["To"].addresses] == ["author@example.com"]
    assert "\n" not in msg["To"].addresses[0].display_name
    cc = [a.addr_spec for a in msg["Cc"].addresses]
    assert "victim@example.com" not in cc
    assert cc == ["list@example.com", "a@example.com", "b@example.com", "e@example.com"]
    assert msg["References"].split() == [f"<ok@example.com>", f"<{PATCH_01}>"]


def test_hostile_reviewer_identity_is_refused():
    for bad in ("Bot <bot@example.org>\nBcc: victim@example.com", "a@example.org, b@example.org", "nobody"):
        with pytest.raises(InputError):
            render(golden_findings(), reviewer=bad)
    with pytest.raises(InputError):
        render(golden_findings(), msgid_domain="evil>\nBcc: x")


def test_hostile_replier_name_stays_in_the_body():
    patch = patch01()
    reply = Reply(msgid="r1@example.com", subject="Re: x", author_name="Mallory\r\nBcc: victim@example.com",
                  author_email="m@example.com", date="Tue, 19 Aug 2025 00:00:00 +0000", in_reply_to=PATCH_01,
                  body="> +\t\tif (ret && oc->bpf_memory_freed)\n\nWhy?\n")
    series = replace(v1_series(), patches=(replace(patch, replies=(reply,)),))
    f = replace(finding("X001", "error", 43, "Is this intended?"), replied_by="r1@example.com")
    draft = render([f], series)[0]
    assert "As Mallory Bcc: victim@example.com asked, is this intended?" in text_body(draft.data)
    assert not re.search(rb"(?mi)^bcc:", draft.data.split(b"\n\n", 1)[0])


# ---------------------------------------------------------------------------------------------
# Files


def test_write_drafts_refuses_to_overwrite_and_writes_an_mbox(tmp_path):
    series = v1_series()
    p3 = series.patches[2]
    cf = p3.changed_files[0]
    line = min(cf.added_lines)
    f3 = Finding("X001", "warning", "low", p3.msgid, cf.path, line, line, "From here on, is this intended?",
                 quoted=engine.quote(p3, cf, line, line))
    drafts = render([f3, finding("SRCU001", "warning", 32, LOCKDEP_MSG)])
    paths = remail.write_drafts(drafts, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([d.filename for d in drafts] + ["drafts.mbox"])
    assert (tmp_path / drafts[0].filename).read_bytes() == drafts[0].data
    assert len(paths) == 3
    # the mbox holds both drafts, in order, and a body line starting "From " is escaped
    msgs = lore.split_mbox((tmp_path / "drafts.mbox").read_bytes())
    assert [m["Message-ID"] for m in msgs] == [f"<{d.message_id}>" for d in drafts]
    assert b"\n>From here on" in (tmp_path / "drafts.mbox").read_bytes()
    # never silently overwrite
    (tmp_path / drafts[1].filename).write_bytes(b"mine")
    (tmp_path / drafts[0].filename).unlink()
    with pytest.raises(InputError, match=re.escape(drafts[1].filename)):
        remail.write_drafts(drafts, tmp_path)
    assert (tmp_path / drafts[1].filename).read_bytes() == b"mine"
    assert not (tmp_path / drafts[0].filename).exists()  # nothing written when one is in the way
    remail.write_drafts(drafts, tmp_path, overwrite=True)
    assert (tmp_path / drafts[1].filename).read_bytes() == drafts[1].data
    assert remail.write_drafts([], tmp_path / "none") == []


# ---------------------------------------------------------------------------------------------
# Identity


def _git_env(tmp_path, **config):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    cfg = home / ".gitconfig"
    cfg.write_text("".join(f"[user]\n\t{k} = {v}\n" for k, v in config.items()))
    return {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(cfg), "GIT_CONFIG_NOSYSTEM": "1",
            "XDG_CONFIG_HOME": str(home / ".config")}


def test_reviewer_identity(tmp_path, monkeypatch):
    assert remail.reviewer_identity("Jane Doe <jane@example.org>") == "Jane Doe <jane@example.org>"
    with pytest.raises(InputError):
        remail.reviewer_identity("Jane <jane@example.org>\nBcc: x@example.org")
    monkeypatch.chdir(tmp_path)
    for k, v in _git_env(tmp_path, name="Git User", email="git@example.org").items():
        monkeypatch.setenv(k, v)
    assert remail.reviewer_identity(None) == "Git User <git@example.org>"
    for k, v in _git_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    assert remail.reviewer_identity(None) == "reviewbot <reviewbot@localhost>"


# ---------------------------------------------------------------------------------------------
# git's own tools


@pytest.fixture()
def draft_file(tmp_path):
    review = dedupe.mark_replied(review_of(golden_findings()))
    draft = remail.drafts(review, reviewer=REVIEWER, date=DATE)[0]
    path = tmp_path / draft.filename
    path.write_bytes(draft.data)
    return path


def test_git_mailinfo_reads_the_draft(draft_file, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is missing")
    out = subprocess.run(["git", "mailinfo", str(tmp_path / "msg"), str(tmp_path / "patch")],
                         stdin=draft_file.open("rb"), capture_output=True, check=True, timeout=30)
    info = dict(line.split(": ", 1) for line in out.stdout.decode().splitlines() if ": " in line)
    assert info["Author"] == "Review Bot"
    assert info["Email"] == "bot@example.org"
    assert info["Subject"] == "mm: introduce bpf struct ops for OOM handling"
    msg = (tmp_path / "msg").read_text()
    assert msg.startswith("On Mon, Aug 18, 2025 at 10:01 AM Roman Gushchin")
    assert "> +\tlist_for_each_entry_srcu(" in msg and "Is it intended that a handler" in msg
    assert (tmp_path / "patch").read_bytes() == b""  # quoted diff lines are not taken for a patch


def test_git_send_email_dry_run_accepts_the_draft(draft_file, tmp_path):
    probe = subprocess.run(["git", "send-email", "-h"], capture_output=True, timeout=60) if shutil.which("git") else None
    if probe is None or b"is not a git command" in probe.stderr:
        pytest.skip("git send-email is missing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "EMAIL"))}
    env.update(_git_env(tmp_path, name="Review Bot", email="bot@example.org"))
    for key, value in (("sendemail.smtpServer", "/bin/true"), ("sendemail.confirm", "never")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True, timeout=30)
    work = tmp_path / "notarepo"
    work.mkdir()
    run = subprocess.run(
        ["git", "send-email", "--dry-run", "--to", "x@example.org", "--confirm=never", "--no-validate",
         str(draft_file)],
        env=env, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
    )
    out = (run.stdout + run.stderr).decode(errors="replace")
    assert run.returncode == 0, out
    assert "Result: OK" in out
    assert "Subject: Re: [PATCH v1 01/14] mm: introduce bpf struct ops for OOM handling" in out
    assert f"In-Reply-To: <{PATCH_01}>" in out
    assert "Dry-OK" in out or "Dry-Sent" in out


def test_json_carries_replied_by():
    review = dedupe.mark_replied(review_of(golden_findings()))
    report = rjson.report(review)
    assert [f["replied_by"] for f in report["findings"]] == [None, SUREN_REPLY, SUREN_REPLY]


# ---------------------------------------------------------------------------------------------
# Header folding: as git format-patch does it


def _header_lines(data: bytes, name: str) -> list[str]:
    head = data.split(b"\n\n", 1)[0].decode("ascii").split("\n")
    start = next(i for i, line in enumerate(head) if line.lower().startswith(name.lower() + ":"))
    end = start + 1
    while end < len(head) and head[end].startswith((" ", "\t")):
        end += 1
    return head[start:end]


FOLD_CASES = [
    # just over 78 columns with "Subject: Re: ": Python's own folder puts all of it after the colon
    ("[PATCH v1 01/14] mm: introduce bpf struct ops for OOM handling!!!!!!!!", "Review Bot <bot@example.org>"),
    ("[PATCH bpf-next v12 03/17] selftests/bpf: add tests for the struct_ops OOM handler and the "
     "policy name of an unnamed handler", "A Very Long Reviewer Name That Goes On And On And On Forever <a@example.org>"),
    ("[PATCH] mm: Änderung der Speicherverwaltung für sehr lange Betreffzeilen mit Umlauten überall",
     "Jörg Rödel <joerg.roedel.with.a.long.local.part@iommu.subsystem.example.org>"),
]


@pytest.mark.parametrize("subject,reviewer", FOLD_CASES)
def test_subject_and_from_fold_as_git_format_patch(subject, reviewer, tmp_path):
    patch = replace(patch01(), subject=subject)
    series = replace(v1_series(), patches=(patch,))
    draft = render([finding("X001", "error", 43, "Is this intended?")], series, reviewer=reviewer)[0]
    for name in ("Subject", "From", "To"):
        lines = _header_lines(draft.data, name)
        assert lines[0] != f"{name}:" and lines[0].startswith(f"{name}: ") and lines[0][len(name) + 2] != " ", lines
        assert all(len(line) <= 78 for line in lines), lines
        assert all(line.startswith(" ") and not line.startswith("  ") for line in lines[1:]), lines
    subj = _header_lines(draft.data, "Subject")
    if subject.isascii():  # broken at a space, nothing encoded: unfolding gives the subject back
        assert " ".join(line.strip() for line in subj)[len("Subject: "):] == f"Re: {subject}"
        assert len(subj) == 2 and len(subj[0]) + 1 + len(subj[1].split()[0]) > 78  # filled, not cut early
    msg = parse(draft.data)
    assert str(msg["Subject"]) == f"Re: {subject}"
    assert str(msg["From"]) == str(remail.parse_identity(reviewer))
    if shutil.which("git"):  # git reads the folded headers back as they were meant
        out = subprocess.run(["git", "mailinfo", str(tmp_path / "m"), str(tmp_path / "p")], input=draft.data,
                             capture_output=True, check=True, timeout=30)
        info = dict(line.split(": ", 1) for line in out.stdout.decode().splitlines() if ": " in line)
        assert info["Subject"] == re.sub(r"^\[PATCH[^\]]*\] ", "", subject)
        assert info["Author"] == remail.parse_identity(reviewer).display_name


def test_an_unbreakable_subject_word_still_makes_valid_mail():
    patch = replace(patch01(), subject="[PATCH] " + "x" * 2000)
    draft = render([finding("X001", "error", 43, "Why?")], replace(v1_series(), patches=(patch,)))[0]
    assert all(len(line) <= 998 for line in draft.data.split(b"\n"))
    assert str(parse(draft.data)["Subject"]) == "Re: [PATCH] " + "x" * 2000


# ---------------------------------------------------------------------------------------------
# Races in two columns

RACE = (
    "A (named \"policy_a\": frees nothing, returns 0) is loaded; CPU0 handles an OOM while CPU1 unregisters A",
    "CPU0 line 31: srcu_read_lock(&bpf_oom_srcu) enters a read-side section of bpf_oom_srcu",
    "CPU0 line 32: the list walk reaches A's bpf_oom",
    "CPU1 line 105: unregisters A: bpf_oom_ops_unreg()",
    "CPU1 line 118: kfree() frees A's bpf_oom",
    "CPU1: bpf_oom_ops_unreg() returns",
    "CPU0 mm/oom_kill.c:1179: the in-kernel OOM killer is skipped",
    "CPU0 line 33: reads bpf_oom->ops: A's bpf_oom was freed at line 118 (use after free)",
)


def test_a_race_is_drawn_in_two_columns_then_the_sentence():
    f = finding("BPFOOM003", "error", 43, "Should bpf_oom_ops_unreg() wait for the readers?", trace=RACE)
    lines = remail.comment(f)
    assert lines[:2] == ["Consider the following race. A (named \"policy_a\": frees nothing, returns",
                         "0) is loaded; CPU0 handles an OOM while CPU1 unregisters A:"]
    head = lines.index("CPU0" + " " * 36 + "CPU1")
    end = lines.index("", head)
    diagram = lines[head + 1:end]
    assert all(len(line) <= 78 for line in lines)
    # One step per row, in order: a step's first line at its CPU's column (0 or 40), its
    # continuation lines two further in, inside the same column.
    indent = [len(line) - len(line.lstrip()) for line in diagram]
    assert set(indent) == {0, 2, 40, 42}
    firsts = [(col, line.strip()) for col, line in zip(indent, diagram) if col in (0, 40)]
    assert firsts == [
        (0, "line 31: srcu_read_lock(&bpf_oom_srcu)"), (0, "line 32: the list walk reaches A's"),
        (40, "line 105: unregisters A:"), (40, "line 118: kfree() frees A's bpf_oom"),
        (40, "bpf_oom_ops_unreg() returns"), (0, "mm/oom_kill.c:1179: the in-kernel OOM"),
        (0, "line 33: reads bpf_oom->ops: A's")]
    for col, line in zip(indent, diagram):  # CPU0's text never reaches into CPU1's column
        assert col >= 40 or len(line) <= 38, line
    assert lines[end + 1] == "Should bpf_oom_ops_unreg() wait for the readers?"


def test_one_cpu_keeps_the_numbered_form_and_a_too_wide_word_falls_back_to_it():
    one = ("A is loaded, then unregistered", "CPU0 line 105: unregisters A", "CPU0 line 118: kfree() leaks")
    lines = remail.comment(finding("BPFOOM005", "warning", 43, "Is a cleanup missing?", trace=one))
    assert lines[:5] == ["Consider the following sequence:", "", "  1. A is loaded, then unregistered",
                         "  2. CPU0 line 105: unregisters A", "  3. CPU0 line 118: kfree() leaks"]
    wide = RACE[:2] + ("CPU1 line 9: calls " + "x" * 40 + "()",)
    lines = remail.comment(finding("BPFOOM003", "error", 43, "Why?", trace=wide))
    assert lines[0] == "Consider the following sequence:" and not any(line.startswith("CPU0 ") for line in lines)
