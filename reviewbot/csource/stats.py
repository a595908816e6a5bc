"""Parse robustness of a set of C files: how many lines and functions parse without errors.

A line is "in error" when any ERROR or MISSING node covers it. A function is a function_definition
node; a kernel-style function body (`{` in column 0) that the parser could not make into a
function_definition and left inside an ERROR node counts as a function with an error too, so a
parse cannot look better by losing functions. Lines the mask blanks because they sit in a dropped
`#else` branch are not parsed and are counted in `lines_dropped` (they are not in error).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from reviewbot.csource.parse import CUnit, error_nodes, parse_c

_BODY_OPEN = re.compile(rb"^\{", re.M)
_NONBLANK_LINE = re.compile(rb"^[ \t]*\S", re.M)


def c_files(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """The .c and .h files of the given files and folders (recursive), sorted per folder."""
    found: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                found.extend(Path(folder) / f for f in sorted(files) if f.endswith((".c", ".h")))
        else:
            found.append(path)
    return found


def unit_stats(unit: CUnit) -> dict[str, int]:
    functions = unit.functions()
    bodies = set()
    with_error = 0
    for fn in functions:
        body = fn.child_by_field_name("body")
        if body is not None:
            bodies.add(body.start_byte)
        if fn.has_error:
            with_error += 1
    orphans = 0
    if unit.root.has_error:
        errors = [(n.start_byte, n.end_byte) for n in error_nodes(unit.root) if n.is_error]
        for m in _BODY_OPEN.finditer(unit.masked):
            at = m.start()
            if at not in bodies and any(s <= at < e for s, e in errors):
                orphans += 1
    dropped = 0
    if not unit.raw:
        # non-blank source lines that the mask left blank and that are not comments
        masked_nonblank = {unit.line_of(m.start()) for m in _NONBLANK_LINE.finditer(unit.masked)}
        source_nonblank = {unit.line_of(m.start()) for m in _NONBLANK_LINE.finditer(unit.source)}
        comment_lines = set()
        for s, e in unit.comment_spans():
            comment_lines.update(range(unit.line_of(s), unit.line_of(max(s, e - 1)) + 1))
        directive_lines = {unit.line_of(m.start()) for m in _DIRECTIVE.finditer(unit.source)}
        dropped = len(source_nonblank - masked_nonblank - comment_lines - directive_lines)
    return {
        "lines": unit.line_count,
        "lines_in_error": len(unit.error_lines),
        "lines_dropped": dropped,
        "functions": len(functions) + orphans,
        "functions_with_error": with_error + orphans,
    }


_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(?:if|ifdef|ifndef|elif|else|endif)\b", re.M)


def ok_percentages(totals: dict) -> dict[str, float | None]:
    """% of lines outside ERROR/MISSING nodes and % of functions without error, to 3 decimals
    (None when there is no line, or no function, to count)."""
    def pct(bad: str, total: str) -> float | None:
        return round(100.0 * (1 - totals[bad] / totals[total]), 3) if totals[total] else None

    return {"lines_ok_pct": pct("lines_in_error", "lines"),
            "functions_ok_pct": pct("functions_with_error", "functions")}


def measure(paths: list[str] | tuple[str, ...], raw: bool = False) -> dict[str, float]:
    """Parse every C file under `paths` and add up unit_stats; `seconds` is parse time only
    (the mask included). Each count of errors is followed by its ok percentage."""
    totals = {"files": 0, "lines": 0, "lines_in_error": 0, "lines_dropped": 0, "functions": 0,
              "functions_with_error": 0, "bytes": 0, "seconds": 0.0}
    for path in c_files(paths):
        data = path.read_bytes()
        started = time.perf_counter()
        unit = _parse_uncached(data, str(path), raw)
        totals["seconds"] += time.perf_counter() - started
        totals["files"] += 1
        totals["bytes"] += len(data)
        for key, value in unit_stats(unit).items():
            totals[key] += value
    totals["seconds"] = round(totals["seconds"], 3)
    pct = ok_percentages(totals)
    order = ("files", "lines", "lines_in_error", "lines_ok_pct", "lines_dropped", "functions",
             "functions_with_error", "functions_ok_pct", "bytes", "seconds")
    return {key: pct[key] if key in pct else totals[key] for key in order}


def _parse_uncached(data: bytes, path: str, raw: bool) -> CUnit:
    # Timing must measure the parse, not the cache.
    from reviewbot.csource import parse

    parse._parse_bytes.cache_clear()
    return parse_c(data, path, raw=raw)
