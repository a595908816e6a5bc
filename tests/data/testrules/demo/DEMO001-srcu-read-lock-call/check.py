"""Test-only judge: reads the diff model, not the C front end, so engine tests stand alone."""

import re

from reviewbot.engine import Hit

CALL = re.compile(r"srcu_read_lock\(([^)]*)\)")


def check(ctx):
    for n, text in sorted(ctx.file.post_image.items()):
        m = CALL.search(text)
        if m:
            yield Hit(line=n, args={"arg": m.group(1)})
