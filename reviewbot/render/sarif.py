"""SARIF 2.1.0 for GitHub code scanning: one run, the rules as reportingDescriptors, one result per
finding located at its post-image lines. The same input always gives the same bytes.

GitHub reads `level`, `properties.precision` and `properties.problem.severity` from the rules,
`partialFingerprints` to follow a result from one upload to the next (ours hash the rule, the file
and the quoted text, so a finding keeps its fingerprint when lines above it move; identical
findings in one file are told apart by their order, `<hash>:<n>`, as GitHub's own line hash does),
and resolves
`uriBaseId: SRCROOT` against the checkout.
"""

from __future__ import annotations

import hashlib
import json as _json
from typing import Iterable

from reviewbot import __version__
from reviewbot.engine import Review
from reviewbot.finding import Finding
from reviewbot.rulepack import Rule

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# The project has no public home page yet; SARIF makes informationUri optional, so we leave it out
# rather than invent one. Callers that have one pass information_uri.
INFORMATION_URI: str | None = None
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "info": "recommendation"}
PRECISION = {"low": "low", "medium": "medium", "high": "high"}
FINGERPRINT_KEY = "reviewbotFindingHash/v1"


def help_uri(see: str) -> str | None:
    """An absolute URI for a rule's `see` (SARIF wants one): links stay, a kernel Documentation/
    .rst path becomes its docs.kernel.org page, any other kernel path its file in Linus' tree."""
    see = (see or "").strip()
    if see.startswith(("https://", "http://")):
        return see
    if see.startswith("Documentation/") and see.endswith(".rst"):
        return "https://docs.kernel.org/" + see[len("Documentation/"):-len(".rst")] + ".html"
    if see and " " not in see and not see.startswith("/"):
        return "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/" + see
    return None


def fingerprint(f: Finding) -> str:
    """Stable across line moves: the rule, the file and the quoted text (whitespace-normalised)."""
    quoted = "\n".join(" ".join(q.split()) for q in f.quoted) or f"{f.line}:{f.message}"
    return hashlib.sha256("\0".join((f.rule, f.file, quoted)).encode("utf-8")).hexdigest()[:32]


def _descriptor(rule: Rule) -> dict:
    full = rule.readme.strip() or rule.summary
    out = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "confidence": rule.confidence,
            "precision": PRECISION[rule.confidence],
            "problem.severity": PROBLEM_SEVERITY[rule.severity],
            "tags": [rule.pack],
        },
    }
    if help_uri(rule.see):
        out["helpUri"] = help_uri(rule.see)
    if rule.see:
        out["properties"]["see"] = rule.see
    if rule.readme.strip():
        out["help"] = {"text": rule.readme.strip(), "markdown": rule.readme.strip()}
    return out


def _bare_descriptor(rule_id: str, f: Finding) -> dict:
    """A finding whose rule the caller did not pass: describe it from the finding itself."""
    out = {
        "id": rule_id,
        "shortDescription": {"text": rule_id},
        "defaultConfiguration": {"level": LEVELS[f.severity]},
        "properties": {"confidence": f.confidence, "precision": PRECISION[f.confidence],
                       "problem.severity": PROBLEM_SEVERITY[f.severity]},
    }
    if help_uri(f.see):
        out["helpUri"] = help_uri(f.see)
    return out


def _message(f: Finding) -> str:
    text = f.message.strip()
    if f.trace:
        text += "\n\nCounterexample:\n" + "\n".join(f"{n}. {step}" for n, step in enumerate(f.trace, 1))
    return text


def _result(f: Finding, index: int, occurrence: int) -> dict:
    region = {"startLine": f.line, "endLine": f.end_line}
    snippet = "\n".join(q[1:] if q[:1] in "+- " else q for q in f.quoted)
    if snippet:
        region["snippet"] = {"text": snippet}
    props = {"patch": f.patch, "confidence": f.confidence}
    if f.replied_by:
        props["replied_by"] = f.replied_by
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": LEVELS[f.severity],
        "message": {"text": _message(f)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": f.file, "uriBaseId": "SRCROOT"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: f"{fingerprint(f)}:{occurrence}"},
        "properties": props,
    }


def log(review: Review, rules: Iterable[Rule], *, information_uri: str | None = INFORMATION_URI) -> dict:
    """The SARIF log as a dict."""
    by_id = {r.id: r for r in rules}
    descriptors = [_descriptor(by_id[i]) for i in sorted(by_id)]
    index = {d["id"]: n for n, d in enumerate(descriptors)}
    findings = sorted(review.findings, key=lambda f: (f.file, f.line, f.end_line, f.rule, f.patch, f.message))
    for f in findings:
        if f.rule not in index:
            index[f.rule] = len(descriptors)
            descriptors.append(_bare_descriptor(f.rule, f))
    seen: dict[str, int] = {}
    results = []
    for f in findings:
        fp = fingerprint(f)
        seen[fp] = seen.get(fp, 0) + 1
        results.append(_result(f, index[f.rule], seen[fp]))
    invocation: dict = {"executionSuccessful": True}
    if review.not_modelled:
        invocation["toolExecutionNotifications"] = [
            {"level": "note", "message": {"text": "not modelled: " + _json.dumps(entry, sort_keys=True, default=str)}}
            for entry in review.not_modelled
        ]
    run = {
        "tool": {
            "driver": {
                "name": "reviewbot",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": descriptors,
            }
        },
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if information_uri:
        run["tool"]["driver"]["informationUri"] = information_uri
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(review: Review, rules: Iterable[Rule], *, information_uri: str | None = INFORMATION_URI) -> str:
    return _json.dumps(log(review, rules, information_uri=information_uri), indent=2, ensure_ascii=False) + "\n"
