"""A warm worker pool: a server that has imported torch and the worker forks one child per job.

A fresh worker spends seconds importing torch (and triton) before the job starts
(3.7 s on a 2-core VM, 4.9 s on an H200 machine). The server pays that once: started
lazily by the parent (`python -m pragma_kernels.evaluation.forkserver MODULE...`), it
imports the backend's `worker_imports`, checks that CUDA is not initialised (a forked
child cannot use a CUDA context of its parent) and that no parallel torch op ran
(OpenMP thread pools do not survive fork), then forks a child per job:

    parent (run_isolated) --request--> server --fork--> child: setsid, limits, job
          <--{"pid"} at once, {"status", "result"} when the child ends--

The child starts its own session, takes the job's address-space limit, dies with the
server (PR_SET_PDEATHSIG; the server dies with the parent the same way, and when its
request pipe closes), gets the job in the request (no file) and a result channel the
server made (a memfd the server reads once the child and its leftovers are gone, and
relays with the status), writes stdout and stderr to the job's output file, takes the
job's working directory and environment, runs the worker's `main` and `os._exit`s.
The parent watches the child exactly as it watches a fresh worker (wall time, VmRSS,
SIGKILL to its process group) and classifies the exit status the server reports, so
verdicts do not depend on how the worker was started.

The server is a child subreaper (process.py says why): processes a job started that
lose their parent become the server's children. It waits for the job child by pid, so
they cannot be mistaken for it; once the child has ended, every descendant left is the
job's, and the server kills and reaps them all before it reports the status.

One server per start-up environment: variables read at exec or while torch and
triton are imported (GLIBC_TUNABLES, LD_*, PYTHON*, OMP_*, TRITON_*, ...) are fixed
when the server starts, so they are its key; every other variable is set in the
child, which sees the job's whole environment as a fresh worker would.

Security: a forked child shares nothing writable with the server (memory is
copy-on-write; the protocol pipes are closed in the child, so it cannot forge a
status), and it runs as the same user, so it can still signal processes of that
user, as a fresh worker could.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

from pragma_kernels.evaluation.channel import read_all
from pragma_kernels.evaluation.process import (
    END_WITHIN_S,
    become_subreaper,
    die_with_parent,
    end_descendants,
    kill_group,
    limit_worker,
)

START_TIMEOUT_S = 120.0  # imports on a loaded machine; past it, fresh workers are used
MAX_SERVERS = 2  # distinct start-up environments kept warm at once (keep_warm raises it)
MAX_LOSSES = 3  # servers that died mid-job before fresh workers are used for good
# Read at exec (glibc, the loader, Python) or at import of torch, OpenMP, BLAS, triton.
START_VARIABLES = re.compile(
    r"^(GLIBC_|MALLOC_|LD_|PYTHON|LANG$|LC_|OMP_|KMP_|GOMP_|MKL_|OPENBLAS_|TORCH|PYTORCH_"
    r"|TRITON_|CUDA_|NVIDIA_)"
)


class ServerUnavailable(Exception):
    """The fork server could not start or died; the message says why, for a user."""


class ForkServerWarning(RuntimeWarning):
    """Jobs fall back to fresh worker processes (slower start-up); said once per reason."""


# -- the server (its own process) ----------------------------------------------------------


def serve(imports: list[str]) -> None:
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # a stray print from an import must not corrupt the replies
    start_path = sys.path[0] if sys.path else None
    for name in imports:
        importlib.import_module(name)
    _check_forkable()
    become_subreaper()
    _reply(replies, {"ready": os.getpid()})
    lines = _Lines(requests)
    while (request := lines.read(None)) is not None:
        result = os.memfd_create("pragma-result", 0)  # the job's result channel (channel.py)
        pid = os.fork()
        if pid == 0:
            _child(request, (requests, replies), start_path, result)
        _reply(replies, {"pid": pid})
        status = _await_child(pid, requests)
        end_descendants()  # what the job started, in its group or in sessions of its own
        sent = read_all(result).decode(errors="replace")
        os.close(result)
        if status is None:  # the parent is gone or closed the pipe mid-job
            return
        _reply(replies, {"status": status, "result": sent})


def _check_forkable() -> None:
    """Refuse to serve when a forked child could not use CUDA: initialised here, or only
    touched (an import that counts devices through the driver poisons forks without
    `is_initialized()` saying so; every job then failed in get_inputs on the H200)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised in the fork server; a forked child cannot use it")
    pid = os.fork()
    if pid == 0:  # a throwaway child asks what every job's child would find
        os._exit(1 if torch.cuda._is_in_bad_fork() else 0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("an import touched CUDA in the fork server; children cannot use it")


def _child(request: dict, protocol: tuple[int, int], start_path: str | None, result: int) -> None:
    code = 1
    try:
        server = os.getppid()
        os.setsid()  # a timeout kills the child's whole group, never the server
        limit_worker(request["address_limit"])
        if os.getppid() != server:  # the server died before PDEATHSIG was armed
            os._exit(1)
        for fd in protocol:
            os.close(fd)
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if start_path is not None and sys.path and sys.path[0] == start_path:
            sys.path[0] = request["cwd"]  # `python -m` puts the working directory first
        sys.argv = [sys.argv[0]]
        from pragma_kernels.evaluation import worker

        code = worker.serve(request["job"], result)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _await_child(pid: int, requests: int) -> int | None:
    """The child's wait status; None (child killed) when the request pipe becomes readable:
    while a child runs, that only happens when the parent goes away."""
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # old kernel: poll
        pidfd = None
    try:
        while True:
            watched = [requests] if pidfd is None else [requests, pidfd]
            ready, _, _ = select.select(watched, [], [], 0.02 if pidfd is None else None)
            if requests in ready:
                kill_group(pid)
                os.waitpid(pid, 0)
                return None
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _reply(fd: int, message: dict) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")


class _Lines:
    """JSON lines from a pipe, read with select so a caller can wait with a timeout."""

    def __init__(self, fd: int):
        self.fd, self.pending, self.eof = fd, b"", False

    def read(self, timeout: float | None) -> dict | None:
        """The next message; None on timeout or end of file (`eof` tells them apart)."""
        self.eof = False
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                return None
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)


