"""CPU profiles: the schema, and `profile` on every hand-written CPU solution (no PMU here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pragma_kernels.cli import app
from pragma_kernels.evaluation import profile_candidate
from pragma_kernels.profilers.schema import (
    KernelProfile,
    Metric,
    Profile,
    Unavailable,
    UnavailableKind,
)
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = ROOT / "examples" / "solutions" / "cpu"
SOLUTIONS = sorted(SOLUTIONS_DIR.glob("*.py"))


CACHEGRIND = {"profiler": "cachegrind", "source": "cachegrind"}
NO_PMU = Unavailable(
    what="top-down level 1 (perf)",
    why="no PMU",
    kind=UnavailableKind.NO_COUNTERS,
    profiler="perf",
)


def test_profile_json_round_trip_aggregate_and_text():
    profile = Profile(
        tools=["cachegrind"],
        target="cpu",
        kernels=[
            KernelProfile(
                name="a",
                time_share=0.75,
                metrics=[
                    Metric(name="Ir", value=300, unit="count", **CACHEGRIND),
                    Metric(name="D1_miss_rate", value=0.1, unit="ratio", **CACHEGRIND),
                ],
            ),
            KernelProfile(
                name="b",
                time_share=0.25,
                metrics=[
                    Metric(name="Ir", value=100, unit="count", **CACHEGRIND),
                    Metric(name="D1_miss_rate", value=0.5, unit="ratio", **CACHEGRIND),
                ],
            ),
        ],
        unavailable=[NO_PMU.model_copy(update={"what": "top-down (perf)"})],
    )
    assert Profile.model_validate_json(profile.model_dump_json()) == profile
    assert profile.metric("Ir").value == 400  # counts add up
    assert abs(profile.metric("D1_miss_rate").value - 0.2) < 1e-12  # rates weighted by time
    text = profile.render_text()
    assert "Kernel a (75% of kernel time)" in text and "Ir = 300 count [cachegrind]" in text
    assert "Not collected:\n  top-down (perf): no PMU" in text


@pytest.mark.slow
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_profile_of_each_cpu_solution_has_cachegrind_vectorisation_and_roofline(solution):
    problem = ROOT / "examples" / "problems" / solution.name
    # tiny: the same kernels and profilers, without CPU-size inputs and reference runs
    verdict, profile = profile_candidate(problem, solution, Target.cpu(), size="tiny")
    assert verdict.ok and profile is not None, verdict.model_dump_json(indent=1)
    assert {"cachegrind", "static_cpu", "perf"} <= profile.profilers(), profile.render_text()
    assert profile.metric("vectorised_loops").profiler == "static_cpu"
    assert profile.metric("Ir").value > 0 and profile.metric("roofline_fraction").value > 0
    assert all(m.meaning for m in profile.all_metrics() if m.name in ("Ir", "time_ms"))
    perf_stopped = profile.stopped("perf")  # no PMU on this CI machine: stated, with the reason
    assert perf_stopped and perf_stopped.kind is UnavailableKind.NO_COUNTERS and perf_stopped.why


def profile_softsign(*options: str):
    """`pragma profile` on the softsign example and its hand-written solution."""
    return CliRunner().invoke(
        app,
        [
            "profile",
            str(ROOT / "examples" / "problems" / "softsign.py"),
            str(SOLUTIONS_DIR / "softsign.py"),
            *options,
        ],
    )


@pytest.mark.slow
def test_cli_profile_json():
    result = profile_softsign("--json", "--no-check", "--size", "tiny")
    assert result.exit_code == 0, result.stdout
    profile = json.loads(result.stdout)
    assert profile["target"] == "cpu" and profile["kernels"][0]["name"] == "softsign"


def test_unknown_metric_is_refused_with_the_closest_names():
    from pragma_kernels.errors import PragmaError
    from pragma_kernels.profilers.requests import validate

    known = {"D1mr", "DLmr", "I1mr", "Ir", "cycles"}
    assert validate(["D1mr"], "cpu", known) == ["D1mr"]
    with pytest.raises(PragmaError, match=r"unknown metric 'D1mrr' \(did you mean D1mr"):
        validate(["D1mrr"], "cpu", known)


def test_requested_metric_that_cannot_be_collected_is_stated_with_the_reason():
    from pragma_kernels.profilers.requests import account_for

    profile = Profile(
        tools=["cachegrind"],
        target="cpu",
        metrics=[Metric(name="Ir", value=1, **CACHEGRIND)],
        unavailable=[NO_PMU],
    )
    account_for(profile, ["Ir", "topdown-be-bound"])
    stated = [u for u in profile.unavailable if u.what.startswith("topdown-be-bound")]
    assert stated and stated[0].why == "no PMU"
    assert stated[0].kind is UnavailableKind.NO_COUNTERS and stated[0].profiler == "perf"
    assert not any(u.what.startswith("Ir") for u in profile.unavailable)


def test_cli_profile_refuses_an_unknown_metric():
    result = profile_softsign("--metrics", "branch_mispredict_rat")
    assert result.exit_code == 2 and "branch_mispredict_rate" in result.stderr


def test_gpu_metric_names_accept_ncu_base_names_with_suffixes():
    from pragma_kernels.errors import PragmaError
    from pragma_kernels.profilers.requests import validate

    known = {"dram__bytes_read", "sm__warps_active", "theoretical_occupancy"}  # --query-metrics
    assert validate(["dram__bytes_read.sum", "theoretical_occupancy"], "gpu", known)
    with pytest.raises(PragmaError, match=r"did you mean dram__bytes_read"):
        validate(["dram__byte_read.sum"], "gpu", known)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("dram__bytes_read.sum", True),
        ("dram__bytes_read.sum.per_second", True),
        ("sm__warps_active.avg.pct_of_peak_sustained_active", True),
        ("sm__warps_active.avg.pct_of_peek", False),  # a typo in the suffix
        ("dram__bytes_red.sum", False),
    ],
)
def test_ncu_names_need_a_known_base_and_a_valid_rollup(name, ok):
    from pragma_kernels.profilers.requests import is_known

    assert is_known(name, {"dram__bytes_read", "sm__warps_active"}) is ok


@pytest.mark.slow
def test_cli_profile_diagnose_prints_the_bottleneck_with_its_evidence():
    result = profile_softsign("--diagnose", "--size", "tiny", "--no-check")
    assert result.exit_code == 0, result.output
    assert "Bottleneck:" in result.stdout and "Evidence:" in result.stdout
    as_json = json.loads(profile_softsign("--diagnose", "--size", "tiny", "--json").stdout)
    assert as_json["profile"]["target"] == "cpu"
    assert as_json["diagnosis"]["bottleneck"] and "confidence" in as_json["diagnosis"]


def test_cpu_workers_run_with_the_timers_memory_settings(tmp_path):
    """The profiled loop must see what the timer sees: freed memory kept, no page fault per
    call on a fresh output (which swamped every counter before). Every CPU worker starts
    with the protocol's environment: the candidate reads it in the worker."""
    from pragma_kernels.evaluation import VerifyOptions, verify
    from pragma_kernels.timing import Protocol

    wanted = Protocol().environment()["GLIBC_TUNABLES"]
    candidate = tmp_path / "candidate.py"
    candidate.write_text(
        "import os\nimport torch\n\n\n"
        "class ModelNew(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        f"        seen = os.environ.get('GLIBC_TUNABLES')\n"
        f"        assert seen == {wanted!r}, seen\n"
        "        return torch.relu(x)\n"
    )
    problem = Path(__file__).parent / "fixtures" / "problems" / "tiny_relu.py"
    options = VerifyOptions(trials=1, allow=("torch-compute", "no-kernel"))  # torch.relu
    verdict = verify(problem, candidate, Target.cpu(threads=1), options)
    assert verdict.ok, verdict.summary()
