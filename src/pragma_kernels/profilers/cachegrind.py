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
from dataclasses import dataclass, field
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
# Cachegrind with cache and branch simulation ran replayed kernels 50-1300x slower than
# their native multithreaded calls on the 2-core machine (conv1d: 76 ms -> 99 s; a
# memory-bound kernel: ~20 ms -> 1.3-2.4 s). No one factor predicts a kernel, so the run
# is bounded by the budget itself; only a call too slow even at the lowest factor is
# refused without trying.
SLOWDOWN = 300  # for sizing a reduced problem: between the streaming and the FMA-heavy cases
MIN_SLOWDOWN = 50  # lowest seen: a call that would exceed the budget even at this is skipped
CANDIDATE_FILE = re.compile(r"(^|/)kernel\d+\.cpp$")  # the replay's copies of the sources


@dataclass(frozen=True)
class CachegrindCounts:
    total: dict[str, int]
    by_function: dict[str, dict[str, int]]
    files: dict[str, set[str]] = field(default_factory=dict)  # function -> its source files


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
    files: dict[str, set[str]] = {}
    current, file = None, ""
    for line in text.splitlines():
        if line.startswith("fl="):
            file = line[3:]
        elif line.startswith("fn="):
            current = by_function.setdefault(line[3:], dict.fromkeys(events, 0))
            files.setdefault(line[3:], set()).add(file)
        elif current is not None and line[:1].isdigit():
            for event, count in zip(events, line.split()[1:], strict=False):
                current[event] += int(count)
    summary = re.search(r"^summary:\s*(.+)$", text, re.M)
    if summary:
        total = dict(zip(events, (int(v) for v in summary.group(1).split()), strict=False))
    else:
        total = {e: sum(f[e] for f in by_function.values()) for e in events}
    return CachegrindCounts(total, by_function, files)


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


def _owner(function: str, exported: list[str], files: set[str]) -> str | None:
    """The kernel entry a function belongs to (itself, or its OpenMP/clone parts), a
    static helper's own label when its code is in the candidate's source, else None."""
    entry = next((n for n in exported if function == n or function.startswith(f"{n}.")), None)
    if entry is not None:
        return entry
    if any(CANDIDATE_FILE.search(f) for f in files) and function != "main":
        return f"{function.split('(')[0][:60]} (static helper)"
    return None


def per_kernel(
    full: CachegrindCounts, load_only: CachegrindCounts, exported: list[str]
) -> list[KernelProfile]:
    """Kernel entry points (their OpenMP bodies included), each non-inlined helper of the
    candidate's source (static functions too) and, from the difference of the two runs'
    totals, what their callees (libm, ...) cost."""
    kernels: dict[str, dict[str, int]] = {}
    for function, events in full.by_function.items():
        owner = _owner(function, exported, full.files.get(function, set()))
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
    "cachegrind's replay was built with -mno-avx512f (valgrind cannot decode AVX-512), so "
    "ALL cachegrind metrics (instruction and miss counts, miss rates, misses per footprint "
    "line, the callees' share) describe the code built without AVX-512: the `#else` path "
    "of an `#ifdef __AVX512F__`, or the AVX2 version of plain code, not the native build"
)
_AVX512_IF = re.compile(r"#\s*if(?:def\s+__AVX512F__\b|\s+defined\s*\(?\s*__AVX512F__\b)")
_PREPROCESSOR = re.compile(r"#\s*(if|ifdef|ifndef|elif|else|endif)\b")
# libm calls in source: `expf(`, `std::exp(`; not intrinsics (`_mm512_exp_ps`) or helpers.
_LIBM_CALL = re.compile(
    r"(?<![\w.])(?:std::)?((?:exp|exp2|expm1|log|log2|log10|log1p|pow|sin|cos|tan|sinh|cosh"
    r"|tanh|asin|acos|atan|atan2|erf|erfc|cbrt|tgamma|lgamma)f?)\s*\("
)
_FOR = re.compile(r"\bfor\s*\(")
CALLEE_SHARE_FLAGGED = 0.25  # a callee share above this, from calls only the replay makes


