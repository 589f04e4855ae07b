"""The profiler registry, and the decisions that read `profiler` and `kind`, never prose.

The decision tests give each Unavailable a `why` (and `what`) unlike anything the code
writes: a decision still matching text would go the other way.
"""

from __future__ import annotations

import dataclasses
import os
from types import SimpleNamespace

import pytest

from pragma_kernels.diagnosis.signals import Signals
from pragma_kernels.knowledge.compendium import PROFILERS as COMPENDIUM_PROFILERS
from pragma_kernels.profilers import cpu, registry, requests
from pragma_kernels.profilers.meanings import attach_meanings
from pragma_kernels.profilers.schema import (
    PROFILER_NAMES,
    KernelProfile,
    Metric,
    Profile,
    Unavailable,
    UnavailableKind,
)

K = UnavailableKind


def unavailable(kind: K, profiler: str | None, what: str = "something", why: str = "wording"):
    return Unavailable(what=what, why=why, kind=kind, profiler=profiler)


def metric(name: str, profiler: str, source: str = "any text at all") -> Metric:
    return Metric(name=name, value=1.0, profiler=profiler, source=source)


@pytest.fixture
def fresh_caches(monkeypatch, tmp_path):
    """Empty in-process caches and a private disk cache, before and after."""
    monkeypatch.setenv("PRAGMA_CACHE_DIR", str(tmp_path / "cache"))
    caches = (
        registry.perf_event_names,
        registry.ncu_metric_names,
        registry._known_metric_names,
        requests._known_problem,
        requests._ordered,
    )
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


# -- the registry ------------------------------------------------------------------------------


def test_entries_are_the_compendiums_profilers_by_backend():
    assert set(registry.PROFILERS) == set(COMPENDIUM_PROFILERS) == set(PROFILER_NAMES)
    assert [p.name for p in registry.profilers_for("cpp-cpu")] == [
        "cachegrind",
        "static_cpu",
        "perf",
    ]
    assert [p.name for p in registry.profilers_for("triton-cuda")] == ["ncu", "gpu_fallback"]
    assert registry.profilers_for("triton-interpreter") == ()
    assert {p.name for p in registry.PROFILERS.values() if p.needs_counters} == {"perf", "ncu"}


def test_each_backend_has_at_most_one_tool_listing():
    """`owner` files a validated name outside the compendium under that one profiler."""
    for backend in registry.BACKENDS:
        listing = [p for p in registry.profilers_for(backend) if p.list_metrics is not None]
        assert len(listing) <= 1, backend


def test_old_target_names_map_to_backends():
    assert registry.backend_name("cpu") == "cpp-cpu"
    assert registry.backend_name("gpu") == "triton-cuda"
    assert registry.backend_name("triton-interpreter") == "triton-interpreter"
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        registry.backend_name("tpu")


def test_schema_refuses_a_profiler_the_registry_lacks():
    with pytest.raises(ValueError, match="'static'"):
        metric("time_ms", "static")
    with pytest.raises(ValueError, match="'nsys'"):
        unavailable(K.FAILED, "nsys")


def test_known_names_join_the_compendium_and_the_tools_listing(monkeypatch, fresh_caches):
    calls = []

    def listing() -> frozenset[str]:
        calls.append(1)
        return frozenset({"cpu/event=0x3c/", "cycles"})

    perf = dataclasses.replace(registry.PROFILERS["perf"], list_metrics=listing)
    monkeypatch.setitem(registry.PROFILERS, "perf", perf)
    names = registry.known_metric_names("cpp-cpu")
    assert {"D1mr", "vectorised_loops", "topdown-be-bound", "cpu/event=0x3c/"} <= names
    assert "dram__bytes_read.sum" not in names  # the GPU's
    assert registry.known_metric_names("cpu") is names  # the old name, the same cached set
    for _ in range(3):
        requests.validate(["D1mr", "cycles"], "cpu")
        with pytest.raises(Exception, match="did you mean D1mr"):
            requests.validate(["D1mrr"], "cpp-cpu")
    assert calls == [1]  # listed once, however often validated
    assert registry.known_metric_names("triton-interpreter") == frozenset()


