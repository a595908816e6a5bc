"""Test-only judge: an error-severity finding for exit-code tests."""

from reviewbot.engine import Hit


def check(ctx):
    for n, text in sorted(ctx.file.post_image.items()):
        if "kfree(" in text:
            yield Hit(line=n)
