"""The dtype a problem is evaluated in: by default its own (what get_inputs() and Model make,
nothing cast); `--dtype NAME` casts floating inputs and weights, as KernelBench does.

The float16 problem is written into tmp_path; its candidates are C++ in the style of
test_verify_failures.py: one computes in float16 (raw half bits through `uint16_t*`), one
is a float32 kernel that returns float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pragma_kernels.agents.records import RunDir, RunSettings
from pragma_kernels.api import backend_text
from pragma_kernels.cli import EXIT_BAD_INPUT, EXIT_OK, app
from pragma_kernels.compare import compared_dtype
from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluation import VerifyOptions, jobs, verify
from pragma_kernels.evaluation.baselines import BaselineCache
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.evaluation.jobs import AttemptOptions, run_attempt
from pragma_kernels.evaluation.schema import JobResult
from pragma_kernels.problems import describe_inputs, input_dtype
from pragma_kernels.targets import Target
from pragma_kernels.timing import Timing
from pragma_kernels.verdict import Verdict, VerdictKind

PROBLEM = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn(4, 1024, dtype=torch.float16)]


def get_init_inputs():
    return []
"""

HALF = '''
import torch
import torch.nn as nn
from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
// ReLU on float16 bits: a set sign bit gives +0, anything else passes through.
extern "C" void relu_half(const uint16_t* x, uint16_t* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] & 0x8000u) ? 0 : x[i];
}
"""
lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        lib.relu_half(x, out, x.numel())
        return out
'''

FLOAT = '''
import torch
import torch.nn as nn
from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0 ? x[i] : 0.0f;
}
"""
lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.to(torch.float32).contiguous()  # computes in float32 and never casts back
        out = torch.empty_like(x)
        lib.relu(x, out, x.numel())
        return out
'''

runner = CliRunner()


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    paths = {"problem": tmp_path / "relu_fp16.py"}
    paths["problem"].write_text(PROBLEM)
    for name, source in (("half", HALF), ("float", FLOAT)):
        paths[name] = tmp_path / f"{name}.py"
        paths[name].write_text(source)
    return paths


def check(files: dict[str, Path], candidate: str, dtype: str | None = None) -> Verdict:
    options = VerifyOptions(dtype=dtype, limits=Limits(timeout_s=120, memory_mb=4096))
    return verify(files["problem"], files[candidate], Target.cpu(threads=1), options)


def test_the_compared_dtype_is_the_coarsest_floating_output_else_input():
    half, single, bf16 = (
        torch.zeros(2, dtype=d) for d in (torch.half, torch.float, torch.bfloat16)
    )
    index = torch.zeros(2, dtype=torch.int64)
    assert compared_dtype([single, half]) == "float16"
    assert compared_dtype([half, bf16]) == "bfloat16"  # 8 mantissa bits against 11
    assert compared_dtype([index], [half]) == "float16"  # argmax: the inputs' dtype
    assert compared_dtype([index], [index]) == ""


@pytest.mark.slow
def test_an_fp16_problem_is_verified_in_float16_by_default(files):
    verdict = check(files, "half")
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert (verdict.dtype, verdict.dtype_cast) == ("float16", False)
    assert verdict.dtype_text() == "float16 (the problem's own)"
    assert (verdict.atol, verdict.rtol) == (1e-2, 1e-2)  # float16's default
    wrong = check(files, "float")
    assert wrong.kind == VerdictKind.DTYPE_MISMATCH, wrong.summary()
    assert "expected dtype torch.float16, got torch.float32" in wrong.message
    assert wrong.dtype == "float16"


@pytest.mark.slow
def test_dtype_float32_still_casts_inputs_and_weights(files):
    verdict = check(files, "float", "float32")
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert verdict.dtype_text() == "float32 (cast by --dtype)"
    # The half kernel now receives float32 tensors: the cast happened.
    half = check(files, "half", "float32")
    assert half.kind == VerdictKind.BAD_CALL and "float32" in half.message, half.summary()


