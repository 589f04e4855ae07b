"""Nsight Compute output parsing (pure; the GPU run itself is in tests/gpu)."""

import pytest

from pragma_kernels.profilers import gpu_ncu
from pragma_kernels.profilers.ncu import (
    LAUNCH_COUNT,
    NVTX_RANGE,
    LaunchSampler,
    group_launches,
    import_commands,
    parse_query_metrics,
    parse_raw_csv,
    parse_rule_findings,
    profile_command,
    profiled_in_log,
    refusal,
    tally_launches,
)
from pragma_kernels.profilers.schema import Metric, Profile, UnavailableKind

# Shaped like the H200 probe's output: program output and ==PROF== lines first, units in
# row 2, thousands separators, one row per launch.
RAW = """result 0.123
==PROF== Connected to process 4242
==PROF== Profiling "softmax_kernel": 0%....50%....100% - 10 passes
"ID","Process ID","Process Name","Host Name","Kernel Name","gpu__time_duration.sum",\
"dram__bytes_read.sum","sm__warps_active.avg.pct_of_peak_sustained_active",\
"launch__registers_per_thread"
"","","","","","usecond","Mbyte","%","register/thread"
"0","4242","python3","h","softmax_kernel","36.35","1,398.40","61.2","54"
"1","4242","python3","h","scale_kernel","12.12","67.10","80.0","32"
"""

RULES = """    Section: GPU Speed Of Light Throughput
    ----------------------- ----------- ------------
    DRAM Throughput                   %        78.21
    ----------------------- ----------- ------------

    OPT   Memory is more heavily utilized than Compute: Look at the Memory Workload Analysis
          section to identify the DRAM bottleneck. Est. Speedup: 25%
    INF   The kernel uses 54 registers per thread.

    Section: Occupancy
"""


def test_raw_csv_per_launch_with_units_normalised_and_time_shares():
    kernels = parse_raw_csv(RAW)
    assert [k.name for k in kernels] == ["softmax_kernel", "scale_kernel"]
    first = {m.name: m for m in kernels[0].metrics}
    assert first["gpu__time_duration.sum"].value == 36350.0
    assert first["gpu__time_duration.sum"].unit == "ns"
    assert first["dram__bytes_read.sum"].value == 1398.4e6
    assert first["launch__registers_per_thread"].value == 54
    assert abs(kernels[0].time_share - 36.35 / 48.47) < 1e-9
    assert all(m.profiler == "ncu" and m.source == "ncu" for m in kernels[0].metrics)


def test_only_the_requested_metrics_are_kept():
    kernels = parse_raw_csv(RAW, keep={"gpu__time_duration.sum", "dram__bytes_read.sum"})
    assert [m.name for m in kernels[0].metrics] == [
        "gpu__time_duration.sum",
        "dram__bytes_read.sum",
    ]
    assert abs(kernels[0].time_share - 36.35 / 48.47) < 1e-9


def test_no_table_gives_no_kernels():
    assert parse_raw_csv("==PROF== No kernels were profiled.") == []


def test_rule_findings_with_continuations_and_estimated_speedup():
    findings = parse_rule_findings(RULES)
    assert [f.severity for f in findings] == ["OPT", "INF"]
    assert findings[0].estimated_speedup_pct == 25.0
    assert "identify the DRAM bottleneck" in findings[0].message
    assert "Est." not in findings[0].message
    assert findings[1].estimated_speedup_pct is None


def test_findings_name_their_kernel_and_a_tiny_kernels_advice_is_left_out():
    details = (
        "  gemv_kernel (4096, 1, 1)x(256, 1, 1), Context 1, Stream 7, Device 0, CC 9.0\n"
        + RULES
        + "  reduce_kernel (16, 1, 1)x(128, 1, 1), Context 1, Stream 7, Device 0, CC 9.0\n"
        "    OPT   The grid for this launch is configured to execute only 16 blocks.\n"
        "          Est. Speedup: 87.88%\n"
    )
    findings = parse_rule_findings(details)
    assert [f.kernel for f in findings] == ["gemv_kernel", "gemv_kernel", "reduce_kernel"]
    assert findings[0].render().startswith("OPT [gemv_kernel]: Memory is more heavily")
    rows = parse_raw_csv(
        '"ID","Kernel Name","gpu__time_duration.sum"\n"","","nsecond"\n'
        '"0","gemv_kernel","1861000"\n"1","reduce_kernel","2656"\n'
    )
    assert [round(k.time_share, 3) for k in rows] == [0.999, 0.001]
    profile = Profile(target="gpu", tools=["gpu fallback"])
    kept = gpu_ncu.merge(profile, rows, findings).findings
    assert [f.kernel for f in kept] == ["gemv_kernel", "gemv_kernel"]


