"""Everything reviewbot asks of b4 and liblore. The only module that imports them.

b4 knows how lore works (Message-ID lookups, mboxrd, its git config, series and versions); we use
its library instead of re-implementing any of that. It is imported lazily, inside each function,
because `import b4` alone costs about 0.2 s and not every path needs it (`reviewbot rules`,
`reviewbot parse`, ...).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any

# b4 logs through the "b4" logger; its messages are for b4's own CLI, not ours.
logging.getLogger("b4").addHandler(logging.NullHandler())
logging.getLogger("b4").propagate = False


def split_mbox(data: bytes) -> list[EmailMessage]:
    """Split mbox bytes (mboxrd or mboxo, as lore and git send them) into messages."""
    import liblore.utils

    return list(liblore.utils.split_mbox(data))


def read_maildir(path: str) -> list[EmailMessage]:
    import b4

    return list(b4.get_msgs_from_mailbox_or_maildir(path))


def is_maildir(path: str) -> bool:
    import b4

    return bool(b4.is_maildir(path))


def clean_msgid(msg: EmailMessage) -> str | None:
    import b4

    return b4.LoreMessage.get_clean_msgid(msg)


def series_mailbox(msgs: list[EmailMessage]) -> Any:
    """A b4 LoreMailbox holding these messages: b4 sorts them into versions, covers, patches."""
    import b4

    mailbox = b4.LoreMailbox()
    for msg in msgs:
        mailbox.add_message(msg)
    return mailbox


def mailbox_series(mailbox: Any, revision: int | None) -> Any:
    """The LoreSeries of that revision (latest when None), or None.

    codereview_trailers=False: b4 would otherwise search lore for trailers sent in other threads,
    which is a network query we do not want in a review.
    """
    return mailbox.get_series(revision, codereview_trailers=False)