def test_perf_list_is_cached_in_the_process_and_on_disk(monkeypatch, tmp_path, fresh_caches):
    tools, log = tmp_path / "bin", tmp_path / "runs"
    tools.mkdir()
    fake = tools / "perf"
    fake.write_text(
        f"#!/bin/sh\necho run >> {log}\nprintf '  cycles   [Hardware event]\\n"
        "  task-clock   [Software event]\\n'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(registry, "hardware_counters", lambda: True)
    assert registry.perf_event_names() == {"cycles", "task-clock"}
    assert registry.perf_event_names() == {"cycles", "task-clock"}
    assert log.read_text().count("run") == 1  # in-process cache
    registry.perf_event_names.cache_clear()  # a new process
    assert registry.perf_event_names() == {"cycles", "task-clock"}
    assert log.read_text().count("run") == 1  # read from the disk cache
    assert list((tmp_path / "cache" / "perf").iterdir())


def test_without_counters_only_software_events_are_offered(monkeypatch, tmp_path, fresh_caches):
    """A VM without a PMU: hardware events would only come back 'not supported'."""
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "perf"
    fake.write_text(
        "#!/bin/sh\ncase \"$*\" in *sw*) printf '  task-clock   [Software event]\\n' ;;\n"
        "*) printf '  cycles   [Hardware event]\\n  task-clock   [Software event]\\n' ;; esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(registry, "hardware_counters", lambda: False)
    assert registry.perf_event_names() == {"task-clock"}


# -- decisions on kind and profiler ------------------------------------------------------------


def test_has_counters_reads_the_registry_and_kinds():
    perf_ran = [metric("task-clock", "perf"), metric("Ir", "cachegrind")]
    # perf's software events ran; its counters are stopped: the wording says nothing of it
    stopped = unavailable(K.NO_COUNTERS, "perf", what="lorem", why="ipsum")
    assert not Signals(
        Profile(tools=[], target="cpu", metrics=perf_ran, unavailable=[stopped])
    ).has_counters()
    assert Signals(Profile(tools=[], target="cpu", metrics=perf_ran)).has_counters()
    # a caveat, even one worded like the old "Nsight Compute ..." marker, stops nothing
    ncu_ran = [metric("dram__bytes_read.sum", "ncu")]
    caveat = unavailable(K.PARTIAL, "ncu", what="Nsight Compute (ncu) counters")
    profile = Profile(tools=[], target="gpu", metrics=ncu_ran, unavailable=[caveat])
    assert Signals(profile).has_counters()
    # counter-free profilers alone never count, whatever `tools` says
    fallback = Profile(tools=["ncu"], target="gpu", metrics=[metric("n_regs", "gpu_fallback")])
    assert not Signals(fallback).has_counters()


def test_requested_metric_takes_the_kind_and_why_of_its_profilers_stop():
    profile = Profile(
        tools=[],
        target="cpu",
        metrics=[metric("time_ms", "static_cpu")],
        unavailable=[
            # names "perf" in `what` but concerns cachegrind: the old text match took it
            unavailable(K.ALTERED_BUILD, "cachegrind", what="perf-like caveat"),
            unavailable(K.TOOL_MISSING, "cachegrind", why="no simulator here"),
            unavailable(K.NO_COUNTERS, "perf", what="xyz", why="counters: none"),
        ],
    )
    requests.account_for(profile, ["D1mr", "topdown-fe-bound", "vectorised_loops", "time_ms"])
    stated = {u.what: u for u in profile.unavailable[3:]}
    assert set(stated) == {
        "D1mr (requested)",
        "topdown-fe-bound (requested)",
        "vectorised_loops (requested)",
    }
    d1 = stated["D1mr (requested)"]  # the caveat is skipped for the stop
    assert (d1.kind, d1.why, d1.profiler) == (K.TOOL_MISSING, "no simulator here", "cachegrind")
    topdown = stated["topdown-fe-bound (requested)"]
    assert (topdown.kind, topdown.why, topdown.profiler) == (
        K.NO_COUNTERS,
        "counters: none",
        "perf",
    )
    loops = stated["vectorised_loops (requested)"]
    assert (loops.kind, loops.profiler) == (K.NOT_COLLECTED, "static_cpu")


def test_a_name_outside_the_compendium_belongs_to_the_tool_that_lists_it():
    profile = Profile(tools=[], target="gpu", unavailable=[unavailable(K.DISABLED, "ncu")])
    requests.account_for(profile, ["sm__inst_executed.sum"])
    assert profile.unavailable[-1].profiler == "ncu"
    assert profile.unavailable[-1].kind is K.DISABLED


def test_unknown_names_are_stated_with_their_kind():
    refused = requests.unknown_metric("bogus", "unknown metric 'bogus'")
    assert (refused.kind, refused.profiler) == (K.UNKNOWN_METRIC, None)
    assert not refused.kind.stops_profiler


def test_meanings_follow_the_profiler_not_the_source_text():
    profile = Profile(
        tools=[],
        target="cpu",
        kernels=[KernelProfile(name="f", metrics=[metric("D1mr", "cachegrind", "ncu?!")])],
        metrics=[metric("time_ms", "static_cpu", source="cachegrind-looking text")],
    )
    attach_meanings(profile)
    assert profile.kernels[0].metrics[0].meaning.startswith("measures")
    assert profile.metrics[0].meaning  # static_cpu's time_ms, whatever the source says


def test_cachegrind_falls_back_to_a_smaller_problem_on_too_slow_whatever_the_wording(
    monkeypatch,
):
    kernel = KernelProfile(name="f", metrics=[metric("Ir", "cachegrind")])
    big, small = SimpleNamespace(seconds=0.05), SimpleNamespace(seconds=0.001)
    answers = {
        "profiled": ([], [unavailable(K.TOO_SLOW, "cachegrind", why="reworded budget")]),
        "small": ([kernel], []),
    }
    monkeypatch.setattr(
        cpu.cachegrind,
        "profile_calls",
        lambda calls, budget_s: answers["small" if calls == [small] else "profiled"],
    )
    asked = []

    def smaller(factor):
        asked.append(factor)
        return [small], "the inputs scaled down"

    profile = Profile(tools=[], target="cpu")
    kernels, missing, simulated = cpu.cachegrind_kernels(profile, [big], smaller)
    assert kernels == [kernel] and [m.kind for m in missing] == [K.REDUCED_SIZE]
    assert simulated == [small] and "the inputs scaled down" in missing[0].why
    assert asked == [cpu.reduction_factor(0.05)]
    # a failure worded like the old marker ("smaller size") is not a reason to shrink
    failed = unavailable(K.FAILED, "cachegrind", why="profile a smaller size, e.g. --size tiny")
    answers["profiled"] = ([], [failed])
    kernels, missing, _ = cpu.cachegrind_kernels(profile, [big], smaller)
    assert kernels == [] and missing == [failed]
    # a candidate that fails at the smaller size says why, and nothing is invented
    answers["profiled"] = ([], [unavailable(K.TOO_SLOW, "cachegrind", why="budget")])

    def broken(factor):
        raise AssertionError("size must be 4096")

    kernels, missing, _ = cpu.cachegrind_kernels(profile, [big], broken)
    assert kernels == [] and "size must be 4096" in missing[-1].why


def test_kinds_say_which_stop_a_profiler():
    assert {k for k in K if k.is_caveat} == {K.REDUCED_SIZE, K.PARTIAL, K.ALTERED_BUILD}
    assert not K.NOT_COLLECTED.stops_profiler and not K.UNKNOWN_METRIC.stops_profiler
    assert K.NO_COUNTERS.stops_profiler and K.TOOL_MISSING.stops_profiler
