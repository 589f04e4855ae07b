"""`pragma bench`: suites, the store, resume after kill -9, the lease and the metrics."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pragma_kernels.bench.executors import LocalExecutor
from pragma_kernels.bench.metrics import metrics
from pragma_kernels.bench.pairs import BenchOptions, PairResult
from pragma_kernels.bench.runner import STORE, run_bench
from pragma_kernels.bench.store import AttemptRow, BenchStore, RunRow, SettingsMismatch
from pragma_kernels.bench.suite import collect
from pragma_kernels.cli import app
from pragma_kernels.errors import PragmaError

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples" / "problems"
SIX = "relu,softsign,swish,gelu,sum_reduction_dim,max_reduction_dim"
OPTIONS = BenchOptions(target="cpu", attempts=1, baselines=("eager",), size="tiny")


def test_suite_takes_directories_list_files_and_files(tmp_path):
    listed = tmp_path / "suite.txt"
    listed.write_text(f"# two problems\n{EXAMPLES / 'relu.py'}\n{EXAMPLES}/softsign.py\n")
    rows = collect([listed, EXAMPLES / "relu.py"])
    assert [r.problem for r in rows] == ["relu", "softsign"]  # once each, in order
    assert len(collect([EXAMPLES])) == len(list(EXAMPLES.glob("*.py")))
    assert [r.problem for r in collect([EXAMPLES], subset="2")] == ["argmax_dim", "avg_pool1d"]
    assert {r.category for r in collect([EXAMPLES], categories="matmul")} == {"matmul"}
    with pytest.raises(PragmaError, match="unknown"):
        collect([EXAMPLES], categories="gemms")
    with pytest.raises(PragmaError, match="does not exist"):
        (tmp_path / "bad.txt").write_text("nowhere.py\n")
        collect([tmp_path / "bad.txt"])


def test_store_keeps_settings_and_refuses_other_ones(tmp_path):
    store = BenchStore(tmp_path / STORE)
    store.start({"target": "cpu", "attempts": 3}, ("target", "attempts"))
    store.start({"target": "cpu", "attempts": 3, "jobs": 4}, ("target", "attempts"))
    with pytest.raises(SettingsMismatch, match="attempts"):
        store.start({"target": "cpu", "attempts": 5}, ("target", "attempts"))


def test_the_lease_serialises_evaluations_but_not_conversations(tmp_path):
    """Four conversations at once; their evaluations never overlap, and the store holds
    each run once (counted, not timed: a busy machine stretches every sleep)."""
    import threading

    guard = threading.Lock()
    inside, talking, overlaps, together = [0], [0], [], []

    def work(pair, bench_dir, options, lease, lease_seconds):
        with guard:
            talking[0] += 1
            together.append(talking[0])
        time.sleep(0.05)  # the conversation: overlaps freely
        with guard:
            talking[0] -= 1
        with lease():
            inside[0] += 1
            overlaps.append(inside[0])
            time.sleep(0.05)
            inside[0] -= 1
        return PairResult(RunRow(problem=pair.problem.problem, mode=pair.mode, status="done"))

    problems = collect([EXAMPLES], subset="8")
    executor = LocalExecutor(jobs=4, work=work)
    session = run_bench(problems, ["offline"], tmp_path, OPTIONS, executor)
    assert max(overlaps) == 1 and session.pairs_run == 8
    assert max(together) > 1  # conversations overlapped
    assert 0 < session.device_share <= 1.0


def test_metrics_follow_kernelbench():
    runs = [
        RunRow(problem="a", mode="m", status="done", best_attempt=1, speedup_eager=2.0,
               speedup_compile=0.5, first_correct=1),
        RunRow(problem="b", mode="m", status="done", best_attempt=2, speedup_eager=0.5,
               first_correct=2),
        RunRow(problem="c", mode="m", status="unsupported"),
        RunRow(problem="d", mode="m", status="done"),
    ]  # fmt: skip
    attempts = [
        AttemptRow(problem="a", mode="m", number=1, kind="ok", ok=True, compiled=True),
        AttemptRow(problem="b", mode="m", number=1, kind="build", ok=False, compiled=False),
        AttemptRow(problem="d", mode="m", number=1, kind="numerical_mismatch", ok=False,
                   compiled=True),
    ]  # fmt: skip
    result = metrics(runs, attempts)
    assert result.correctness == 0.5 and result.compile_rate == 0.5
    assert result.vs_eager.geomean == pytest.approx(1.0)
    assert result.vs_eager.mean == pytest.approx(1.25)
    assert result.fast_eager["fast_1"] == 0.25 and result.fast_eager["fast_0"] == 0.5
    assert result.fast_compile["fast_0"] == 0.5  # fast_0 = correctness, figure or not
    assert result.fast_compile["fast_0.5"] == 0  # b has no compile figure: not fast
    assert result.attempts_to_first_correct == 1.5


def _records(folder: Path) -> list[tuple]:
    """What must not depend on a kill: per run and attempt, everything but timings."""
    db = sqlite3.connect(folder / STORE)
    runs = db.execute(
        "SELECT problem, mode, status, attempts, best_attempt IS NOT NULL FROM runs "
        "ORDER BY problem, mode"
    ).fetchall()
    attempts = db.execute(
        "SELECT problem, mode, number, kind, ok, compiled FROM attempts ORDER BY 1, 2, 3"
    ).fetchall()
    return runs + attempts


def _bench_command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pragma_kernels.cli", "bench", str(EXAMPLES), "--subset", SIX,
        "--target", "cpu", "--size", "tiny", "--attempts", "1", "--baselines", "eager",
        "--out", str(out), *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_a_killed_bench_resumes_to_the_same_records(tmp_path):
    straight = tmp_path / "straight"
    subprocess.run(_bench_command(straight), check=True, capture_output=True, timeout=900)
    killed = tmp_path / "killed"
    process = subprocess.Popen(_bench_command(killed), start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # kill -9 once some, not all, runs are stored
        time.sleep(0.5)
        if (killed / STORE).exists():
            with sqlite3.connect(killed / STORE) as db:
                if db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] >= 2:
                    break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(killed / STORE) as db:
        stored = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert 2 <= stored < 6, "the bench should have been killed half-way"
    (killed_session,) = BenchStore(killed / STORE).sessions()  # recorded as it went
    assert killed_session["pairs_run"] >= stored - 1 and killed_session["wall_s"] > 0
    again = subprocess.run(
        _bench_command(killed, "--resume"), capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{stored} already finished" in " ".join(again.stdout.split())
    assert _records(killed) == _records(straight)
    assert len(_records(straight)) == 12  # 6 runs, 6 attempts
    assert len(BenchStore(killed / STORE).sessions()) == 2  # the killed one and the resume


def test_a_bench_never_overwrites_an_earlier_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = BenchStore(tmp_path / "b" / STORE)
    store.start({"target": "cpu"}, ())
    store.close()
    result = CliRunner().invoke(
        app, ["bench", str(EXAMPLES / "relu.py"), "--target", "cpu", "--out", "b"]
    )
    assert result.exit_code == 2 and "--resume" in result.output


def test_runs_say_whether_a_faster_kernel_was_found_beside_their_own_speedups(tmp_path):
    """The speedups stay each best kernel's own; 'faster kernel found' is a separate count,
    and a store written before the column opens and reads it as unknown."""
    import sqlite3

    from pragma_kernels.bench.metrics import metrics
    from pragma_kernels.bench.store import BenchStore, RunRow

    path = tmp_path / "old.sqlite"
    first = BenchStore(path)
    first.put_run(RunRow(problem="a", mode="offline", status="done"), [])
    first.close()
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE runs DROP COLUMN faster_found")  # as stores were before it
    old.commit()
    old.close()
    store = BenchStore(path)
    assert [(r.problem, r.faster_found) for r in store.runs()] == [("a", None)]
    slower = RunRow(problem="b", mode="offline", status="done", best_attempt=1,
                    speedup_eager=0.8, faster_found=False)  # fmt: skip
    faster = slower.model_copy(update={"problem": "c", "speedup_eager": 1.5, "faster_found": True})
    store.put_run(slower, [])
    store.put_run(faster, [])
    runs = store.runs()
    summary = metrics(runs, [])
    assert summary.faster_kernel_found == 1 and summary.vs_eager.n == 2  # 0.8x still counted
    store.close()
