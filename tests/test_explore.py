"""The shared exploration engine (reviewbot.explore), on a toy world of our own: an object published
through a global pointer, a reader on CPU0 and a writer on CPU1 that retires it, with the writer
started at every step of the reader."""

from __future__ import annotations

import pytest

from reviewbot.csource import parse_c
from reviewbot.explore import (Candidate, EventRule, Explorer, World, and_list, at, at_free, function_at,
                               line_ref, run_alone, steps_alone, trace)
from reviewbot.interp import Func, Program
from reviewbot.models import Divergence

TOY = r"""
struct obj {
	int val;
};

static struct obj *gp;

int reader(void)
{
	struct obj *p;
	int v = 0;

	rcu_read_lock();
	p = rcu_dereference(gp);
	if (p)
		v = p->val;
	rcu_read_unlock();
	return v;
}

void publish(void)
{
	struct obj *p = kzalloc(sizeof(*p), GFP_KERNEL);

	p->val = 1;
	rcu_assign_pointer(gp, p);
}

void retire(void)
{
	struct obj *p = gp;

	rcu_assign_pointer(gp, NULL);
	synchronize_rcu();
	kfree(p);
}
"""
NO_WAIT = TOY.replace("\tsynchronize_rcu();\n", "")
KFREE_LINE = TOY.splitlines().index("\tkfree(p);") + 1
KFREE_LINE_NO_WAIT = NO_WAIT.splitlines().index("\tkfree(p);") + 1
READ_LINE = TOY.splitlines().index("\t\tv = p->val;") + 1


class ToyWorld(World):
    """One object published; `readers` of them read it."""

    def __init__(self, program: Program, kind: str = "sequential"):
        super().__init__(program, kind)
        self.readers = 1

    @property
    def size(self) -> int:
        return self.readers

    def describe(self) -> str:
        return "an object is published; CPU0 reads it" + (" while CPU1 retires it" if self.kind == "race" else "")


def build_uaf(cand: Candidate, ex: Explorer) -> Divergence:
    ev = cand.data["event"]
    return Divergence("TOY001", cand.file, cand.line, f"freed while {ev.thread} reads it",
                      trace(cand, until=ev.log_at, last=f"{at(cand, ev.thread, ev.file, ev.line)}: use after free"),
                      related=cand.related)


EVENTS = {"uaf": EventRule("TOY001", build_uaf, at_free)}


def explore(src: str) -> tuple[Explorer, list[Divergence]]:
    program = Program.from_units([parse_c(src, "toy.c")])
    ex = Explorer()

    def published() -> ToyWorld:
        w = ToyWorld(program)
        w.call("publish", [], "setup")
        return w

    def make(k: int) -> ToyWorld:
        w = ex.setup("published", published)
        w.kind = "race"
        w.trace_from = len(w.m.logs)
        return w

    def reader(w: World):
        return w.m.thread("CPU0", "reader", [])

    def writer(w: World):  # a scenario's own sequence of calls, as a generator
        return w.start("CPU1", lambda th: w.m.call_value(th, Func("retire"), [], None, None, False))

    steps = steps_alone(lambda: ex.setup("published", published), reader)
    for w in ex.interleave(make, reader, writer, steps):
        ex.check_events(w, EVENTS)
    return ex, ex.divergences()


def test_a_writer_that_does_not_wait_is_caught_with_the_smallest_interleaving():
    ex, found = explore(NO_WAIT)
    (div,) = found
    assert (div.rule, div.file, div.line) == ("TOY001", "toy.c", KFREE_LINE_NO_WAIT)
    assert div.related == (READ_LINE,)
    assert div.trace[0] == "an object is published; CPU0 reads it while CPU1 retires it"
    assert div.trace[-1] == f"CPU0 line {READ_LINE}: use after free"
    # the smallest world: CPU1 starts right after CPU0 read the pointer and before it used it
    best = ex.best[("TOY001", "toy.c", KFREE_LINE_NO_WAIT)]
    assert best.world.kind == "race"
    assert div.trace[1:] == ("CPU0 line 13: rcu_read_lock()",
                             "CPU0 line 15: is about to run line 15 (if (p)) when CPU1 starts",
                             f"CPU1 line {KFREE_LINE_NO_WAIT}: kfree() frees the object allocated at line 23",
                             f"CPU0 line {READ_LINE}: use after free")
    assert ex.worlds >= 3


