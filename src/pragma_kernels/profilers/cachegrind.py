"""CPU fallback profiler: valgrind's cachegrind on a native replay of the candidate's C++ calls.

Running valgrind on Python + torch would spend minutes in the interpreter and
count it too. Instead the candidate's forward runs once under
`cpp.recording()`, which keeps each C++ call with copies of its arguments;
those calls are replayed by a generated C++ `main` linked with the candidate's
own source and flags, and only that runs under cachegrind (cache and branch
simulation, one OpenMP thread so every kernel instruction is counted). The
counts are deterministic: the same source and inputs give the same numbers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pragma_kernels import config
from pragma_kernels.profilers.schema import KernelProfile, Metric, Unavailable, UnavailableKind
from pragma_kernels.runtime.cpp import RecordedCall

PROFILER = SOURCE = "cachegrind"  # the registry's name; the source shown with each number
EVENTS = (
    "Ir",
    "I1mr",
    "ILmr",
    "Dr",
    "D1mr",
    "DLmr",
    "Dw",
    "D1mw",
    "DLmw",
    "Bc",
    "Bcm",
    "Bi",
    "Bim",
)
TIMEOUT_S = 120
# Cachegrind with cache and branch simulation ran the replayed kernels ~1300x slower than
# natively on the 2-core machine (conv1d: 76 ms -> 99 s).
SLOWDOWN = 1500


@dataclass(frozen=True)
class CachegrindCounts:
    total: dict[str, int]
    by_function: dict[str, dict[str, int]]


def _literal(value: int | float, c_type: str) -> str:
    if isinstance(value, float) or c_type in ("float", "double"):
        return f"({c_type}){float(value).hex()}"  # exact: hexadecimal float literal (C++17)
    return f"({c_type}){int(value)}LL" if c_type != "bool" else ("true" if value else "false")


def harness_source(
    calls: list[RecordedCall], data_files: list[list[str | None]], sizes: list[list[int]]
) -> str:
    """A C++ main that loads each call's pointer arguments from files and calls in order."""
    declared = {call.function.name: call.function for call in calls}
    lines = ["#include <cstdint>", "#include <cstdio>", "#include <cstdlib>", ""]
    lines += [f'extern "C" {function.signature()};' for function in declared.values()]
    lines += [
        "",
        "static void* load(const char* path, size_t bytes) {",
        "    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);",
        '    if (bytes) { FILE* f = std::fopen(path, "rb");',
        "        if (!f || std::fread(p, 1, bytes, f) != bytes) std::abort();",
        "        std::fclose(f); }",
        "    return p;",
        "}",
        "",
        "int main(int argc, char**) {",
    ]
    calls_text = []
    for index, (call, files, byte_sizes) in enumerate(zip(calls, data_files, sizes, strict=True)):
        arguments = []
        for position, param in enumerate(call.function.params):
            if param.pointer:
                name = f"c{index}a{position}"
                lines.append(
                    f'    void* {name} = load("{files[position]}", {byte_sizes[position]});'
                )
                const = "const " if param.const else ""
                arguments.append(f"({const}{param.base}*){name}")
            else:
                arguments.append(_literal(call.args[position], param.base))
        calls_text.append(f"    {call.function.name}({', '.join(arguments)});")
    # With an argument: load only. Its counts are subtracted, leaving the kernels' own.
    lines += ["    if (argc > 1) return 0;", *calls_text, "    return 0;", "}", ""]
    return "\n".join(lines)


