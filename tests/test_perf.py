"""perf, counted only around the kernel loop through its control FIFO."""

import shutil

import pytest

from pragma_kernels.profilers.perf import count_around, metrics_from_counts, parse_perf_csv

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


def test_per_call_metrics_ipc_and_grouped_reasons():
    metrics, missing = metrics_from_counts(parse_perf_csv(CSV), calls=2)
    values = {m.name: m.value for m in metrics}
    assert values == {"task-clock": 51.255, "page-faults": 9827.0}
    assert len(missing) == 1 and missing[0].what == "instructions, cycles (perf)"
    with_pmu, _ = metrics_from_counts({"instructions": 300.0, "cycles": 100.0}, calls=1)
    assert {m.name: m.value for m in with_pmu}["ipc"] == 3.0


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf not installed")
def test_counts_the_work_done_inside_the_window():
    def work():
        sum(i * i for i in range(300_000))

    metrics, _ = count_around(work, calls=1, events=("task-clock",))
    busy = {m.name: m.value for m in metrics}["task-clock"]
    assert busy > 1.0  # milliseconds of this process's CPU time, only around work()
