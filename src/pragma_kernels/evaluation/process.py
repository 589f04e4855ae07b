"""Process-level limits a worker runs under, shared by the fresh-process path (isolation.py)
and the fork server's children (forkserver.py): an address-space limit, no core files,
death with the parent, and the resident memory the parent's watchdog reads.

Nothing a job starts survives it. A candidate may start processes that stay in the
worker's group (a group kill ends them) or leave it with setsid (it does not). So the
process that parents the worker is a child subreaper (PR_SET_CHILD_SUBREAPER): when a
process under it loses its parent, the kernel re-parents it there instead of to init, so
every process the job started stays a descendant (by /proc ppid chains) of that
subreaper. When the worker has ended, however it ended, the subreaper SIGKILLs all its
descendants and reaps them (`end_descendants`). Two processes play that part:

- the fork server, for its forked children: it has no other children, so after the
  job child's status is taken every descendant it has is the job's leftover;
- a small wrapper for a fresh worker (`python -I -S process.py FD LIMIT -- COMMAND`,
  this file run as a script: standard library only, no package import, ~20 ms): it
  forks the worker into a session of its own, reports the worker's pid on FD (the
  watchdog reads that pid's memory and kills its group), waits for it, ends the
  descendants and exits with the worker's status (re-raising its signal).

The parent tool process is not made a subreaper: it has children of its own (servers,
compilers, profilers) that leftovers could not be told apart from.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
END_WITHIN_S = 5.0  # a process stuck in the kernel (D state) may not die at once


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
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper() -> None:
    """Orphans among this process's descendants become its children, not init's (Linux)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def _prctl(option: int, value: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
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


def descendants(root: int) -> list[int]:
    """Every process whose parent chain (/proc/PID/stat) leads to `root`, zombies included."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()  # the name may hold ")"
        except OSError:  # it ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def end_descendants(within_s: float = END_WITHIN_S) -> None:
    """In a subreaper whose own job child has been waited for: SIGKILL every descendant and
    reap those that become its children, until none is left or `within_s` passes. Killing a
    parent re-parents its children here, so the loop runs until the tree is empty."""
    deadline = time.monotonic() + within_s
    while found := descendants(os.getpid()):
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if time.monotonic() > deadline:
            return
        time.sleep(0.002)


def _wrap(argv: list[str]) -> int:
    """The fresh worker's parent (see the module docstring): FD LIMIT -- COMMAND..."""
    report, limit, _, *command = argv
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # it may re-raise the worker's SIGSEGV
    become_subreaper()
    wrapper = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(int(report))
            os.setsid()  # a timeout kills the worker's group, never this wrapper
            limit_worker(None if limit == "none" else int(limit))
            if os.getppid() == wrapper:  # else the wrapper died before PDEATHSIG was armed
                os.execvp(command[0], command)
        except BaseException as exc:
            print(f"could not start the worker: {exc!r}", file=sys.stderr)
        os._exit(127)
    os.write(int(report), f"{pid}\n".encode())
    os.close(int(report))
    _, status = os.waitpid(pid, 0)
    end_descendants()
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # end the way the worker did, so the parent classifies the same status
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code if code >= 0 else 1


def wrapped(command: list[str], report: int, address_limit: int | None) -> list[str]:
    """`command` run under the fresh worker's wrapper, which writes the worker's pid to the
    inherited descriptor `report`."""
    limit = "none" if address_limit is None else str(address_limit)
    return [sys.executable, "-I", "-S", __file__, str(report), limit, "--", *command]


if __name__ == "__main__":
    sys.exit(_wrap(sys.argv[1:]))
