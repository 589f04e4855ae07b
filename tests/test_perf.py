"""perf, counted only around the kernel loop through its control FIFO."""

import shutil

import pytest

from pragma_kernels.profilers.perf import (
    count_around,
    metrics_from_counts,
    parse_perf_csv,
    parse_perf_list,
    parse_topdown_csv,
    topdown_group,
)
from pragma_kernels.profilers.schema import UnavailableKind

CSV = """# started on Sun Nov 29 09:01:42 2026

102.51,msec,task-clock,102507971,100.00,0.355,CPUs utilized
19654,,page-faults,102507971,100.00,191.731,K/sec
<not supported>,,instructions,0,100.00,,
<not supported>,,cycles,0,100.00,,
"""


def test_parse_perf_csv_keeps_counts_and_reasons():
    counts = parse_perf_csv(CSV)
    assert counts == {
        "task-clock": 102.51,
        "page-faults": 19654.0,
        "instructions": "not supported",
        "cycles": "not supported",
    }


def test_perf_list_event_names():
    listing = (
        "List of pre-defined events (to be used in -e or -M):\n\n"
        "  branch-misses                                      [Hardware event]\n"
        "  task-clock                                         [Software event]\n"
        "  L1-dcache-load-misses                              [Hardware cache event]\n"
        "  msr/tsc/                                           [Kernel PMU event]\n"
    )
    assert parse_perf_list(listing) == {
        "branch-misses",
        "task-clock",
        "L1-dcache-load-misses",
        "msr/tsc/",
    }


def test_per_call_metrics_ipc_and_grouped_reasons():
    metrics, missing = metrics_from_counts(parse_perf_csv(CSV), calls=2)
    values = {m.name: m.value for m in metrics}
    assert values == {"task-clock": 51.255, "page-faults": 9827.0}
    assert len(missing) == 1 and missing[0].what == "instructions, cycles (perf)"
    assert missing[0].kind is UnavailableKind.NO_COUNTERS and missing[0].profiler == "perf"
    assert {m.profiler for m in metrics} == {"perf"}
    with_pmu, _ = metrics_from_counts({"instructions": 300.0, "cycles": 100.0}, calls=1)
    assert {m.name: m.value for m in with_pmu}["ipc"] == 3.0


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf not installed")
def test_counts_the_work_done_inside_the_window():
    def work():
        sum(i * i for i in range(300_000))

    metrics, _ = count_around(work, calls=1, events=("task-clock",))
    busy = {m.name: m.value for m in metrics}["task-clock"]
    assert busy > 1.0  # milliseconds of this process's CPU time, only around work()


# `perf stat -x, -M TopdownL1` on an Intel core: metric values in the 6th field, their unit
# and name in the 7th, on an event's line or on a line of their own.
TOPDOWN_INTEL = """# started on Sun Nov 29 10:00:00 2026

5081230510,,cpu_core/TOPDOWN.SLOTS/,1002003,100.00,24.9,%  tma_retiring
1210000000,,cpu_core/topdown-retiring/,1002003,100.00,,
,,,,,8.1,%  tma_bad_speculation
,,,,,30.2,%  tma_frontend_bound
,,,,,36.8,%  tma_backend_bound
,,,,,12.3,%  tma_memory_bound
"""
# AMD Zen 4, -M PipelineL1: names without the tma_ prefix.
TOPDOWN_AMD = """3000,,de_no_dispatch_per_slot.no_ops_from_frontend,1000,100,21.5,%  frontend_bound
,,,,,4.0,%  bad_speculation
,,,,,40.5,%  backend_bound
,,,,,34.0,%  retiring
"""


@pytest.mark.parametrize("text", [TOPDOWN_INTEL, TOPDOWN_AMD])
def test_topdown_level_one_from_perf_metric_columns(text):
    shares = parse_topdown_csv(text)
    assert set(shares) == {
        "topdown-retiring",
        "topdown-bad-spec",
        "topdown-fe-bound",
        "topdown-be-bound",
    }  # level 2 (tma_memory_bound) is not level 1
    assert 99 <= sum(shares.values()) <= 101


def test_topdown_group_is_chosen_from_perf_list():
    assert topdown_group("Metric Groups:\n\nBackend\nTopdownL1\nTopdownL2\n") == "TopdownL1"
    assert topdown_group("Metric Groups:\n\nPipelineL1\nPipelineL2\n") == "PipelineL1"
    assert topdown_group("Metric Groups:\n\n") is None
