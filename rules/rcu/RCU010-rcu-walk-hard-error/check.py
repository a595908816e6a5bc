"""RCU010: a filesystem callback that fails hard, leaks, or sleeps in RCU-walk mode.

In RCU path walk the VFS holds no references and no locks, only rcu_read_lock(). It tells a
callback so: ->get_link() gets a NULL dentry, ->d_revalidate() (and the lookup helpers it calls)
gets LOOKUP_RCU in its flags, ->permission() gets MAY_NOT_BLOCK in its mask. A callback that cannot
do its job without blocking returns -ECHILD, and the VFS retries the step in ref-walk mode. The
judge finds those mode tests (also through a local set from one, `may_not_block = mask &
MAY_NOT_BLOCK`), follows each bounded path of the function (facts.flow) from the branch that
enters RCU mode, and reports:

(a) an error from a callee returned as is (`return ERR_CAST(bh)`, `return PTR_ERR(x)`,
    `return err` after `if (err)`) where the callee was called only in RCU mode (inside the
    RCU-mode branch) and was not handed the mode (flags, mask, the NULL dentry): its failure may
    be a consequence of not being allowed to block (a non-blocking read that found nothing
    cached), which ref-walk would not have hit. The caller gets a hard error instead of a retry;
(b) a resource taken in RCU mode (a buffer head from *getblk*()/*bread*(), a page from the page
    cache, a dentry/inode reference) still held at a `return -ECHILD` of the same path: it leaks,
    and the retry takes it again;
(c) a call that may sleep (facts.rcu.may_sleep: a mutex, a GFP_KERNEL allocation, a wait) made in
    RCU mode: sleeping under rcu_read_lock() is a bug.

Callees that are handed the mode are trusted to honour it; paths where no mode test was seen are
left alone.
"""

from __future__ import annotations

import re

from reviewbot.engine import Hit
from reviewbot.facts import rcu
from reviewbot.facts.types import balanced, split_top_level, squash

FLAGS = ("LOOKUP_RCU", "MAY_NOT_BLOCK")
ACQUIRES = re.compile(r"^(?:\w*getblk\w*|\w*bread\w*|sb_find_get_block|__find_get_block|find_get_page\w*|"
                      r"find_lock_page|pagecache_get_page|filemap_get_folio|__filemap_get_folio|"
                      r"read_mapping_page|read_mapping_folio|read_cache_page\w*|grab_cache_page\w*|"
                      r"dget|dget_parent|igrab|ihold|mntget|path_get|get_cred|lookup_one\w*|d_lookup|"
                      r"dget_dlock|lookup_positive_unlocked)$")
RELEASES = re.compile(r"^(?:brelse|__brelse|put_bh|bforget|put_page|folio_put|unlock_page|folio_unlock|"
                      r"dput|iput|mntput|path_put|put_cred|\w*_put|\w*release\w*|\w*free\w*|set_delayed_call|"
                      r"\w*brelse)$")
ERROR_RETURN = re.compile(r"^return\s*\(?\s*(?:ERR_CAST|PTR_ERR|ERR_PTR\s*\(\s*PTR_ERR)\s*\(\s*\(?(\w+)\)?\s*\)")
PLAIN_RETURN = re.compile(r"^return\s*\(?\s*(?:ERR_PTR\s*\(\s*)?(\w+)\s*\)?\s*\)?\s*;?$")


def check(ctx):
    source = ctx.unit.source
    if b"LOOKUP_RCU" not in source and b"MAY_NOT_BLOCK" not in source and b"delayed_call" not in source:
        return
    facts = ctx.facts
    idx = None
    for fn in facts.functions:
        tests = _mode_tests(facts, fn)
        if not tests:
            continue
        flow = facts.flow(fn.name)
        if flow is None:
            continue
        if idx is None:
            idx = rcu.index(ctx)
        yield from _judge(ctx, idx, fn, flow, tests)


# --- which conditions tell the mode --------------------------------------------------------------

def _unwrap(text: str) -> str:
    text = squash(text)
    while True:
        m = re.fullmatch(r"(?:unlikely|likely)?\((.*)\)", text)
        if not m or not balanced(m.group(1)):
            return text
        text = m.group(1)