def avx512_paths(source: str) -> tuple[str, str] | None:
    """The text of the source's `#ifdef __AVX512F__` parts and of their `#else` parts
    (each joined over every such block; pure); None when it has no such block with an
    `#else`, or one with an `#elif`."""
    avx, other, where, depth = [], [], None, 0  # where: None outside, else the list filled
    for line in source.splitlines():
        directive = _PREPROCESSOR.match(line.strip())
        if where is None:
            if _AVX512_IF.match(line.strip()):
                where, depth = avx, 0
            continue
        if directive and directive[1] in ("if", "ifdef", "ifndef"):
            depth += 1
        elif directive and directive[1] == "endif":
            if depth == 0:
                where = None
                continue
            depth -= 1
        elif directive and directive[1] == "elif" and depth == 0:
            return None  # `#elif __AVX2__`: which branch the replay builds is not plain text
        elif directive and directive[1] == "else" and depth == 0:
            where = other
            continue
        where.append(line)
    return ("\n".join(avx), "\n".join(other)) if other else None


def path_differences(source: str) -> list[str]:
    """What visibly differs between the AVX-512 and the `#else` path (pure): libm calls
    only the `#else` path makes, a different number of loops (beyond the AVX-512 path's
    remainder loop). Cheap text checks, not a proof."""
    paths = avx512_paths(source)
    if paths is None:
        return []
    avx, other = paths
    found = []
    only_else = sorted(set(_libm(other)) - set(_libm(avx)))
    if only_else:
        found.append(f"the #else path calls libm {', '.join(only_else)}, the AVX-512 path does not")
    avx_loops, else_loops = len(_FOR.findall(avx)), len(_FOR.findall(other))
    if not 0 <= avx_loops - else_loops <= 1:  # one more: the vector loop's remainder loop
        found.append(
            f"the AVX-512 path has {avx_loops} for loops, the #else path {else_loops} (a "
            "remainder loop aside, the same loops and blocking give the same count)"
        )
    return found


def _libm(text: str) -> list[str]:
    return [m[1] for m in _LIBM_CALL.finditer(text)]