def test_dram_traffic_is_compared_with_the_bytes_the_operator_must_move():
    # The hand-answered H200 softmax: 12.31 GB read + 6.42 GB written for 12.88 GB of tensors.
    rows = parse_raw_csv(
        '"ID","Kernel Name","gpu__time_duration.sum","dram__bytes_read.sum",'
        '"dram__bytes_write.sum"\n"","","nsecond","byte","byte"\n'
        '"0","softmax_kernel","4603000","12310000000","6417000000"\n'
    )
    profile = Profile(
        target="gpu",
        tools=["gpu fallback"],
        metrics=[Metric(name="operator_bytes", value=12.884e9, profiler="ncu", source="t")],
    )
    ratio = gpu_ncu.merge(profile, rows, []).metric("dram_traffic_over_minimum")
    assert ratio is not None and round(ratio.value, 2) == 1.45


def test_command_profiles_only_the_candidates_nvtx_range_into_a_report(tmp_path):
    report = tmp_path / "candidate"
    command = profile_command("ncu", report, ["gpu__time_duration.sum", "dram__bytes_read.sum"])
    assert command[:6] == [
        "ncu",
        "--target-processes",
        "all",
        "--nvtx",
        "--nvtx-include",
        f"{NVTX_RANGE}/",
    ]
    assert command[command.index("--metrics") + 1] == "gpu__time_duration.sum,dram__bytes_read.sum"
    assert command[command.index("--export") + 1] == str(report)
    assert command[command.index("--launch-count") + 1] == str(LAUNCH_COUNT)
    assert "--csv" not in command  # read back from the report, never mixed with program output
    raw, details = import_commands("ncu", report)
    assert raw[raw.index("--page") + 1] == "raw" and "--csv" in raw
    assert details[details.index("--page") + 1] == "details"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "==ERROR== Failed to initialize the profiler: LibraryNotLoaded",
            (UnavailableKind.NO_COUNTERS, "profiling library"),
        ),
        (
            "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission",
            (UnavailableKind.NO_COUNTERS, "refuses access"),
        ),
        (
            "==WARNING== No kernels were profiled.",
            (UnavailableKind.NOTHING_TO_PROFILE, "no kernel was launched"),
        ),
        ("==PROF== Disconnected from process 1", None),
    ],
)
def test_refusals_are_explained(output, expected):
    found = refusal(output)
    assert (
        found is None if expected is None else (found[0] is expected[0] and expected[1] in found[1])
    )


def test_query_metrics_names():
    text = (
        "Device NVIDIA H200 (GH100)\n---\nMetric Name    Metric Description\n"
        "dram__bytes_read  # of bytes read from DRAM\n"
        "sm__warps_active  # of warps active\n"
    )
    assert parse_query_metrics(text) == {"dram__bytes_read", "sm__warps_active"}


def test_sampler_keeps_the_first_launches_of_each_kernel_up_to_the_cap():
    sampler = LaunchSampler(per_kernel=2, limit=5)
    kept = [sampler.keep(name) for name in ["a", "a", "a", "b", "a", "b", "b", "c", "d", "e"]]
    assert kept == [True, True, False, True, False, True, False, True, False, False]
    assert sampler.seen == {"a": 4, "b": 3, "c": 1, "d": 1, "e": 1}
    assert sampler.kept.total() == 5


def test_sampler_bounds_a_call_of_32768_launches():
    sampler = LaunchSampler()
    kept = sum(sampler.keep("small_kernel") for _ in range(32768))
    assert kept == 2 and sampler.seen["small_kernel"] == 32768


def test_launches_profiled_so_far_from_the_log():
    log = (
        "==PROF== Connected to process 4242\n"
        '==PROF== Profiling "softmax_kernel": 0%....50%....100% - 10 passes\n'
        '==PROF== Profiling "scale_kernel": 0%....50%\n'
    )
    assert profiled_in_log(log) == 2
    assert profiled_in_log("") == 0


def test_grouped_launches_say_what_each_figure_stands_for():
    rows = parse_raw_csv(RAW.replace('"scale_kernel"', '"softmax_kernel"'))
    tallies = tally_launches(rows, {"softmax_kernel": 10}, capped=False)
    assert tallies["softmax_kernel"].profiled == 2 and tallies["softmax_kernel"].sampled
    (kernel,) = group_launches(rows, tallies)
    values = {m.name: m for m in kernel.metrics}
    time = values["gpu__time_duration.sum"]
    assert time.value == pytest.approx((36350 + 12120) / 2 * 10)
    assert time.source == "ncu: total per call scaled from the profiled 2 of 10 launches"
    bytes_read = values["dram__bytes_read.sum"]
    assert bytes_read.value == pytest.approx((1398.4e6 + 67.1e6) / 2 * 10)
    registers = values["launch__registers_per_thread"]
    assert registers.value == 43 and registers.source.startswith("ncu: mean over the profiled")
    assert values["ncu_profiled_launches"].value == 2
    assert kernel.time_share == 1.0


def test_kernels_no_hook_counted_are_complete_unless_the_cap_was_hit():
    rows = parse_raw_csv(RAW)
    assert not tally_launches(rows, {}, capped=False)["scale_kernel"].sampled
    capped = tally_launches(rows, {}, capped=True)["scale_kernel"]
    assert capped.launches is None and capped.sampled
