"""A bench over several GPUs of one host, without a GPU: the pool of device leases, the
device each evaluation is pinned to, and the worker environment that pins it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pragma_kernels.bench.executors import LocalExecutor
from pragma_kernels.bench.lease import DevicePool, choose_devices
from pragma_kernels.bench.pairs import BenchOptions, PairResult
from pragma_kernels.bench.runner import run_bench
from pragma_kernels.bench.store import RunRow
from pragma_kernels.bench.suite import collect
from pragma_kernels.cli import app
from pragma_kernels.evaluation import forkserver, isolation
from pragma_kernels.evaluation.evaluator import LocalEvaluator
from pragma_kernels.evaluation.jobs import AttemptOptions, AttemptResult, run_attempt
from pragma_kernels.targets import Target
from pragma_kernels.verdict import VerdictKind, failure

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples" / "problems"
OPTIONS = BenchOptions(target="cpu", attempts=1, baselines=("eager",), size="tiny")


class Recorder:
    """A fake attempt runner: which device each attempt got, and who was on it meanwhile."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.on: dict[str | None, int] = {}  # device -> attempts on it now
        self.devices: list[str | None] = []
        self.most_on_one, self.most_at_once = 0, 0

    def __call__(self, problem, candidate, target, options: AttemptOptions) -> AttemptResult:
        with self.guard:
            self.devices.append(options.device)
            self.on[options.device] = self.on.get(options.device, 0) + 1
            self.most_on_one = max(self.most_on_one, self.on[options.device])
            self.most_at_once = max(self.most_at_once, sum(self.on.values()))
        time.sleep(0.02)  # long enough for the other threads to come in; nothing is timed
        with self.guard:
            self.on[options.device] -= 1
        verdict = failure(VerdictKind.BUILD, "fake attempt")
        return AttemptResult(verdict, {}, None, "", None, None, {})