def builds_avx512(flags: tuple[str, ...]) -> bool:
    """Whether the native build defines __AVX512F__ (-mavx512f, or -march=native here):
    only then does its code differ from the replay's. The compiler's own answer."""
    command = [config.cxx_compiler(), *flags, "-x", "c++", "-dM", "-E", "-"]
    try:
        done = subprocess.run(command, input="", capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return True  # unknown: the note's caveat stands
    return done.returncode != 0 or "__AVX512F__" in done.stdout


def replay_note(sources: list[str], kernels: list[KernelProfile]) -> str:
    """What the replay describes (NO_AVX512_NOTE), and where the two paths visibly differ,
    with the callees' share when libm calls only the replay makes can explain it.
    `sources`: those whose native build has AVX-512 (builds_avx512)."""
    differences = [d for source in sorted(set(sources)) for d in path_differences(source)]
    if not differences:
        return NO_AVX512_NOTE
    share = next((k.time_share for k in kernels if k.name.startswith("callees")), 0.0)
    callees = (
        f"; the replay spent {share:.0%} of its instructions in callees, where those libm "
        "calls count but the native build makes none"
        if share > CALLEE_SHARE_FLAGGED and any("libm" in d for d in differences)
        else ""
    )
    return (
        f"{NO_AVX512_NOTE}. The two paths differ here: {'; '.join(differences)}{callees}. "
        "The cache metrics describe the #else path only: give it the same loops, blocking "
        "and math as the AVX-512 path"
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
    """Replay the recorded calls under cachegrind, stopped at `budget_s`; per-kernel
    metrics, or why not (a run past the budget is TOO_SLOW: the caller may retry smaller)."""
    native_ms = 1e3 * sum(call.seconds for call in calls)
    if MIN_SLOWDOWN * native_ms / 1e3 > budget_s:
        return [], [
            _missing(
                f"the recorded calls take {native_ms:.1f} ms natively; even at the lowest "
                f"slowdown seen ({MIN_SLOWDOWN}x) the simulation would exceed the "
                f"{budget_s:g} s budget",
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
        load_only = _cachegrind(directory, ["load-only"], TIMEOUT_S)
        full = load_only
        if not isinstance(load_only, str):
            full = _cachegrind(directory, [], min(budget_s, TIMEOUT_S))
    if isinstance(full, str):
        kind = UnavailableKind.TOO_SLOW if full.startswith("ran past") else UnavailableKind.FAILED
        return [], [_missing(f"{full} (the recorded calls take {native_ms:.1f} ms natively)", kind)]
    kernels = per_kernel(full, load_only, exported)
    return kernels, [
        Unavailable(
            what="AVX-512 under cachegrind",
            why=replay_note(
                [
                    source
                    for source, flags in sorted({(c.source, c.flags) for c in calls})
                    if "__AVX512F__" in source and builds_avx512(flags)
                ],
                kernels,
            ),
            kind=UnavailableKind.ALTERED_BUILD,
            profiler=PROFILER,
        )
    ]


def footprint_metrics(kernels: list[KernelProfile], calls: list[RecordedCall]) -> list[Metric]:
    """The candidate's own code (entries and helpers, not libm) against the tensors it was
    given: cache lines missed per line of them. ~1 means each line was fetched once
    (compulsory misses only); 2-4 a few passes over the data (unfused loops, temporaries);
    far more means re-fetching evicted data (strided walks, no blocking). Also the branch
    mispredict rate of that code alone: libm's well-predicted branches dilute the
    profile-wide rate of a kernel that calls it."""
    import torch

    size = sum(
        a.numel() * a.element_size() for c in calls for a in c.args if isinstance(a, torch.Tensor)
    )
    own = [k for k in kernels if not k.name.startswith("callees")]
    if not size or not own:
        return []
    counts = {
        e: sum(m.value for k in own for m in k.metrics if m.name == e)
        for e in ("D1mr", "D1mw", "DLmr", "DLmw", "Dr", "Dw", "Bc", "Bcm", "Bi", "Bim")
    }
    lines = size / 64

    def make(name: str, value: float, unit: str) -> Metric:
        return Metric(name=name, value=value, unit=unit, profiler=PROFILER, source=SOURCE)

    return [
        make("replay_footprint_bytes", size, "bytes"),
        make("D1_misses_per_footprint_line", (counts["D1mr"] + counts["D1mw"]) / lines, "ratio"),
        make("LL_misses_per_footprint_line", (counts["DLmr"] + counts["DLmw"]) / lines, "ratio"),
        make("data_refs_per_footprint_byte", (counts["Dr"] + counts["Dw"]) / size, "ratio"),
        *(
            [
                make(
                    "own_branch_mispredict_rate",
                    (counts["Bcm"] + counts["Bim"]) / branches,
                    "ratio",
                )
            ]
            if (branches := counts["Bc"] + counts["Bi"])
            else []
        ),
    ]


_CAUSE_WORDS = (
    "unhandled instruction",
    "Process terminating",
    "signal",
    "rror",
    "valgrind:",
    "Aborted",
    "out of memory",
    "Illegal",
)


def valgrind_cause(stderr: str, returncode: int) -> str:
    """Why valgrind failed: its own error lines, not the normal summary after them (pure)."""
    lines = [re.sub(r"^==\d+==\s?", "", line).strip() for line in stderr.splitlines()]
    found = [line for line in lines if line and any(w in line for w in _CAUSE_WORDS)]
    status = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    detail = " | ".join(found[:4])[:400] if found else "no error line in valgrind's output"
    return f"{status}: {detail}"


def _cachegrind(directory: Path, arguments: list[str], timeout_s: float) -> CachegrindCounts | str:
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
    try:
        run = subprocess.run(
            command,
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    except subprocess.TimeoutExpired:
        return f"ran past its {timeout_s:g} s budget"
    if run.returncode != 0 or not out.exists():
        return f"valgrind failed ({valgrind_cause(run.stderr, run.returncode)})"
    return parse_cachegrind_out(out.read_text())
