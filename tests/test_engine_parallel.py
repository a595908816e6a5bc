"""engine.run(parallel=True): the models that speak alone run in a forked child beside the rules.
The review must be the same as the serial one, on the real v1 thread and on a made-up series that
also has a confirming-only model at work, and a child that fails leaves the work to the parent."""

from __future__ import annotations

import os
import pickle
import sys

import pytest

from reviewbot import engine, models, rulepack, thread
from tests.helpers import v1_series
from tests.test_lifetime_model import UAF

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                                reason="runs ahead on Linux with two cores")


def same(a, b) -> None:
    assert [(f, f.trace, f.extra, f.confidence) for f in a.findings] == \
        [(f, f.trace, f.extra, f.confidence) for f in b.findings]
    assert a.not_modelled == b.not_modelled
    assert a.rules == b.rules


@pytest.fixture(scope="module")
def checks():
    return rulepack.load_rules(), models.load_models()


def test_the_v1_thread_reviews_the_same_in_parallel(checks, monkeypatch):
    rules, loaded = checks
    series = v1_series()
    serial = engine.run(series, rules, models=loaded)
    assert any(f.rule.startswith("BPFOOM") for f in serial.findings)  # the model spoke
    here = []  # what the parent runs itself (the child's calls are in the child's memory)
    real = engine.run_models
    monkeypatch.setattr(engine, "run_models",
                        lambda patch, ms, **k: here.extend((patch.msgid, m.id) for m in ms) or real(patch, ms, **k))
    same(serial, engine.run(series, rules, models=loaded, parallel=True))
    # the child started on the first patch at once; the parent took, from the last one back, only
    # patches the child had not started when the rules were done
    first = series.patches[0].msgid
    assert (first, "bpf_oom") not in here
    taken = [series.patches.index(p) for p in series.patches if (p.msgid, "bpf_oom") in here]
    assert taken == list(range(len(series.patches) - len(taken), len(series.patches)))


def test_a_confirming_model_in_the_parent_and_one_that_speaks_alone_in_the_child(checks):
    rules, loaded = checks
    patches = (thread.file_patch("drivers/toy/life.c", UAF),) + tuple(v1_series().patches[:2])
    series = thread.single_series(patches)
    serial = engine.run(series, rules, models=loaded)
    assert any(dict(f.extra).get("confirmed_by") == "LIFE001" for f in serial.findings)
    same(serial, engine.run(series, rules, models=loaded, parallel=True))


def test_a_child_that_fails_leaves_the_work_to_the_parent(checks, monkeypatch):
    rules, loaded = checks
    series = v1_series()
    serial = engine.run(series, rules, models=loaded)

    def broken(*args, **kwargs):
        raise RuntimeError("the child cannot send")

    ran = []
    real = engine.run_models
    monkeypatch.setattr(pickle, "dumps", broken)  # only the child pickles
    monkeypatch.setattr(engine, "run_models", lambda *a, **k: ran.append(os.getpid()) or real(*a, **k))
    same(serial, engine.run(series, rules, models=loaded, parallel=True))
    assert os.getpid() in ran  # the parent ran the models itself
