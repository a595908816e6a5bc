from reviewbot.engine import Hit


def check(ctx):
    for line in sorted(ctx.added_lines):
        if "srcu_read_lock(" in ctx.file.post_image.get(line, ""):
            yield Hit(line=line)