class _Tests:
    """What each condition says about the mode in one function."""

    def __init__(self, dentry: str | None, variables: dict[str, str], flags: set[str]):
        self.dentry = dentry  # the get_link dentry parameter (NULL in RCU mode)
        self.variables = variables  # local -> "rcu"/"ref": what it says when true
        self.flags = flags  # the names that carry the mode (to tell mode-aware callees)

    def atom(self, text: str) -> str | None:
        """'rcu' when the atom being true means RCU mode, 'ref' when it means ref-walk mode."""
        text = _unwrap(text)
        negate = False
        if len(split_top_level(text, "||")) > 1 or len(split_top_level(text, "&&")) > 1:
            return None
        while text.startswith("!") and not text.startswith("!="):
            negate = not negate
            text = _unwrap(text[1:])
        mode = None
        m = re.fullmatch(r"(.+?)(==|!=)(0|NULL|false)", text)
        if m:
            inner = self.atom(m.group(1))
            if inner:
                mode = inner if m.group(2) == "!=" else _flip(inner)
        elif re.fullmatch(r"\(?\w+&(?:LOOKUP_RCU|MAY_NOT_BLOCK)\)?|\(?(?:LOOKUP_RCU|MAY_NOT_BLOCK)&\w+\)?", text):
            mode = "rcu"
        elif self.dentry and text == self.dentry:
            mode = "ref"
        elif text in self.variables:
            mode = self.variables[text]
        if mode and negate:
            mode = _flip(mode)
        return mode

    def after(self, text: str, taken: bool) -> str | None:
        """The mode a path is in after this branch went the `taken` way (None: not told)."""
        text = _unwrap(text)
        if taken:
            for part in split_top_level(text, "&&"):
                mode = self.atom(part)
                if mode:
                    return mode
            return None
        for part in split_top_level(text, "||"):
            mode = self.atom(part)
            if mode:
                return _flip(mode)
        return None


def _flip(mode: str) -> str:
    return "ref" if mode == "rcu" else "rcu"


def _mode_tests(facts, fn) -> _Tests | None:
    dentry = None
    if any("delayed_call" in p.type for p in fn.params):
        dentry = next((p.name for p in fn.params if p.name and re.search(r"\bstruct dentry\s*\*$", p.type.strip())),
                      None)
    conditions = [c for c in facts.conditions if c.function == fn.name]
    texts = [squash(c.text) for c in conditions]
    has_flag = any(f in t for t in texts for f in FLAGS)
    variables: dict[str, str] = {}
    flags: set[str] = set()
    probe = _Tests(dentry, {}, set())
    for a in facts.assignments:
        if a.function != fn.name or not re.fullmatch(r"\w+", a.target):
            continue
        value = squash(a.value)
        if any(f in value for f in FLAGS):
            mode = probe.atom(value)
            if mode:
                variables[a.target] = mode
    for t in texts:
        for f in FLAGS:
            m = re.search(rf"(?<![\w>.])(\w+)&{f}|{f}&(\w+)(?![\w(])", t)
            if m:
                flags.add(m.group(1) or m.group(2))
    flags.update(variables)
    if dentry:
        flags.add(dentry)
    tests = _Tests(dentry, variables, flags)
    uses_dentry = dentry is not None and any(tests.atom(p) for t in texts for p in split_top_level(t, "||") + split_top_level(t, "&&"))
    if not has_flag and not variables and not uses_dentry:
        return None
    if not any(tests.after(t, True) or tests.after(t, False) for t in texts):
        return None
    return tests


# --- the lexical RCU-mode branches ---------------------------------------------------------------

def _regions(ctx, fn_name: str, tests: _Tests) -> dict[int, tuple[int, int]]:
    """Condition line -> the lines that only run in RCU mode because of that if statement."""
    unit = ctx.unit
    node = unit.function(fn_name)
    out: dict[int, tuple[int, int]] = {}
    if node is None:
        return out
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(c for c in n.named_children if c.child_count)
        if n.type != "if_statement":
            continue
        cond = n.child_by_field_name("condition")
        if cond is None:
            continue
        text = unit.text(cond)
        then = n.child_by_field_name("consequence")
        other = n.child_by_field_name("alternative")
        if tests.after(text, True) == "rcu" and then is not None:
            out[unit.lines(cond)[0]] = unit.lines(then)
        elif tests.after(text, False) == "rcu":
            if other is not None:
                out[unit.lines(cond)[0]] = unit.lines(other)
            elif then is not None and _exits(unit, then) and n.parent is not None:
                out[unit.lines(cond)[0]] = (unit.lines(n)[1] + 1, unit.lines(n.parent)[1])
    return out


def _exits(unit, stmt) -> bool:
    last = stmt
    while last.type == "compound_statement" and last.named_children:
        last = last.named_children[-1]
    return last.type in ("return_statement", "goto_statement")