def parse_cachegrind_out(text: str) -> CachegrindCounts:
    """Totals and per-function sums from a cachegrind.out file (pure)."""
    events_line = re.search(r"^events:\s*(.+)$", text, re.M)
    if not events_line:
        raise ValueError("not a cachegrind output file: no 'events:' line")
    events = events_line.group(1).split()
    by_function: dict[str, dict[str, int]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("fn="):
            current = by_function.setdefault(line[3:], dict.fromkeys(events, 0))
        elif current is not None and line[:1].isdigit():
            for event, count in zip(events, line.split()[1:], strict=False):
                current[event] += int(count)
    summary = re.search(r"^summary:\s*(.+)$", text, re.M)
    if summary:
        total = dict(zip(events, (int(v) for v in summary.group(1).split()), strict=False))
    else:
        total = {e: sum(f[e] for f in by_function.values()) for e in events}
    return CachegrindCounts(total, by_function)


def metrics_from_counts(counts: dict[str, int]) -> list[Metric]:
    """Raw events plus the rates that explain them."""
    metrics = [
        Metric(name=e, value=counts[e], unit="count", profiler=PROFILER, source=SOURCE)
        for e in EVENTS
        if e in counts
    ]

    def rate(name: str, numerator: int, denominator: int) -> None:
        if denominator:
            metrics.append(
                Metric(
                    name=name,
                    value=numerator / denominator,
                    unit="ratio",
                    profiler=PROFILER,
                    source=SOURCE,
                )
            )

    reads_writes = counts.get("Dr", 0) + counts.get("Dw", 0)
    rate("D1_miss_rate", counts.get("D1mr", 0) + counts.get("D1mw", 0), reads_writes)
    rate("LL_miss_rate", counts.get("DLmr", 0) + counts.get("DLmw", 0), reads_writes)
    rate(
        "branch_mispredict_rate",
        counts.get("Bcm", 0) + counts.get("Bim", 0),
        counts.get("Bc", 0) + counts.get("Bi", 0),
    )
    return metrics


def per_kernel(
    full: CachegrindCounts, load_only: CachegrindCounts, exported: list[str]
) -> list[KernelProfile]:
    """Kernel entry points (their OpenMP bodies included) and, from the difference of the
    two runs' totals, what their callees (libm, ...) cost."""
    kernels: dict[str, dict[str, int]] = {}
    for function, events in full.by_function.items():
        owner = next(
            (name for name in exported if function == name or function.startswith(f"{name}.")), None
        )
        if owner is not None:
            target = kernels.setdefault(owner, dict.fromkeys(events, 0))
            for event, value in events.items():
                target[event] += value
    total = {e: max(full.total.get(e, 0) - load_only.total.get(e, 0), 0) for e in full.total}
    callees = {e: max(total[e] - sum(k.get(e, 0) for k in kernels.values()), 0) for e in total}
    if callees.get("Ir", 0) > 0.01 * total.get("Ir", 0):
        kernels["callees (OpenMP runtime, libm, ...)"] = callees
    total_ir = sum(k.get("Ir", 0) for k in kernels.values()) or 1
    return [
        KernelProfile(
            name=name,
            time_share=events.get("Ir", 0) / total_ir,
            metrics=metrics_from_counts(events),
        )
        for name, events in kernels.items()
    ]


def _write_arguments(calls: list[RecordedCall], directory: Path):
    files, sizes = [], []
    for index, call in enumerate(calls):
        call_files, call_sizes = [], []
        for position, (param, value) in enumerate(
            zip(call.function.params, call.args, strict=True)
        ):
            if param.pointer:
                path = directory / f"c{index}a{position}.bin"
                data = value.contiguous().numpy().tobytes() if value.numel() else b""
                path.write_bytes(data)
                call_files.append(path.name)
                call_sizes.append(len(data))
            else:
                call_files.append(None)
                call_sizes.append(0)
        files.append(call_files)
        sizes.append(call_sizes)
    return files, sizes


# valgrind (3.19 here) cannot decode AVX-512 instructions: the replay is built without them.
NO_AVX512_NOTE = (
    "cachegrind's replay was built with -mno-avx512f (valgrind cannot decode "
    "AVX-512), so its instruction counts describe the AVX2 version of the code"
)


def replay_flags(flags: tuple[str, ...]) -> list[str]:
    """The candidate's flags, minus AVX-512, which valgrind cannot run."""
    kept = [f for f in flags if not f.startswith("-mavx512") and f != "-mprefer-vector-width=512"]
    return [*kept, "-mno-avx512f"]


def _build_replay(calls: list[RecordedCall], files, sizes, directory: Path) -> str | None:
    """Compile each distinct source with its own flags, link with the harness; error or None."""
    compiler = config.cxx_compiler()
    units = {(call.source, call.flags) for call in calls}
    objects, link_flags = [], {"-fopenmp"} & {f for _, flags in units for f in flags}
    (directory / "replay.cpp").write_text(harness_source(calls, files, sizes))
    steps = [
        [
            compiler,
            "-std=c++17",
            "-c",
            "-g",
            *replay_flags(flags),
            f"kernel{i}.cpp",
            "-o",
            f"kernel{i}.o",
        ]
        for i, (_, flags) in enumerate(sorted(units))
    ]
    for i, (source, _) in enumerate(sorted(units)):
        (directory / f"kernel{i}.cpp").write_text(source)
        objects.append(f"kernel{i}.o")
    steps.append(
        [compiler, "-std=c++17", "-g", "replay.cpp", *objects, *link_flags, "-o", "replay"]
    )
    for step in steps:
        done = subprocess.run(
            step, cwd=directory, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        if done.returncode != 0:
            return f"the replay harness did not build: {_first_error(done.stderr)}"
    return None


def _first_error(stderr: str) -> str:
    """The compiler's first error line (the cause; what follows is mostly its fallout)."""
    lines = stderr.strip().splitlines()
    first = next((i for i, line in enumerate(lines) if "error" in line), None)
    return "\n".join(lines[first : first + 3])[:300] if first is not None else stderr[-300:]


def _missing(why: str, kind: UnavailableKind) -> Unavailable:
    return Unavailable(what="cachegrind", why=why, kind=kind, profiler=PROFILER)


def profile_calls(
    calls: list[RecordedCall], budget_s: float = 30.0
) -> tuple[list[KernelProfile], list[Unavailable]]:
    """Replay the recorded calls under cachegrind; per-kernel metrics, or why not."""
    estimate = SLOWDOWN * sum(call.seconds for call in calls)
    if estimate > budget_s:
        return [], [
            _missing(
                f"a simulated run would take ~{estimate:.0f} s (> {budget_s:g} s budget); "
                "profile a smaller size, e.g. --size tiny",
                UnavailableKind.TOO_SLOW,
            )
        ]
    if not calls:
        return [], [_missing("the candidate made no C++ call", UnavailableKind.NOTHING_TO_PROFILE)]
    if shutil.which("valgrind") is None:
        return [], [
            _missing(
                "valgrind is not installed (apt-get install valgrind)",
                UnavailableKind.TOOL_MISSING,
            )
        ]
    with tempfile.TemporaryDirectory(prefix="pragma-cachegrind-") as tmp:
        directory = Path(tmp)
        files, sizes = _write_arguments(calls, directory)
        error = _build_replay(calls, files, sizes, directory)
        if error:
            return [], [_missing(error, UnavailableKind.FAILED)]
        exported = sorted({call.function.name for call in calls})
        runs = [_cachegrind(directory, extra) for extra in ([], ["load-only"])]
        failed = next((r for r in runs if isinstance(r, str)), None)
        if failed:
            return [], [_missing(failed, UnavailableKind.FAILED)]
    kernels = per_kernel(runs[0], runs[1], exported)
    add_footprint(kernels, calls)
    return kernels, [
        Unavailable(
            what="AVX-512 under cachegrind",
            why=NO_AVX512_NOTE,
            kind=UnavailableKind.ALTERED_BUILD,
            profiler=PROFILER,
        )
    ]


def add_footprint(kernels: list[KernelProfile], calls: list[RecordedCall]) -> None:
    """Each kernel's tensor footprint in the replay, and its L1 misses per footprint line:
    ~1 means each line was fetched once (compulsory misses only); far more means the
    kernel re-fetches evicted data (strided walks, no blocking)."""
    import torch

    footprint: dict[str, int] = {}
    for call in calls:
        size = sum(a.numel() * a.element_size() for a in call.args if isinstance(a, torch.Tensor))
        footprint[call.function.name] = footprint.get(call.function.name, 0) + size
    for kernel in kernels:
        size = footprint.get(kernel.name)
        counts = {m.name: m.value for m in kernel.metrics}
        if not size:
            continue
        misses = counts.get("D1mr", 0) + counts.get("D1mw", 0)
        kernel.metrics += [
            Metric(
                name="replay_footprint_bytes",
                value=size,
                unit="bytes",
                profiler=PROFILER,
                source=SOURCE,
            ),
            Metric(
                name="D1_misses_per_footprint_line",
                value=misses / (size / 64),
                unit="ratio",
                profiler=PROFILER,
                source=SOURCE,
            ),
        ]


def _cachegrind(directory: Path, arguments: list[str]) -> CachegrindCounts | str:
    out = directory / f"cg{len(arguments)}.out"
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        "--branch-sim=yes",
        f"--cachegrind-out-file={out.name}",
        "./replay",
        *arguments,
    ]
    # One OpenMP thread: valgrind serialises threads anyway, and the counts stay exact.
    run = subprocess.run(
        command,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if run.returncode != 0 or not out.exists():
        return f"valgrind failed: {run.stderr.strip()[-300:]}"
    return parse_cachegrind_out(out.read_text())
