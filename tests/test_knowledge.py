"""The metric compendium: the shipped file is complete and valid; bad files fail clearly."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from pragma_kernels import knowledge
from pragma_kernels.diagnosis.classes import CPU_CLASSES, GPU_CLASSES, Bottleneck
from pragma_kernels.errors import PragmaError
from pragma_kernels.knowledge import Compendium, MetricDoc, load_compendium
from pragma_kernels.knowledge.compendium import (
    PROFILERS,
    REVEALABLE,
    CompendiumError,
    parse_compendium,
)
from pragma_kernels.profilers.ncu import DEFAULT_METRICS

REQUIRED: dict[str, tuple[str, ...]] = {
    # Every metric the ncu adapter collects by default, plus the common extras.
    "ncu": (
        *DEFAULT_METRICS,
        "smsp__average_warp_latency_issue_stalled_mio_throttle",
        "smsp__average_warp_latency_issue_stalled_math_pipe_throttle",
        "smsp__thread_inst_executed_per_inst_executed.ratio",
        "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum",
        "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
        "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",
    ),
    "perf": (
        "instructions",
        "cycles",
        "ipc",
        "branch-misses",
        "branches",
        "cache-misses",
        "cache-references",
        "L1-dcache-load-misses",
        "LLC-load-misses",
        "topdown-retiring",
        "topdown-fe-bound",
        "topdown-be-bound",
        "topdown-bad-spec",
        "task-clock",
        "context-switches",
        "page-faults",
    ),
    "cachegrind": (
        "Ir",
        "I1mr",
        "ILmr",
        "Dr",
        "Dw",
        "D1mr",
        "D1mw",
        "DLmr",
        "DLmw",
        "Bc",
        "Bcm",
        "Bi",
        "Bim",
        "D1_miss_rate",
        "LL_miss_rate",
        "branch_mispredict_rate",
    ),
    "static_cpu": (
        "vectorised_loops",
        "missed_vectorisation_loops",
        "packed_simd_fraction",
        "max_vector_width_bits",
        "scalar_fp_instructions",
        "thread_scaling",
        "parallel_efficiency",
        "achieved_gflops",
        "achieved_dram_gbps",
        "roofline_fraction",
        "arithmetic_intensity",
    ),
    "gpu_fallback": (
        "kernel_time_ms",
        "n_regs",
        "n_spills",
        "shared_mem_bytes",
        "num_warps",
        "num_stages",
        "theoretical_occupancy",
        "occupancy_limiter",
        "achieved_dram_gbps",
        "dram_roofline_fraction",
        "achieved_tflops",
        "compute_roofline_fraction",
        "arithmetic_intensity",
        "grid_size",
        "waves",
    ),
}


def _entry(**overrides) -> dict:
    entry = {
        "name": "dram__bytes_read.sum",
        "profiler": "ncu",
        "unit": "bytes",
        "measures": "Bytes read from DRAM.",
        "how": "Sum of DRAM read sectors.",
        "high_means": "Data is re-read.",
        "low_means": "Inputs hit in L2.",
        "reveals": ["memory_bandwidth_bound"],
        "remedies": ["Fuse ops so each tensor is read once"],
    }
    entry.update(overrides)
    return entry


def _write(tmp_path, metrics) -> str:
    path = tmp_path / "compendium.json"
    path.write_text(json.dumps({"version": 1, "metrics": metrics}))
    return str(path)


@pytest.fixture(scope="module")
def shipped() -> Compendium:
    return load_compendium()


def test_exports_are_pinned():
    assert sorted(knowledge.__all__) == ["Compendium", "MetricDoc", "load_compendium"]


def test_shipped_file_is_package_data_and_every_entry_validates(shipped):
    raw = json.loads(
        (resources.files("pragma_kernels.knowledge") / "compendium.json").read_text("utf-8")
    )
    assert len(raw["metrics"]) == len(shipped) > 0
    for item in raw["metrics"]:
        MetricDoc.model_validate(item)


def test_default_load_is_cached(shipped):
    assert load_compendium() is shipped


def test_no_duplicates_even_ignoring_case(shipped):
    keys = [(doc.profiler, doc.name.casefold()) for doc in shipped.metrics]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("profiler", PROFILERS)
def test_every_required_metric_is_documented(shipped, profiler):
    missing = [name for name in REQUIRED[profiler] if shipped.get(profiler, name) is None]
    assert missing == []
    assert set(REQUIRED[profiler]) <= set(shipped.names(profiler))


@pytest.mark.parametrize("bottleneck", REVEALABLE)
def test_every_bottleneck_class_is_revealed_by_some_metric(shipped, bottleneck):
    assert shipped.revealing(bottleneck)


def test_bottlenecks_come_from_the_right_side(shipped):
    for doc in shipped.metrics:
        side = GPU_CLASSES if doc.profiler in ("ncu", "gpu_fallback") else CPU_CLASSES
        assert set(doc.reveals) <= set(side), doc.name


def test_reveals_are_the_diagnosis_classes(shipped):
    assert set(REVEALABLE) == set(Bottleneck) - {Bottleneck.NONE_FOUND}
    assert all(isinstance(b, Bottleneck) for doc in shipped.metrics for b in doc.reveals)
    assert shipped.revealing(Bottleneck.MEMORY_BANDWIDTH)


@pytest.mark.parametrize("name", ["memory_bound", "no_clear_bottleneck"])
def test_a_reveal_outside_the_diagnosis_classes_fails_loading_naming_the_entry(tmp_path, name):
    """The compendium's old vocabulary ("memory_bound") and the class no metric can reveal."""
    path = _write(tmp_path, [_entry(), _entry(name="dram__bytes_write.sum", reveals=[name])])
    with pytest.raises(CompendiumError) as info:
        load_compendium(path)
    message = str(info.value)
    assert "metrics[1] ('dram__bytes_write.sum')" in message
    assert f"unknown bottleneck {name!r}" in message and "memory_bandwidth_bound" in message