# --- the judge -----------------------------------------------------------------------------------

def _judge(ctx, idx, fn, flow, tests: _Tests):
    regions = _regions(ctx, fn.name, tests)
    types = idx.types.of(fn.name)
    assigned = _call_results(ctx.facts, fn.name)
    reported: set[tuple] = set()
    for path in flow.paths:
        mode = None
        entered = None  # the branch event that put the path in RCU mode
        region = None
        results: dict[str, object] = {}  # var -> call event (made in the RCU-mode branch)
        errors: set[str] = set()  # vars the path has tested as errors
        held: dict[str, object] = {}  # var -> acquire event (in RCU mode)
        calls_here: dict[str, object] = {}  # callee -> call event, of the statement being read
        for e in path.events:
            if e.kind == "branch":
                told = tests.after(e.name, bool(e.taken))
                if told:
                    mode = told
                    if mode == "rcu":
                        entered = e
                        region = regions.get(e.lines[0])
                if mode == "rcu":
                    _note_error(e, errors, held, types)
                continue
            if e.kind == "assign":
                target = squash(e.name)
                results.pop(target, None)
                errors.discard(target)
                held.pop(target, None)
                call = calls_here.get(assigned.get((e.lines[0], target)))
                calls_here = {}
                if mode == "rcu" and call is not None:
                    if region and region[0] <= e.lines[0] <= region[1] and not _mode_aware(call, tests):
                        results[target] = call
                    if ACQUIRES.match(call.name):
                        held[target] = call
                continue
            if e.kind == "call":
                if not calls_here or next(iter(calls_here.values())).lines[1] < e.lines[0]:
                    calls_here = {}
                calls_here[e.name] = e
                if mode != "rcu":
                    continue
                for arg in e.args:
                    a = squash(arg)
                    if a in held and RELEASES.match(e.name):
                        held.pop(a)
                sleeper = _sleeps(idx, e, tests)
                if sleeper:
                    key = ("c", e.lines[0])
                    if key not in reported:
                        reported.add(key)
                        yield _sleep_hit(fn, entered, e, sleeper)
                continue
            if e.kind == "return" and mode == "rcu":
                text = squash(e.text)
                if "ECHILD" in text:
                    for var, acquire in held.items():
                        key = ("b", e.lines[0], var)
                        if key not in reported and not re.search(rf"(?<!\w){re.escape(var)}(?!\w)",
                                                                  text.replace("ECHILD", "")):
                            reported.add(key)
                            yield _leak_hit(fn, entered, var, acquire, e)
                    continue
                var = _returned_error(text, errors)
                if var and var in results:
                    key = ("a", e.lines[0])
                    if key not in reported:
                        reported.add(key)
                        yield _error_hit(fn, entered, var, results[var], e)


def _call_results(facts, function) -> dict[tuple[int, str], str]:
    """(line, target) -> the function called in the assignment `target = call(...)` there."""
    out = {}
    for a in facts.assignments:
        if a.function != function:
            continue
        value = squash(a.value)
        while True:
            m = re.match(r"^(?:\([\w\*]+\))?(?:ERR_PTR|ERR_CAST|PTR_ERR)\((.*)\)$", value)
            if not m:
                break
            value = m.group(1)
        m = re.match(r"^(?:\([\w\*]+\))?(\w+)\(", value)
        if m:
            out[(a.lines[0], squash(a.target))] = m.group(1)
    return out


INT = re.compile(r"^(?:(?:const|unsigned|signed|long|short|int|ssize_t|vm_fault_t|blk_status_t|__s32|s32)\s*)+$")


def _note_error(e, errors: set[str], held: dict, types: dict[str, str]):
    """What a branch tells about call results: an error (`IS_ERR(bh)`, `err`, `err < 0`), or a
    NULL resource (`!bh`)."""
    text = _unwrap(e.name)
    taken = bool(e.taken)
    if len(split_top_level(text, "||")) > 1 or len(split_top_level(text, "&&")) > 1:
        return
    while text.startswith("!") and not text.startswith("!="):
        text = _unwrap(text[1:])
        taken = not taken
    m = re.fullmatch(r"(?:IS_ERR|IS_ERR_OR_NULL|IS_ERR_VALUE)\((\w+)\)", text)
    if m:
        if taken:
            errors.add(m.group(1))
            held.pop(m.group(1), None)
        return
    m = re.fullmatch(r"(\w+)(?:<0|!=0)?", text)
    if m:
        var = m.group(1)
        if not taken:
            held.pop(var, None)  # `if (bh)` not taken: bh is NULL here
        elif INT.match(types.get(var, "").strip() or "x"):
            errors.add(var)  # `if (err)` taken: an error
        return
    m = re.fullmatch(r"(\w+)==NULL", text)
    if m and taken:
        held.pop(m.group(1), None)


