"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM, so that `--resume` continues it.

While the training loop runs, a signal only sets a flag: the loop finishes the step in flight, writes
last.pt with every state a bit-for-bit resume needs (also in the middle of an epoch), and raises
`Stopped`. Outside the loop (loading data, the final scoring) nothing is lost by stopping at once, so
the signal raises `Stopped` where the program is. The entry point turns `Stopped` into a `stopped`
progress event and exit status 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Stopped(Exception):
    """The run was asked to stop by `signum`; what had to be saved is saved."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum
        self.announced = False  # the training loop wrote the `stopped` event itself (with its epoch and step)

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class StopRequest:
    """Installs SIGINT/SIGTERM handlers for its `with` block and restores the previous ones after it.

    Inside `deferred()` a signal only records itself (`requested`); elsewhere it raises `Stopped`.
    Signals can only be handled on the main thread: elsewhere (a test runner's worker thread) the
    handlers are not installed and the block runs as if no signal ever came.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._deferring = False
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, _frame) -> None:
        self.signum = signum
        if not self._deferring:
            raise Stopped(signum)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @contextmanager
    def deferred(self):
        """Within this block a signal waits for the loop to look at `requested`."""
        self._deferring = True  # a signal that came before is still `requested`: the loop sees it first thing
        try:
            yield self
        finally:
            self._deferring = False

    def raise_if_requested(self) -> None:
        if self.signum is not None:
            raise Stopped(self.signum)
