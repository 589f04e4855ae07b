"""Nothing a job starts survives it: however the job ends (success, wrong result,
timeout, a killed worker, an interrupted parent), the processes its candidate started
are gone when `run_isolated` returns, whether they stayed in the worker's group or left
it for a session of their own, and so is the job's temp directory. Both ways to start a
worker are covered: a child of the warm server, and a fresh process
(PRAGMA_FORKSERVER=0, slower: it imports torch).

The candidate starts (a) `sleep` in its group, (b) `sleep` in a new session, (c) `sleep`
after a double fork and setsid (its parent is gone at once), then writes their pids.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import tempfile
import time
from pathlib import Path

import pytest

from pragma_kernels import config
from pragma_kernels.evaluation import forkserver, isolation
from pragma_kernels.evaluation.isolation import Limits, run_isolated
from pragma_kernels.evaluation.schema import Job
from pragma_kernels.verdict import VerdictKind

from .test_verify_failures import HEADER, PROBLEM

SPAWN = """
import os as _os
import subprocess as _sp
_in_group = _sp.Popen(["sleep", "300"])
_own_session = _sp.Popen(["sleep", "300"], start_new_session=True)
_read, _write = _os.pipe()
if _os.fork() == 0:
    try:
        _os.setsid()
        if _os.fork() == 0:
            _os.write(_write, str(_os.getpid()).encode())
            _os.execvp("sleep", ["sleep", "300"])
    finally:
        _os._exit(0)
_os.close(_write)
_detached = int(_os.read(_read, 32))
_os.wait()
with open({pids!r}, "w") as _file:
    _file.write(f"{{_in_group.pid}} {{_own_session.pid}} {{_detached}}")
"""
RELU = """
class ModelNew(nn.Module):
    def forward(self, x):
        return x.relu()
"""
ENDINGS = {
    "success": (RELU, VerdictKind.OK),
    "wrong": (RELU.replace("x.relu()", "x"), VerdictKind.NUMERICAL_MISMATCH),
    "timeout": ("\nwhile True:\n    pass\n", VerdictKind.TIMEOUT),
    "killed": ("\n_os.kill(_os.getpid(), 9)\n" + RELU, None),
}
WAYS = [
    pytest.param("served", id="served"),
    pytest.param("fresh", id="fresh", marks=pytest.mark.slow),
]


@pytest.fixture(autouse=True)
def fresh_servers():
    forkserver.shutdown()
    yield
    forkserver.shutdown()


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path, monkeypatch):
    """Job directories go under the test's own temp dir: other test runs on this machine
    make and remove theirs in the shared one meanwhile."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


@pytest.fixture
def leftovers(tmp_path):
    """The pids file the candidate writes; whatever it names is killed after the test."""
    pids = tmp_path / "pids"
    yield pids
    for pid in _pids(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _job_dirs() -> set[str]:
    """Job folders, and the judge's spools (in /dev/shm where it has room). A spool names
    its owner's pid: another process's (a test run beside this one) is not this test's."""
    roots = (tempfile.gettempdir(), "/dev/shm")
    found = {path for root in roots for path in glob.glob(os.path.join(root, "pragma-job-*"))}
    spools = {path for path in found if re.match(r"pragma-job-\d+-", os.path.basename(path))}
    mine = f"pragma-job-{os.getpid()}-"
    return {path for path in found if path not in spools or os.path.basename(path).startswith(mine)}


def _run(tmp_path: Path, body: str, pids: Path, way: str, monkeypatch, timeout_s: float):
    if way == "fresh":
        monkeypatch.setenv(config.ENV_FORKSERVER, "0")
    else:  # warm the server first, so the timeout measures the job, not the imports
        warm = tmp_path / "warm.py"
        warm.write_text(HEADER + RELU)
        assert _verify(warm, 60).verdict.ok
    solution = tmp_path / "candidate.py"
    solution.write_text(HEADER + SPAWN.format(pids=str(pids)) + body)
    return _verify(solution, timeout_s)


def _verify(solution: Path, timeout_s: float):
    job = Job(
        action="verify",
        problem=str(PROBLEM),
        solution=str(solution),
        backend="cpp-cpu",
        seeds=[0],
        allow=["all"],  # the candidates start processes on purpose: the cleanup is under test
    )
    return run_isolated(job, Limits(timeout_s=timeout_s, memory_mb=4096))


def _all_gone(pids: list[int], within_s: float = 1.0) -> list[int]:
    """The pids still alive after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_nothing_the_job_started_survives_it(tmp_path, leftovers, monkeypatch, way, ending):
    body, kind = ENDINGS[ending]
    before = _job_dirs()
    timeout_s = 60.0 if ending != "timeout" else (2.0 if way == "served" else 8.0)
    result = _run(tmp_path, body, leftovers, way, monkeypatch, timeout_s)
    if kind is not None:
        assert result.verdict.kind == kind, result.verdict.summary()
    else:
        assert not result.verdict.ok
    assert len(_pids(leftovers)) == 3  # the candidate got as far as starting them
    assert _all_gone(_pids(leftovers)) == []
    assert _job_dirs() - before == set()


@pytest.mark.parametrize("way", WAYS)
def test_an_interrupted_parent_leaves_nothing_either(tmp_path, leftovers, monkeypatch, way):
    watch = isolation._watch

    def interrupted(worker, limits, progress):
        deadline = time.monotonic() + 60
        while len(_pids(leftovers)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        raise KeyboardInterrupt

    before = _job_dirs()
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(isolation, "_watch", watch)
        if way == "served":  # warm the server with the real watchdog first
            warm = tmp_path / "warm.py"
            warm.write_text(HEADER + RELU)
            assert _verify(warm, 60).verdict.ok
        monkeypatch.setattr(isolation, "_watch", interrupted)
        if way == "fresh":
            monkeypatch.setenv(config.ENV_FORKSERVER, "0")
        solution = tmp_path / "candidate.py"
        solution.write_text(
            HEADER + SPAWN.format(pids=str(leftovers)) + "\nwhile True:\n    pass\n"
        )
        _verify(solution, 60)
    assert len(_pids(leftovers)) == 3
    assert _all_gone(_pids(leftovers)) == []
    assert _job_dirs() - before == set()


def test_spools_of_dead_owners_are_swept_and_live_ones_kept(tmp_path):
    """A parent killed with kill -9 cannot remove its spool of shipped outputs (GBs in
    /dev/shm); the next evaluation on the machine does, but never a live process's."""
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{isolation.SPOOL_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{isolation.SPOOL_PREFIX}{os.getpid()}-def"
    other = tmp_path / "pragma-jobless"
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "seed-1-0.bin").write_bytes(b"x" * 16)
    isolation.sweep_stale_spools(str(tmp_path))
    assert not stale.exists() and live.exists() and other.exists()