def _returned_error(text: str, errors: set[str]) -> str | None:
    m = ERROR_RETURN.match(text)
    if m:
        return m.group(1)
    m = PLAIN_RETURN.match(text)
    if m and m.group(1) in errors:
        return m.group(1)
    return None


def _mode_aware(call, tests: _Tests) -> bool:
    """The callee is told the mode (handed the flags, the mask, the NULL dentry, or a flag
    constant), so it can return -ECHILD itself; or it is the RCU-mode variant of a helper
    (`nfs_revalidate_mapping_rcu()`, `__d_lookup_rcu()`), written to be called there."""
    if re.search(r"(?:^|_)rcu(?:_|$)", call.name):
        return True
    for arg in call.args:
        a = squash(arg)
        if any(f in a for f in FLAGS) or any(re.search(rf"(?<![\w>.]){re.escape(v)}(?!\w)", a) for v in tests.flags):
            return True
    return False


def _sleeps(idx, e, tests: _Tests) -> str | None:
    if rcu.may_sleep(e.name, e.args):
        return e.name
    s = idx.summaries.get(e.name)
    if s is not None and s.sleeps and not _mode_aware(e, tests):
        return f"{e.name}() -> {s.sleeps}"
    return None


# --- messages ------------------------------------------------------------------------------------

def _mode_text(fn, entered) -> str:
    if entered is None:
        return f"RCU-walk mode in {fn.name}()"
    cond = f"`{entered.name}`" if entered.taken else f"`{entered.name}` false"
    return f"the RCU-walk branch of {fn.name}() ({cond} on line {entered.lines[0]})"


def _error_hit(fn, entered, var, call, ret) -> Hit:
    where = _mode_text(fn, entered)
    message = (f"in {where}, this returns the error of {call.name}() on line {call.lines[0]} as is: "
               f"{call.name}() runs only in RCU-walk mode, without being allowed to block, so its failure "
               f"may be nothing ref-walk would hit, and the lookup fails hard instead of being retried. "
               f"Should RCU mode return -ECHILD here (ERR_PTR(-ECHILD) from ->get_link) and let the VFS "
               f"retry in ref-walk mode?")
    return Hit(line=ret.lines[0], end_line=ret.lines[1], related=(call.lines[0],), message=message,
               args={"function": fn.name},
               trace=(f"{entered.lines[0]}: {entered.name} (RCU-walk mode)" if entered else "RCU-walk mode",
                      f"{call.lines[0]}: {var} = {call.name}(...)", f"{ret.lines[0]}: {ret.text[:80]}"))


def _leak_hit(fn, entered, var, acquire, ret) -> Hit:
    where = _mode_text(fn, entered)
    message = (f"in {where}, this returns -ECHILD with {var} from {acquire.name}() on line "
               f"{acquire.lines[0]} still held: the VFS retries the step in ref-walk mode, which takes it "
               f"again, and this one leaks. Release {var} before returning -ECHILD.")
    return Hit(line=ret.lines[0], end_line=ret.lines[1], related=(acquire.lines[0],), message=message,
               args={"function": fn.name},
               trace=(f"{entered.lines[0]}: {entered.name} (RCU-walk mode)" if entered else "RCU-walk mode",
                      f"{acquire.lines[0]}: {var} = {acquire.name}(...)", f"{ret.lines[0]}: {ret.text[:80]}"))


def _sleep_hit(fn, entered, call, sleeper) -> Hit:
    where = _mode_text(fn, entered)
    message = (f"in {where}, {call.name}() may sleep ({sleeper}): RCU walk runs under rcu_read_lock(), "
               f"where sleeping is a bug. Should this path return -ECHILD (ERR_PTR(-ECHILD) from "
               f"->get_link) before blocking, so that the VFS retries in ref-walk mode?")
    return Hit(line=call.lines[0], end_line=call.lines[1], related=(entered.lines[0],) if entered else (),
               message=message, args={"function": fn.name},
               trace=(f"{entered.lines[0]}: {entered.name} (RCU-walk mode)" if entered else "RCU-walk mode",
                      f"{call.lines[0]}: {call.text[:80]}"))
