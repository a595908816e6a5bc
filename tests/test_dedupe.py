"""Dedupe against the thread: a finding a human reply quoted and commented on gets replied_by."""

from __future__ import annotations

from dataclasses import replace

from reviewbot import dedupe, engine
from reviewbot.engine import Review
from reviewbot.finding import Finding
from reviewbot.thread import Reply
from tests.helpers import PATCH_01, v1_series

SUREN_REPLY = "CAJuCfpF2akVnbZgPoDAXea2joJ1DWvBTHC7wGzEJcYX9xF9dSA@mail.gmail.com"


def patch01():
    return v1_series().patches[0]


def at(line, end=None, path="mm/bpf_oom.c", patch=None, **kw):
    patch = patch or patch01()
    cf = next(c for c in patch.changed_files if c.path == path)
    end = end or line
    return Finding(kw.pop("rule", "X001"), kw.pop("severity", "warning"), "high", patch.msgid, path, line, end,
                   "msg", quoted=engine.quote(patch, cf, line, end), **kw)


def review(findings, series=None):
    return Review(series=series or v1_series(), findings=tuple(findings))


def reply(msgid, body, date="Tue, 19 Aug 2025 10:00:00 +0000", name="Some One"):
    return Reply(msgid=msgid, subject="Re: x", author_name=name, author_email="x@example.com", date=date,
                 in_reply_to=PATCH_01, body=body)


def with_replies(*replies):
    series = v1_series()
    return replace(series, patches=(replace(series.patches[0], replies=tuple(replies)),) + series.patches[1:])


def test_suren_raised_the_bpf_memory_freed_condition():
    f = at(43)
    assert f.quoted == ("+\t\tif (ret && oc->bpf_memory_freed)",)
    marked = dedupe.mark_replied(review([f]))
    assert marked.findings[0].replied_by == SUREN_REPLY
    assert replace(marked.findings[0], replied_by=None) == f  # nothing else changes


def test_lines_quoted_only_as_context_are_not_raised():
    # Suren quoted the whole patch; lines 32 and 41 are in his quote, but his comment is under 43.
    marked = dedupe.mark_replied(review([at(32), at(41), at(44), at(41, 43)]))
    assert [f.replied_by for f in marked.findings] == [None, None, None, SUREN_REPLY]


def test_comment_must_follow_the_quote():
    body = "On Mon, X wrote:\n> +\t\tif (ret && oc->bpf_memory_freed)\n> +\t\t\tbreak;\n"
    series = with_replies(reply("a@x", body))
    assert dedupe.mark_replied(review([at(43)], series)).findings[0].replied_by is None
    # the same quote with a comment right under it counts; whitespace is compared loosely
    body2 = "On Mon, X wrote:\n>\n> +   if (ret &&   oc->bpf_memory_freed)\n>\n\n\nWhy both?\n"
    series = with_replies(reply("b@x", body2))
    assert dedupe.mark_replied(review([at(43)], series)).findings[0].replied_by == "b@x"


def test_quotes_of_quotes_do_not_count():
    # Roman answering Suren quotes Suren's quote at depth 2: Roman did not raise the point.
    body = "> > +\t\tif (ret && oc->bpf_memory_freed)\n>\n> IIUC ...\n\nThey differ when ...\n"
    series = with_replies(reply("roman@x", body))
    assert dedupe.mark_replied(review([at(43)], series)).findings[0].replied_by is None


def test_the_earliest_reply_wins_and_existing_marks_stay():
    body = "> +\t\tif (ret && oc->bpf_memory_freed)\n\nHmm?\n"
    late = reply("late@x", body, date="Wed, 20 Aug 2025 10:00:00 +0000")
    early = reply("early@x", body, date="Tue, 19 Aug 2025 01:00:00 +0000")
    series = with_replies(late, early)
    marked = dedupe.mark_replied(review([at(43), replace(at(43), replied_by="kept@x")], series))
    assert [f.replied_by for f in marked.findings] == ["early@x", "kept@x"]


def test_a_changed_line_does_not_match():
    body = "> +\t\tif (ret || oc->bpf_memory_freed)\n\nWhy?\n"
    series = with_replies(reply("a@x", body))
    assert dedupe.mark_replied(review([at(43)], series)).findings[0].replied_by is None


def test_findings_without_quoted_lines_or_of_unknown_patches_are_left_alone():
    f = replace(at(43), quoted=())
    g = replace(at(43), patch="unknown@x")
    marked = dedupe.mark_replied(review([f, g]))
    assert [x.replied_by for x in marked.findings] == [None, None]


def test_commented_quotes_parses_blocks():
    body = "\n".join([
        "On Mon, Aug 18, 2025 at 10:01 AM Someone wrote:",
        "> +a",
        ">",
        "> +\tb",
        "",
        "comment one",
        "> > +c",
        "> +d",
        "",
        "> +e",
        "comment two",
        "> +f",
        "",
        "-- ",
        "sig",
    ])
    assert dedupe.commented_quotes(body) == (("+a", "+b"), ("+d", "+e"))


def test_the_same_check_at_another_line_was_raised():
    # Suren commented under `if (ret && oc->bpf_memory_freed)` (line 43); a finding about
    # `return ret && oc->bpf_memory_freed;` (line 48) makes the same point.
    f = at(48)
    assert f.quoted == ("+\treturn ret && oc->bpf_memory_freed;",)
    assert dedupe.mark_replied(review([f])).findings[0].replied_by == SUREN_REPLY
    # another expression on the same line is another point
    body = "On Mon, X wrote:\n> +\t\tif (ret || oc->bpf_memory_freed)\n\nWhy or?\n"
    series = with_replies(reply("a@x", body))
    assert dedupe.mark_replied(review([f], series)).findings[0].replied_by is None


def test_a_comment_under_a_related_line_raises_the_finding():
    # a finding at the unlock (line 46) whose related line is the lock it pairs with (line 31)
    body = "On Mon, X wrote:\n> +\tlist_idx = srcu_read_lock(&bpf_oom_srcu);\n\nWhere is this released?\n"
    series = with_replies(reply("a@x", body))
    f = replace(at(46), related=(31,))
    assert dedupe.mark_replied(review([f], series)).findings[0].replied_by == "a@x"
    assert dedupe.mark_replied(review([at(46)], series)).findings[0].replied_by is None


def test_short_or_bare_expressions_never_link():
    assert dedupe.expression("+\treturn 0;") is None
    assert dedupe.expression("+\tif (ret)") is None
    assert dedupe.expression("+\t} else if ((ops->x && count > 1))  {") == "ops->x&&count>1"
    assert dedupe.expression("+\t} else if ((a->b && c))  {") is None  # too short to be specific
    assert dedupe.expression("+\treturn ret && oc->bpf_memory_freed;") == dedupe.expression(
        "+  if (ret &&   oc->bpf_memory_freed)") == "ret&&oc->bpf_memory_freed"
