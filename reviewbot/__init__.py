"""reviewbot: a deterministic reviewer for Linux kernel patches posted to mailing lists."""

__version__ = "0.1.0"
