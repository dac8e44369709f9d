"""framework.exchange: the deadline timer never takes Ctrl-C away from the main thread."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from framework.exchange import Exchange


def blocked_signals(thread: threading.Thread) -> int:
    status = Path(f"/proc/{os.getpid()}/task/{thread.native_id}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("SigBlk:"))
    return int(line.split()[1], 16)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_the_deadline_timer_blocks_sigint_and_sigterm_so_the_main_thread_gets_them() -> None:
    with Exchange(5.0) as exchange:
        thread = exchange._timer
        assert thread.is_alive()
        mask = blocked_signals(thread)
    for number in (signal.SIGINT, signal.SIGTERM):
        assert mask & (1 << (number - 1)), f"the deadline timer may receive signal {number}"
    assert not blocked_signals(threading.main_thread()) & (1 << (signal.SIGINT - 1))