# -- the parent's side ---------------------------------------------------------------------


class ForkServer:
    """One warm server process, serving one job at a time (`lock`)."""

    def __init__(self, key: tuple, env: dict[str, str], imports: tuple[str, ...]):
        self.key, self.lock = key, threading.Lock()
        self.log = tempfile.TemporaryFile(prefix="pragma-forkserver-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, *imports],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            preexec_fn=die_with_parent,
            start_new_session=True,  # the terminal's Ctrl-C goes to the parent, which stops it
        )
        self.replies = _Lines(self.process.stdout.fileno())
        ready = self.receive(START_TIMEOUT_S, "starting")
        if "ready" not in ready:
            self.close()
            raise ServerUnavailable(f"the warm worker server answered {ready!r} at start")
        self.pid: int = ready["ready"]

    def receive(self, timeout: float | None, doing: str) -> dict:
        message = self.replies.read(timeout)
        if message is not None:
            return message
        why = self.why_lost() if self.replies.eof else f"no answer within {timeout:g} s"
        self.close()
        raise ServerUnavailable(f"the warm worker server failed while {doing}: {why}")

    def start(self, request: dict) -> ServedChild:
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            why = self.why_lost()
            self.close()
            raise ServerUnavailable(f"the warm worker server is gone: {why}") from None
        return ServedChild(self, self.receive(30.0, "forking a worker")["pid"])

    def why_lost(self) -> str:
        try:
            code = self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            code = None
        ending = (
            "it closed its pipe"
            if code is None
            else f"it was killed by signal {-code}"
            if code < 0
            else f"it exited with status {code}"
        )
        if self.log.closed:  # closed already: its log went with it
            return ending
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace").strip().splitlines()[-3:]
        return ending + (": " + " | ".join(tail) if tail else "")

    def close(self) -> None:
        """Stop the server (a running child dies with it); idempotent."""
        if _servers.get(self.key) is self:
            del _servers[self.key]
        if self.process.poll() is None:
            try:
                self.process.stdin.close()  # end of requests: the server exits
                self.process.wait(END_WITHIN_S + 1.0)  # after ending a running job's leftovers
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.log):
            try:
                stream.close()
            except OSError:
                pass


