"""The command line: parse arguments, call the stages, map every failure to one line and an exit code.

Exit codes: 0 reviewed, nothing at or above --fail-on; 1 findings at or above it; 2 bad input or
usage; 3 the archive could not be reached or answered wrongly; 4 a bug in reviewbot (one line too;
REVIEWBOT_DEBUG=1 shows the traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from reviewbot import __version__
from reviewbot.errors import EXIT_FINDINGS, EXIT_OK, InputError, ReviewbotError

EXIT_BUG = 4
FORMATS = ("text", "json")
RUN_FORMATS = ("text", "json", "sarif", "github", "email")
FAIL_ON = ("error", "warning", "info", "never")

# Subcommands that live in their own module: each has add_parser(subparsers), which registers the
# subcommand with set_defaults(func=...). Importing them is cheap; their work is imported lazily.
SUBCOMMAND_MODULES: tuple[str, ...] = ("reviewbot.b4check", "reviewbot.parsetool", "reviewbot.batch", "reviewbot.watch", "reviewbot.versions")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 like every other bad input."""

    def error(self, message: str):  # type: ignore[override]
        raise InputError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reviewbot", description="Review Linux kernel patches posted to mailing lists.")
    parser.add_argument("--version", action="version", version=f"reviewbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    review = sub.add_parser("review", help="fetch a thread by Message-ID and review its latest series")
    review.add_argument("msgid", help="Message-ID of any message in the thread (<id>, id:..., lore URL)")
    src = review.add_argument_group("where the thread comes from")
    src.add_argument("--mbox", metavar="PATH", help="a local mbox or maildir instead of the archives")
    src.add_argument("--lore", metavar="URL", help="a public-inbox base URL, e.g. https://lore.kernel.org/all/")
    src.add_argument("--offline", action="store_true", help="never touch the network")
    src.add_argument("--no-cache", action="store_true", help="do not read fetched threads from the cache")
    _add_run_options(review)
    review.set_defaults(func=cmd_review)

    ci = sub.add_parser("ci", help="review patch files or a git range, without a thread")
    ci.add_argument("paths", nargs="*", metavar="PATH", help=".patch/.eml/.mbox files or folders of them")
    ci.add_argument("--git", metavar="RANGE", help="review `git format-patch RANGE` of the repository here")
    ci.add_argument("--repo", metavar="DIR", default=".", help="the git repository for --git (default: .)")
    _add_run_options(ci)
    ci.set_defaults(func=cmd_ci)

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument("--format", choices=FORMATS, default="text")
    rules.add_argument("--rules-dir", metavar="DIR", help="load rules from this folder instead")
    rules.set_defaults(func=cmd_rules)

    explain = sub.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("rule", help="rule id or name")
    explain.add_argument("--rules-dir", metavar="DIR", help="load rules from this folder instead")
    explain.set_defaults(func=cmd_explain)

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def _add_run_options(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=RUN_FORMATS, default="text",
                     help="text (default), json, sarif (2.1.0), github (workflow annotations), "
                          "email (reply drafts, one .eml per patch with findings, into --output DIR)")
    out.add_argument("--output", metavar="PATH",
                     help="write the report to this file (atomically) instead of stdout; for email, the folder")
    out.add_argument("--fail-on", choices=FAIL_ON, default="error",
                     help="exit 1 when a finding is at or above this severity (default: error)")
    mail = p.add_argument_group("reply drafts (--format email)")
    mail.add_argument("--from", dest="from_", metavar="'NAME <ADDR>'",
                      help="the reviewer identity (default: git config user.name/user.email)")
    mail.add_argument("--date", metavar="ISO",
                      help="the drafts' Date (e.g. 2025-08-19T10:00:00+00:00); makes their Message-IDs stable")
    mail.add_argument("--overwrite", action="store_true", help="replace existing drafts in the folder")
    mail.add_argument("--keep-replied", action="store_true",
                      help="keep findings a human reply already raised even when they add nothing")
    pw = p.add_argument_group("Patchwork checks")
    pw.add_argument("--patchwork", metavar="URL", help="post one check per patch to this Patchwork instance")
    pw.add_argument("--token", metavar="TOKEN",
                    help="Patchwork API token (default: $REVIEWBOT_PATCHWORK_TOKEN)")
    pw.add_argument("--patchwork-project", metavar="NAME", help="limit the patch lookup to this project")
    pw.add_argument("--target-url", metavar="URL", help="the link each check points to (e.g. the CI run)")
    p.add_argument("--tree", metavar="DIR",
                   help="a kernel tree at the series' base: modified files are then parsed whole "
                        "(pre-image from DIR with the hunks applied), not just their hunks")
    sel = p.add_argument_group("rules")
    sel.add_argument("--rules", metavar="IDS", help="run only these rules (ids, names or packs, comma-separated)")
    sel.add_argument("--skip", metavar="IDS", help="do not run these rules")
    sel.add_argument("--rules-dir", metavar="DIR", help="load rules from this folder instead of the shipped ones")


def cmd_review(args: argparse.Namespace) -> int:
    from reviewbot import fetch, thread

    msgid = fetch.parse_msgid(args.msgid)
    source = fetch.Source(mbox=args.mbox, lore=args.lore, use_cache=not args.no_cache, offline=args.offline)
    msgs = fetch.fetch_thread(msgid, source)
    series = thread.assemble(msgs, msgid)
    return _review_and_report(series, args)


def cmd_ci(args: argparse.Namespace) -> int:
    from reviewbot import patchfiles, thread

    if bool(args.paths) == bool(args.git):
        raise InputError("ci: give either patch files/folders or --git RANGE")
    msgs = patchfiles.git_range(args.git, args.repo) if args.git else patchfiles.read_paths(args.paths)
    series = thread.assemble_patches(msgs)
    return _review_and_report(series, args)


def _review_and_report(series, args: argparse.Namespace) -> int:
    from reviewbot import dedupe, engine, rulepack

    if args.format == "email" and not args.output:
        raise InputError("--format email needs --output DIR for the drafts")
    token = args.token or os.environ.get("REVIEWBOT_PATCHWORK_TOKEN")
    if args.patchwork and not token:
        raise InputError("--patchwork needs --token (or REVIEWBOT_PATCHWORK_TOKEN)")
    rules, models, keep = rulepack.select(_load_rules(args), args.rules, args.skip, _load_models(args))
    if series.patches and all(p.unreadable for p in series.patches):
        first = series.patches[0]
        raise InputError(f"no readable patch: <{first.msgid}>: {first.unreadable}"
                         + (f" (and {len(series.patches) - 1} more)" if len(series.patches) > 1 else ""))
    review = dedupe.mark_replied(engine.run(series, rules, tree=args.tree, models=models, keep=keep, parallel=True))
    if args.format == "email":
        _write_drafts(review, args)
    else:
        _emit(_render(review, args.format, rules), args.output)
    if args.patchwork:
        from reviewbot import patchwork

        patchwork.post_checks(review, url=args.patchwork, token=token, project=args.patchwork_project,
                              target_url=args.target_url)
    return exit_code(review.findings, args.fail_on)


def _write_drafts(review, args: argparse.Namespace) -> None:
    from datetime import datetime

    from reviewbot.render import email

    date = None
    if args.date:
        try:
            date = datetime.fromisoformat(args.date)
        except ValueError:
            raise InputError(f"--date {args.date!r} is not an ISO date") from None
    drafts = email.drafts(review, reviewer=email.reviewer_identity(args.from_), date=date,
                          keep_replied=args.keep_replied)
    written = email.write_drafts(drafts, args.output, overwrite=args.overwrite)
    sys.stderr.write(f"reviewbot: {len(drafts)} draft{'s' if len(drafts) != 1 else ''} in {args.output}\n"
                     if written else "reviewbot: no findings, no drafts\n")


def exit_code(findings, fail_on: str) -> int:
    from reviewbot.finding import severity_rank

    if fail_on == "never":
        return EXIT_OK
    floor = severity_rank(fail_on)
    return EXIT_FINDINGS if any(severity_rank(f.severity) >= floor for f in findings) else EXIT_OK


def _render(review, fmt: str, rules) -> str:
    if fmt == "sarif":
        from reviewbot.render import sarif

        return sarif.render(review, rules)
    if fmt == "json":
        from reviewbot.render import json as renderer
    elif fmt == "github":
        from reviewbot.render import github as renderer
    else:
        from reviewbot.render import text as renderer
    return renderer.render(review)


def _emit(text: str, output: str | None) -> None:
    # Text from a thread may hold lone surrogates (undecodable bytes of an 8-bit header): UTF-8 has
    # no encoding for them, so they are written as "?" rather than failing the run.
    text = text.encode("utf-8", "replace").decode("utf-8")
    if output:
        from reviewbot.outfile import write_atomic

        write_atomic(output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _load_rules(args: argparse.Namespace):
    from pathlib import Path

    from reviewbot import rulepack

    return rulepack.load_rules(Path(args.rules_dir) if getattr(args, "rules_dir", None) else None)


def _load_models(args: argparse.Namespace):
    from pathlib import Path

    from reviewbot import models

    return models.load_models(Path(args.rules_dir) if getattr(args, "rules_dir", None) else None)


def _catalogue(args: argparse.Namespace) -> list[dict]:
    """Every rule, and every finding a reference model can report, as rows (id order)."""
    rows = [{"id": r.id, "name": r.name, "pack": r.pack, "kind": "rule", "severity": r.severity,
             "confidence": r.confidence, "summary": r.summary, "see": r.see, "readme": r.readme}
            for r in _load_rules(args)]
    for m in _load_models(args):
        rows += [{"id": k.id, "name": k.title, "pack": m.folder.parent.name, "kind": f"model {m.id}",
                  "severity": k.severity, "confidence": k.confidence,
                  # A model's kinds each say their own thing; the model's first sentence is the
                  # fallback for a model.toml written before kinds had summaries.
                  "summary": k.summary or m.summary.split(". ")[0].rstrip(".") + ".", "see": m.see,
                  "readme": _kind_readme(m, k)} for k in m.kinds]
    return sorted(rows, key=lambda row: row["id"])


def _kind_readme(model, kind) -> str:
    """What `explain <kind id>` prints: the kind's own README section, and where the rest is."""
    section = model.kind_readme(kind.id)
    if not section:
        return model.readme
    return (f"{section}\nSeverity {kind.severity}, confidence {kind.confidence}; reported by the reference "
            f"model {model.id}\n(`reviewbot explain {model.id}` prints the whole model).\nsee: {model.see}\n")


def cmd_rules(args: argparse.Namespace) -> int:
    rows = _catalogue(args)
    if args.format == "json":
        import json

        keys = ("id", "name", "pack", "kind", "severity", "confidence", "summary", "see")
        _emit(json.dumps([{k: row[k] for k in keys} for row in rows], indent=2) + "\n", None)
    else:
        lines = [f"{r['id']}  {r['name']}  [{r['severity']}, {r['confidence']}, {r['kind']}]\n"
                 f"    {r['summary']}\n    see: {r['see']}" for r in rows]
        _emit("\n".join(lines) + "\n", None)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    for row in _catalogue(args):
        if args.rule in (row["id"], row["name"]):
            _emit(row["readme"] or f"{row['id']} {row['name']}: {row['summary']}\n", None)
            return EXIT_OK
    for m in _load_models(args):  # a model as a whole, by its id or name
        if args.rule in (m.id, m.name):
            _emit(m.readme or f"{m.id} {m.name}: {m.summary}\n", None)
            return EXIT_OK
    raise InputError(f"no rule {args.rule!r} (see `reviewbot rules`)")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except ReviewbotError as exc:
        _fail(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`reviewbot ... | head`): not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("REVIEWBOT_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        return EXIT_BUG


def _fail(message: str) -> None:
    line = " ".join(message.split())
    if not line.startswith("reviewbot"):
        line = f"reviewbot: {line}"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# the cyclic garbage collector's thresholds for a reviewbot process (see entry())
GC_THRESHOLD = (50_000, 20, 20)


def entry() -> None:
    """The console script (and `python -m reviewbot`): main(), then leave at once.

    A review builds hundreds of thousands of small objects (syntax trees, facts, the model's
    worlds). Two things cost a short run time without doing anything for it: the cyclic garbage
    collector scanning them every 700 allocations, and the interpreter tearing the whole heap down
    at exit. The first runs every 50,000 allocations here; the second is skipped with os._exit()
    once the output is flushed (every file reviewbot writes is closed by then). Together about a
    tenth of a v1 review. main() itself stays an ordinary function for the tests."""
    import gc

    gc.set_threshold(*GC_THRESHOLD)
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a reader that went away (`| head`) or a closed stream: nothing left to say
    os._exit(code)


if __name__ == "__main__":
    entry()
