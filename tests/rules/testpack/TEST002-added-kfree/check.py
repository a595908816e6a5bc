import re

from reviewbot.engine import Hit

_KFREE = re.compile(r"\bkfree\((?P<what>[^)]*)\)")


def check(ctx):
    for line in sorted(ctx.added_lines):
        m = _KFREE.search(ctx.file.post_image.get(line, ""))
        if m:
            yield Hit(line=line, args={"what": m.group("what")})
