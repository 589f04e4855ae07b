"""The Ray executor: on a local Ray instance on the CPU, an offline bench gives the same
records as the local executor (timings aside), and the store is the driver's."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from pragma_kernels.bench import ray_executor
from pragma_kernels.bench.executors import LocalExecutor
from pragma_kernels.bench.pairs import BenchOptions
from pragma_kernels.bench.runner import STORE, run_bench
from pragma_kernels.bench.suite import collect
from pragma_kernels.errors import PragmaError

ROOT = Path(__file__).resolve().parent.parent
# Two the offline agent supports and one it does not (a matmul): done and unsupported rows.
PROBLEMS = [ROOT / "examples" / "problems" / f"{name}.py" for name in ("relu", "softmax")]
UNSUPPORTED = ROOT / "tests" / "fixtures" / "problems" / "qr_unsupported.py"
OPTIONS = BenchOptions(target="cpu", attempts=2, baselines=("eager",), size="tiny")


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(PragmaError, match=r"pip install 'pragma-kernels\[ray\]'"):
        ray_executor.RayExecutor(None, jobs=2)


def test_targets_map_to_gpu_or_cpu_actors():
    assert ray_executor.wants_gpu(None, gpus=2)
    assert not ray_executor.wants_gpu(None, gpus=0)
    assert not ray_executor.wants_gpu("cpu", gpus=8)
    assert ray_executor.wants_gpu("gpu", gpus=1)
    assert not ray_executor.wants_gpu("gpu", gpus=0)  # Triton's interpreter, where enabled
    with pytest.raises(PragmaError, match="has none"):
        ray_executor.wants_gpu("triton-cuda", gpus=0)
    with pytest.raises(PragmaError, match="unknown target"):
        ray_executor.wants_gpu("tpu", gpus=0)


@pytest.fixture
def local_ray():
    ray = pytest.importorskip("ray")

    def brief_timing():  # every Ray worker's loop times briefly, as conftest's brief_timing
        import functools

        from pragma_kernels import api

        api.LocalEvaluator = functools.partial(api.LocalEvaluator, timing_budget_s=0.05)

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"worker_process_setup_hook": brief_timing},
    )
    yield ray
    ray.shutdown()


def _records(bench_dir: Path) -> tuple[list, list]:
    """What must not depend on the executor: no timings, no run directory."""
    with sqlite3.connect(bench_dir / STORE) as db:
        runs = db.execute(
            "SELECT problem, mode, status, attempts, first_correct, best_attempt IS NOT NULL,"
            " error FROM runs ORDER BY problem, mode"
        ).fetchall()
        attempts = db.execute(
            "SELECT problem, mode, number, kind, ok, compiled FROM attempts"
            " ORDER BY problem, mode, number"
        ).fetchall()
    return runs, attempts


@pytest.mark.slow
def test_ray_bench_gives_the_local_benchs_records(tmp_path, local_ray, brief_timing):
    problems = collect([*PROBLEMS, UNSUPPORTED])
    local = run_bench(problems, ["offline"], tmp_path / "local", OPTIONS, LocalExecutor(jobs=2))
    executor = ray_executor.RayExecutor(None, jobs=3)
    remote = run_bench(problems, ["offline"], tmp_path / "ray", OPTIONS, executor)

    assert _records(tmp_path / "ray") == _records(tmp_path / "local")
    runs, attempts = _records(tmp_path / "ray")
    assert [(r[0], r[2], r[3]) for r in runs] == [
        ("qr_unsupported", "unsupported", 0),
        ("relu", "done", 2),
        ("softmax", "done", 2),
    ]
    assert all(kind == "ok" for *_, kind, ok, compiled in attempts) and len(attempts) == 4
    assert remote.pairs_run == local.pairs_run == 3
    # Every attempt was profiled in the actor as it was here (in Ray's workers, which block
    # SIGINT, perf stat once hung until its timeout and the profile was lost).
    for bench in ("local", "ray"):
        records = sorted((tmp_path / bench / "runs").glob("*/attempts/*.json"))
        assert len(records) == 4
        assert all(json.loads(record.read_text())["profile"] for record in records), bench
    # The actor's seconds: the bench's lease and each run's device seconds.
    assert remote.device_s > 0
    with sqlite3.connect(tmp_path / "ray" / STORE) as db:
        device = dict(db.execute("SELECT problem, device_s FROM runs").fetchall())
    assert device["relu"] > 0 and device["softmax"] > 0 and device["qr_unsupported"] == 0
    assert sum(device.values()) <= remote.device_s + 0.05
    # Each loop ran on the Ray side, into its own run directory under the bench.
    assert (tmp_path / "ray" / "runs" / "relu-offline" / "run.json").exists()


@pytest.mark.slow
def test_a_finished_ray_bench_resumes_with_nothing_to_run(tmp_path, local_ray, brief_timing):
    problems = collect([UNSUPPORTED])
    executor = ray_executor.RayExecutor(None, jobs=1)
    first = run_bench(problems, ["offline"], tmp_path, OPTIONS, executor)
    again = run_bench(problems, ["offline"], tmp_path, OPTIONS, executor)
    assert (first.pairs_run, again.pairs_run, again.pairs_skipped) == (1, 0, 1)
