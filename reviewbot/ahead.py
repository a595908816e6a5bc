"""The models that speak alone, run ahead in a forked child while the parent runs the rules.

A reference model's exploration is the larger half of a series review (the v1 BPF OOM thread: about
0.13 s of models against 0.11 s of rules), and a second core is otherwise idle. `Ahead.start()`
forks a child that runs the models on the patches in order and streams each patch's results as it
finishes it. When the parent is done with the rules it takes the patches the child has not started,
from the last one back (`share()`), so neither waits for the other longer than the one patch the
child is on. `result()` gives a patch's results, from the child or from the parent's own run.

The child computes exactly what the parent would (run_models, model by model, on the same patch);
the output does not depend on which process ran a patch. Where there is no fork (or the system is
not Linux), one core, or the child fails in any way, the parent computes what is missing itself.
Messages on the pipe are length-prefixed pickles: ("start", index) before a patch, ("done", index,
results) after it.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
from typing import Any, Callable

_LENGTH = struct.Struct("!I")

# results of one patch: model id -> (findings, not modelled, explored)
Results = dict[str, tuple[list, list, list]]


class Ahead:
    def __init__(self, pid: int, read_end: int, count: int, compute: Callable[[int], Results]):
        self.pid = pid
        self.fd = read_end
        self.count = count
        self.compute = compute  # the parent's own run of patch i (with the rules' parses)
        self.buffer = b""
        self.started = -1  # the highest patch index the child has started
        self.done: dict[int, Results] = {}
        self.eof = False

    @classmethod
    def start(cls, count: int, child_work: Callable[[int], Results],
              compute: Callable[[int], Results]) -> "Ahead | None":
        """Fork a child running child_work(0), child_work(1), ... child_work(count - 1); None when
        there is no fork or no second core (the caller computes everything itself)."""
        # Linux only: macOS's system libraries are not safe to use in a forked child
        if count == 0 or not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2:
            return None
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # the child: never returns, never runs the parent's exit handlers
            status = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "wb") as pipe:
                    for index in range(count):
                        _send(pipe, ("start", index))
                        _send(pipe, ("done", index, child_work(index)))
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        return cls(pid, read_end, count, compute)

    # -- the parent

    def _poll(self, block: bool) -> None:
        """Read what the child has sent; with `block`, wait until at least one message arrived
        (or the child ended)."""
        while not self.eof:
            ready, _, _ = select.select([self.fd], [], [], None if block else 0)
            if not ready:
                return
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.eof = True
                return
            self.buffer += chunk
            got = False
            while len(self.buffer) >= _LENGTH.size:
                (size,) = _LENGTH.unpack_from(self.buffer)
                if len(self.buffer) < _LENGTH.size + size:
                    break
                message = pickle.loads(self.buffer[_LENGTH.size:_LENGTH.size + size])
                self.buffer = self.buffer[_LENGTH.size + size:]
                if message[0] == "start":
                    self.started = max(self.started, message[1])
                else:  # (a patch the parent already ran keeps the parent's results: they are the same)
                    self.done.setdefault(message[1], message[2])
                got = True
            if got and block:
                return

    def share(self) -> None:
        """Run, here, the patches the child has not started yet, from the last one back."""
        for index in range(self.count - 1, -1, -1):
            self._poll(block=False)
            if index in self.done or index <= self.started:
                break
            self.done[index] = self.compute(index)

    def result(self, index: int) -> Results:
        while index not in self.done and not self.eof:
            self._poll(block=True)
        if index not in self.done:  # the child ended without it: compute it here
            self.done[index] = self.compute(index)
        return self.done[index]

    def close(self) -> None:
        """Stop the child (it may still be on a patch the parent ran itself) and reap it."""
        try:
            os.close(self.fd)
        except OSError:
            pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def _send(pipe, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)) + data)
    pipe.flush()
