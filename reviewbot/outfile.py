"""Writing output files so that a reader never sees half of one.

Every file reviewbot writes goes through here: written to a temporary file in the same folder,
flushed to disk, then renamed over the target in one step. An interrupted run leaves the old file
(or none), never a truncated one.
"""

from __future__ import annotations

import os
import re
import tempfile

from reviewbot.errors import InputError

# Temporary files are named .reviewbot-<pid>-<random>.tmp: a run killed before its rename (SIGKILL,
# power loss) leaves one behind, and the next run's first write into the folder removes those whose
# process is gone (once per folder and process: a batch writes hundreds of reports into one).
_TMP_RE = re.compile(r"\.reviewbot-(\d+)-[^/]*\.tmp")


_CLEANED: set[tuple[int, str]] = set()  # (process, folder) already cleaned of stale temporaries


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def clean_stale_temporaries(folder: str) -> None:
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TMP_RE.fullmatch(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def write_atomic(path: str, data: bytes, *, overwrite: bool = True) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.exists(path):
        raise InputError(f"{path} exists; not overwriting it")
    try:
        os.makedirs(folder, exist_ok=True)
        if (os.getpid(), folder) not in _CLEANED:
            clean_stale_temporaries(folder)
            _CLEANED.add((os.getpid(), folder))
        fd, tmp = tempfile.mkstemp(prefix=f".reviewbot-{os.getpid()}-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target appeared meanwhile: never clobber a file we did not expect.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(f"{path} exists; not overwriting it") from None
            os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