def test_each_concurrent_evaluation_gets_its_own_device():
    """Six threads evaluate through LocalEvaluator with a pool of two GPUs: never two
    attempts on one device, never more than two at once, both devices used."""
    pool, runner = DevicePool(["0", "1"]), Recorder()
    evaluator = LocalEvaluator(Path("p.py"), Target.cpu(), lease=pool.hold, attempt_runner=runner)
    barrier = threading.Barrier(6)

    def evaluate() -> None:
        barrier.wait()
        for _ in range(4):
            evaluator.evaluate(Path("c.py"), [], profile=False)

    threads = [threading.Thread(target=evaluate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runner.devices) == 24 and set(runner.devices) == {"0", "1"}
    assert runner.most_on_one == 1  # exclusive per device
    assert runner.most_at_once == 2  # both GPUs at once, the other four threads waited
    assert set(pool.seconds) == {"0", "1"} and all(s > 0 for s in pool.seconds.values())
    assert pool.total_s == pytest.approx(sum(pool.seconds.values()))


def test_a_pool_waits_while_every_device_is_busy():
    pool = DevicePool(["0"])
    got = []

    def second() -> None:
        with pool.hold() as device:
            got.append(device)

    with pool.hold() as first:
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive() and got == []  # still waiting: "0" is held
    waiter.join(5)
    assert first == "0" and got == ["0"]


def test_a_pool_of_one_unpinned_device_is_the_single_lease_of_before():
    pool = DevicePool()
    with pool.hold() as device:
        assert device is None
    assert pool.take_thread_seconds() >= 0 and pool.take_thread_seconds() == 0.0
    with pytest.raises(ValueError, match="distinct"):
        DevicePool(["0", "0"])


def test_the_devices_come_from_gpus_or_devices():
    two = ["0", "1"]
    assert choose_devices(None, None, on_gpu=True, visible=two) == ["0", "1"]  # default: all
    assert choose_devices("all", None, on_gpu=True, visible=["4", "5", "6"]) == ["4", "5", "6"]
    assert choose_devices("2", None, on_gpu=True, visible=["4", "5", "6"]) == ["4", "5"]
    assert choose_devices("1", None, on_gpu=True, visible=two) == [None]  # as before
    assert choose_devices(None, None, on_gpu=True, visible=["0"]) == [None]
    assert choose_devices(None, "1", on_gpu=True, visible=two) == ["1"]  # named: pinned
    assert choose_devices(None, " 0, 1 ", on_gpu=True, visible=two) == ["0", "1"]
    assert choose_devices(None, None, on_gpu=False, visible=[]) == [None]  # CPU: one
    for gpus, devices, on_gpu, match in [
        ("3", None, True, "2 GPU"),
        ("0", None, True, "number"),
        ("x", None, True, "number"),
        ("2", "0", True, "not both"),
        (None, "0,0", True, "distinct"),
        ("2", None, False, "GPU target"),
        (None, "1", False, "GPU target"),
    ]:
        with pytest.raises(ValueError, match=match):
            choose_devices(gpus, devices, on_gpu, two)


def test_a_job_pinned_to_device_1_runs_with_only_that_gpu_visible(monkeypatch):
    """run_attempt's job, through the isolation layer up to the worker's start: the env the
    worker (fresh or forked) would get, with no process started."""
    launches = []

    def served(launch, limits):
        launches.append(("served", launch.env))
        return None  # as a busy server: the job goes to a fresh worker

    def fresh(launch, limits, wrapper):
        launches.append(("fresh", launch.env))
        return isolation.Ended("exited", 1, b"")

    monkeypatch.setattr(isolation, "_served", served)
    monkeypatch.setattr(isolation, "_fresh", fresh)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # the driver sees both
    options = AttemptOptions(profile=False, baseline_cache=None, device="1")
    result = run_attempt(EXAMPLES / "relu.py", EXAMPLES / "relu.py", Target.cpu(), options)
    assert not result.verdict.ok  # the fake worker sent nothing
    assert launches and all(env["CUDA_VISIBLE_DEVICES"] == "1" for _, env in launches)
    unpinned = AttemptOptions(profile=False, baseline_cache=None)
    launches.clear()
    run_attempt(EXAMPLES / "relu.py", EXAMPLES / "relu.py", Target.cpu(), unpinned)
    assert all(env["CUDA_VISIBLE_DEVICES"] == "0,1" for _, env in launches)  # as before
    # the warm server is keyed by its start-up variables: one per device
    assert forkserver.START_VARIABLES.match("CUDA_VISIBLE_DEVICES")


def test_a_bench_over_two_devices_reports_each_and_the_share_over_both(tmp_path):
    def work(pair, bench_dir, options, lease, lease_seconds):
        with lease():
            time.sleep(0.01)
        return PairResult(RunRow(problem=pair.problem.problem, mode=pair.mode, status="done"))

    executor = LocalExecutor(work=work, devices=["0", "1"])
    assert executor.jobs == 2  # one conversation per device unless -j says otherwise
    session = run_bench(collect([EXAMPLES], subset="6"), ["offline"], tmp_path, OPTIONS, executor)
    assert session.devices == 2 and set(session.device_seconds) == {"0", "1"}
    assert session.device_s == pytest.approx(sum(session.device_seconds.values()), abs=0.05)
    assert 0 < session.device_share <= 1.0  # device-seconds over 2 x wall


def test_gpus_on_a_cpu_target_is_refused(tmp_path):
    result = CliRunner().invoke(
        app,
        ["bench", str(EXAMPLES / "relu.py"), "--target", "cpu", "--gpus", "2", "--out",
         str(tmp_path / "b")],
    )  # fmt: skip
    assert result.exit_code == 2 and "GPU target" in result.output
    assert not (tmp_path / "b").exists()


def test_a_warm_server_is_kept_per_device(monkeypatch):
    """Three GPUs pin three start-up environments: with keep_warm(3) none closes another
    (with the default two, the third would close the first and its jobs start fresh)."""
    closed = []

    class Server:  # the registry's view of a server, no process
        def __init__(self, key, env, imports):
            self.key, self.lock = key, threading.Lock()

        def close(self):
            closed.append(self.key)
            forkserver._servers.pop(self.key, None)

    monkeypatch.setattr(forkserver, "ForkServer", Server)
    monkeypatch.setattr(forkserver, "_servers", {})
    monkeypatch.setattr(forkserver, "_max_servers", forkserver.MAX_SERVERS)
    envs = [{"CUDA_VISIBLE_DEVICES": device} for device in ("0", "1", "2")]
    for env in envs:
        forkserver._server_for(env, ("torch",))
    assert len(closed) == 1 and len(forkserver._servers) == 2  # today's limit of two
    closed.clear()
    forkserver.keep_warm(3)
    for env in envs:
        forkserver._server_for(env, ("torch",))
    assert closed == [] and len(forkserver._servers) == 3