def test_a_writer_that_waits_for_readers_is_silent():
    ex, found = explore(TOY)
    assert found == [] and ex.best == {}
    assert ex.worlds >= 3  # it did try the interleavings


def test_steps_alone_counts_the_reader_steps():
    program = Program.from_units([parse_c(TOY, "toy.c")])
    steps = steps_alone(lambda: ToyWorld(program), lambda w: w.m.thread("CPU0", "reader", []))
    assert steps == 6  # int v = 0; rcu_read_lock(); p = ...; if (p); v = p->val; rcu_read_unlock(); return


def test_interleave_stops_when_the_first_thread_ends():
    program = Program.from_units([parse_c(TOY, "toy.c")])
    ex = Explorer()
    made = []

    def make(k):
        made.append(k)
        w = ToyWorld(program, "race")
        w.call("publish", [], "setup")
        return w

    worlds = list(ex.interleave(make, lambda w: w.m.thread("CPU0", "reader", []),
                                lambda w: w.m.thread("CPU1", "retire", []), 50))
    # the reader has fewer than 50 steps: the first k it does not reach ends the exploration
    assert len(worlds) < 50 and made[-1] == len(worlds) and ex.worlds == len(made)


def test_offer_keeps_the_cheapest_and_the_first_of_equals():
    program = Program.from_units([parse_c(TOY, "toy.c")])
    ex = Explorer()
    small, big = ToyWorld(program), ToyWorld(program, "race")
    big.readers = 2

    def build(cand, ex):
        return Divergence(cand.rule, cand.file, cand.line, cand.data["name"], trace(cand))

    ex.offer(Candidate("T", "toy.c", 3, ex.cost(big), big, build, {"name": "big"}))
    ex.offer(Candidate("T", "toy.c", 3, ex.cost(small), small, build, {"name": "small"}))
    ex.offer(Candidate("T", "toy.c", 3, ex.cost(small), small, build, {"name": "later"}), extra_line=9)
    ex.offer(Candidate("S", "toy.c", 1, ex.cost(small), small, build, {"name": "s"}))
    assert ex.cost(big) > ex.cost(small)  # more readers, and an interleaving, cost more
    divs = ex.divergences()
    assert [(d.rule, d.message) for d in divs] == [("S", "s"), ("T", "small")]  # by file, line, rule
    assert ex.seen_lines == {("T", "toy.c", 3): {9}}
    assert divs[1].trace == ("an object is published; CPU0 reads it",)


def test_trace_helpers():
    program = Program.from_units([parse_c(TOY, "toy.c")])
    w = ToyWorld(program)
    w.call("publish", [], "setup")
    cand = Candidate("T", "toy.c", 1, (), w, lambda c, e: None)
    assert line_ref(cand, "toy.c", 7) == "line 7" and line_ref(cand, "mm/other.c", 7) == "mm/other.c:7"
    assert at(cand, "CPU0", "toy.c", 7) == "CPU0 line 7" and at(cand, "CPU1", "", 0) == "CPU1"
    assert and_list(["A"]) == "A" and and_list(["A", "B", "C"]) == "A, B and C"
    assert function_at(program, "toy.c", KFREE_LINE) == "retire()"
    assert function_at(program, "toy.c", 1) == "the code"
    w.header = ["a header of its own"]
    assert trace(cand, last="end") == ("a header of its own", "end")


def test_fork_is_independent():
    program = Program.from_units([parse_c(TOY, "toy.c")])
    w = ToyWorld(program)
    w.call("publish", [], "setup")
    w.readers = 3
    other = w.fork()
    run_alone(other.m, other.m.thread("CPU1", "retire", []))
    assert other.readers == 3 and other.m is not w.m
    assert [e.kind for e in other.m.events] == ["sync"] and len(other.m.logs) > len(w.m.logs)
    assert w.m.events == []
    # the original still has its object: a reader there reads 1
    th = run_alone(w.m, w.m.thread("CPU0", "reader", []))
    assert th.result == 1


@pytest.mark.parametrize("src,expect", [(NO_WAIT, 1), (TOY, 0)])
def test_same_answer_twice(src, expect):
    assert len(explore(src)[1]) == expect and len(explore(src)[1]) == expect