def test_texts_are_short_and_ascii(shipped):
    for doc in shipped.metrics:
        for text in (doc.measures, doc.how, doc.high_means, doc.low_means):
            assert len(text) <= 200 and text.isascii(), doc.name
        assert 1 <= len(doc.remedies) <= 4, doc.name
        assert all(len(r) <= 120 and r.isascii() for r in doc.remedies), doc.name


def test_get_matches_exactly_then_ignoring_case(shipped):
    exact = shipped.get("cachegrind", "D1mr")
    assert exact is not None and exact.name == "D1mr"
    assert shipped.get("perf", "llc-load-misses").name == "LLC-load-misses"
    assert shipped.get("perf", "Ir") is None  # profiler must match
    assert shipped.get("ncu", "no_such_metric") is None


def test_meaning_renders_one_line(shipped):
    line = shipped.meaning("ncu", "dram__throughput.avg.pct_of_peak_sustained_elapsed")
    assert line.startswith("measures DRAM")
    assert "; high: " in line and "; low: " in line and "\n" not in line
    assert shipped.meaning("perf", "IPC").startswith("measures instructions retired")
    assert shipped.meaning("perf", "unknown-event") == ""
    assert shipped.meaning("nsys", "gpu__time_duration.sum") == ""


def test_every_metric_has_a_meaning(shipped):
    for doc in shipped.metrics:
        assert shipped.meaning(doc.profiler, doc.name), doc.name


def test_custom_file_loads(tmp_path):
    comp = load_compendium(_write(tmp_path, [_entry(), _entry(name="Ir", profiler="cachegrind")]))
    assert comp.names("ncu") == ["dram__bytes_read.sum"]
    assert comp.names("cachegrind") == ["Ir"]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"reveals": ["compute_bound", "slow_kernel"]}, "unknown bottleneck 'slow_kernel'"),
        ({"profiler": "nvprof"}, "profiler"),
        ({"remedies": []}, "remedies"),
        ({"remedies": ["x" * 121]}, "remedies.0"),
        ({"measures": "y" * 201}, "measures"),
        ({"high": "typo for high_means"}, "high"),
    ],
)
def test_malformed_entry_names_file_and_entry(tmp_path, bad, expected):
    path = _write(tmp_path, [_entry(), _entry(name="dram__bytes_write.sum", **bad)])
    with pytest.raises(CompendiumError) as info:
        load_compendium(path)
    message = str(info.value)
    assert path in message
    assert "metrics[1] ('dram__bytes_write.sum')" in message
    assert expected in message
    assert isinstance(info.value, PragmaError)


def test_missing_field_is_reported(tmp_path):
    entry = _entry()
    del entry["how"]
    with pytest.raises(CompendiumError, match=r"metrics\[0\].*how: Field required"):
        load_compendium(_write(tmp_path, [entry]))


def test_duplicate_entry_is_reported(tmp_path):
    path = _write(tmp_path, [_entry(), _entry(unit="B")])
    with pytest.raises(CompendiumError, match=r"metrics\[1\].*duplicate of metrics\[0\]"):
        load_compendium(path)


def test_invalid_json_and_wrong_shape(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"metrics": [')
    with pytest.raises(CompendiumError, match=r"broken\.json: invalid JSON at line 1"):
        load_compendium(path)
    with pytest.raises(CompendiumError, match="metrics"):
        parse_compendium("[]", "inline")
    with pytest.raises(CompendiumError, match="cannot read"):
        load_compendium(tmp_path / "absent.json")


def test_error_pickles(tmp_path):
    import pickle

    error = CompendiumError("f.json", "bad", "metrics[0]")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error)
