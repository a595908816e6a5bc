"""Shared test helpers: paths of the fixture thread and readers for it."""

from __future__ import annotations

import email
import email.policy
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "fixtures" / "bpf-oom-v1"
V1_MBOX = V1 / "thread.mbox"
PATCH_01 = "20250818170136.209169-2-roman.gushchin@linux.dev"
COVER = "20250818170136.209169-1-roman.gushchin@linux.dev"


def v1_patch_ids() -> list[str]:
    return [f"20250818170136.209169-{n}-roman.gushchin@linux.dev" for n in range(2, 16) if n != 13]


def eml(msgid: str) -> email.message.EmailMessage:
    data = (V1 / "messages" / f"{msgid}.eml").read_bytes()
    return email.message_from_bytes(data, policy=email.policy.default)


def body(msgid: str) -> str:
    return eml(msgid).get_body(("plain",)).get_content()


@lru_cache(maxsize=None)
def v1_series():
    from reviewbot import lore, thread

    return thread.assemble(lore.split_mbox(V1_MBOX.read_bytes()), PATCH_01)
