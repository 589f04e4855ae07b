"""Process-level limits a worker runs under, shared by the fresh-process path (isolation.py)
and the fork server's children (forkserver.py): an address-space limit, no core files,
death with the parent, and the resident memory the parent's watchdog reads."""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
from pathlib import Path

PR_SET_PDEATHSIG = 1


def limit_worker(address_limit: int | None) -> None:
    """In the worker, before the candidate runs: RLIMIT_AS (if given), no core dumps, and
    SIGKILL when the process that started it goes away."""
    if address_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (address_limit, address_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    die_with_parent()


def die_with_parent() -> None:
    """The worker runs in its own session (so a timeout kills its whole group); if its
    parent is killed before it can do that, the kernel kills the worker (Linux).

    The signal follows the parent *thread*: a process started from a thread that later
    exits is killed then too. Parents here start workers from the thread that waits for
    them, and the fork server forks from its only Python thread."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog's timeout still applies
        pass


def resident_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) * 1024 if match else 0


def kill_group(pid: int) -> None:
    """SIGKILL the worker's process group (it leads its own session), if it still exists."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