class ServedChild:
    """A job's process as the watchdog sees it: `pid`, `returncode` and `wait`, as a Popen."""

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid = server, pid
        self.returncode: int | None = None
        self.sent = b""  # what the job wrote to its result channel, relayed by the server
        self.done = False

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal); raises TimeoutExpired, or
        ServerUnavailable if the server died (the job is then killed too)."""
        if self.returncode is not None:
            return self.returncode
        replies = self.server.replies
        message = replies.read(timeout)
        if message is not None:
            self.returncode = os.waitstatus_to_exitcode(message["status"])
            self.sent = message.get("result", "").encode()
            self.done = True
            self.server.lock.release()
            return self.returncode
        if not replies.eof:
            raise subprocess.TimeoutExpired(f"forked worker {self.pid}", timeout or 0)
        why = self.server.why_lost()
        _lost()
        self.abandon()
        raise ServerUnavailable(f"the warm worker server died while a job ran: {why}")

    def abandon(self) -> None:
        """Kill the job and the server (its pipe would still carry this job's status)."""
        if not self.done:
            self.done = True
            kill_group(self.pid)
            self.server.close()
            self.server.lock.release()


_servers: dict[tuple, ForkServer] = {}
_refused: dict[tuple, str] = {}  # start-up environments whose server could not start
_losses = 0
_max_servers = MAX_SERVERS
_said: set[str] = set()
_registry_lock = threading.Lock()


def start_job(env: dict[str, str], imports: tuple[str, ...], request: dict) -> ServedChild | None:
    """Fork the job's child in the server for `env` (starting it if needed); None when that
    server is busy with another job. Raises ServerUnavailable with the reason."""
    server = _server_for(env, imports)
    if server is None or not server.lock.acquire(blocking=False):
        return None
    try:
        return server.start({**request, "env": env})
    except BaseException:
        server.lock.release()
        raise


def _server_for(env: dict[str, str], imports: tuple[str, ...]) -> ForkServer | None:
    """The warm server for this start-up environment; None when all are busy."""
    started_with = sorted(item for item in env.items() if START_VARIABLES.match(item[0]))
    key = (sys.executable, imports, tuple(started_with))
    with _registry_lock:
        if _losses >= MAX_LOSSES:
            raise ServerUnavailable(f"the warm worker server died {_losses} times")
        if key in _refused:
            raise ServerUnavailable(_refused[key])
        if key in _servers:
            _servers[key] = _servers.pop(key)  # most recently used last
            return _servers[key]
        while len(_servers) >= _max_servers:
            oldest = next(iter(_servers.values()))
            if oldest.lock.locked():
                return None
            oldest.close()
        try:
            server = ForkServer(key, env, imports)
        except OSError as exc:
            _refused[key] = f"the warm worker server could not start: {exc}"
            raise ServerUnavailable(_refused[key]) from None
        except ServerUnavailable as exc:
            _refused[key] = str(exc)
            raise
        _servers[key] = server
        return server


def keep_warm(count: int) -> None:
    """Keep at least `count` servers warm at once: a bench over N GPUs pins each worker to
    its GPU (CUDA_VISIBLE_DEVICES is a start-up variable), so it needs one server per GPU,
    else each GPU's server would close another's and its jobs would start fresh."""
    global _max_servers
    with _registry_lock:
        _max_servers = max(_max_servers, count)


def _lost() -> None:
    global _losses
    _losses += 1


def server_pids() -> list[int]:
    """The running servers' process ids (tests check that a job ran in their child)."""
    return [server.pid for server in _servers.values()]


def shutdown() -> None:
    """Stop every server; run at exit, and by tests."""
    for server in list(_servers.values()):
        server.close()


def say_once(reason: str) -> None:
    """Tell the user, once per reason, that jobs run in fresh processes and why."""
    if reason not in _said:
        _said.add(reason)
        warnings.warn(
            f"{reason}; running each job in a fresh worker process instead (a few seconds "
            "more per job). Set PRAGMA_FORKSERVER=0 to always do so.",
            ForkServerWarning,
            stacklevel=3,
        )


atexit.register(shutdown)

if __name__ == "__main__":
    serve(sys.argv[1:])