def test_help_says_what_the_default_dtype_means():
    for command in ("verify", "time", "profile", "optimize"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == EXIT_OK
        assert "auto: the dtypes the problem's get_inputs() and Model make" in result.stdout
        assert "[default: auto]" in result.stdout


@pytest.mark.slow
def test_the_cli_reports_the_dtype_it_compared(files):
    common = ["--target", "cpu", "--threads", "1"]
    result = runner.invoke(app, ["verify", str(files["problem"]), str(files["half"]), *common])
    assert result.exit_code == EXIT_OK, result.stdout
    assert "dtype: float16 (the problem's own)" in result.stdout
    timed = runner.invoke(
        app,
        ["time", str(files["problem"]), "--baseline", "eager", "--budget", "0.1", "--json"]
        + common,
    )
    assert timed.exit_code == EXIT_OK, timed.stdout
    report = json.loads(timed.stdout)
    assert (report["dtype"], report["dtype_cast"]) == ("float16", False)
    bad = runner.invoke(app, ["verify", str(files["problem"]), str(files["half"]), "--dtype", "x"])
    assert bad.exit_code == EXIT_BAD_INPUT and "auto, float32" in bad.stderr


def test_the_baseline_cache_never_mixes_the_problems_own_dtype_with_a_cast(files, monkeypatch):
    """run_attempt's cache key, with a fake worker: each dtype setting gets its own entry."""
    jobs_seen = []

    def fake_worker(job, limits):
        jobs_seen.append(job)
        figure = Timing(label="eager", median_ms=1.0, iqr_ms=0.0, cv=0.01, mean_ms=1.0,
                        min_ms=1.0, samples=10, calls_per_sample=1)  # fmt: skip
        source = "cached" if job.cached_baselines else "measured"
        verdict = Verdict(ok=True, kind=VerdictKind.OK, dtype=job.dtype or "float16")
        timings = {"eager": figure, "candidate": figure}
        return JobResult(verdict=verdict, timings=timings, baseline_source=source, drift=0.0)

    monkeypatch.setattr(jobs, "run_isolated", fake_worker)
    cache = BaselineCache(files["problem"].parent / "cache")
    target = Target.cpu(threads=1)

    def attempt(dtype: str | None) -> str:
        options = AttemptOptions(dtype=dtype, profile=False, baseline_cache=cache)
        return run_attempt(files["problem"], files["half"], target, options).baseline_source

    assert [attempt(d) for d in (None, "float16", "float32", "auto")] == [
        "measured",
        "measured",
        "measured",
        "cached",  # "auto" is the default spelled out
    ]
    assert len(list(cache.folder.glob("*.json"))) == 3
    assert [(j.dtype, j.atol, j.rtol) for j in jobs_seen[:2]] == [
        (None, None, None),  # the worker takes the tolerance of the dtype it compares
        ("float16", None, None),
    ]


def test_prompts_state_the_problems_own_dtype_or_the_cast(files):
    target = Target.cpu(threads=1)
    assert input_dtype(files["problem"]) == "float16"
    assert "floating ones in float16 (the problem's own)" in backend_text(target, None, "float16")
    assert "floating ones in float32 (cast by --dtype)" in backend_text(
        target, "float32", "float16"
    )
    assert describe_inputs(files["problem"]) == "input 0: float16[4, 1024]"
    assert describe_inputs(files["problem"], cast="float32") == "input 0: float32[4, 1024]"


def test_a_run_resumes_only_in_the_dtype_it_was_started_in(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(RunSettings(problem="p.py", target="cpu", mode="offline", attempts=3))
    cast = RunSettings(problem="p.py", target="cpu", mode="offline", attempts=3, dtype="float32")
    with pytest.raises(PragmaError, match="--dtype auto"):
        run.start(cast)
    # A run written before the field cast to float32, and resumes as one.
    saved = json.loads((run.path / "run.json").read_text())
    del saved["dtype"]
    (run.path / "run.json").write_text(json.dumps(saved))
    run.start(cast)
