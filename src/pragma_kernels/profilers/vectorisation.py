"""Which loops of a C++ candidate the compiler vectorised, and why the others were not.

Compiles the source once more (not through the build cache, object file thrown away) with
g++'s optimisation remarks and reads them back. Plain `-fopt-info-vec-missed` gives, for a
failed loop, only the failure of the *last* vector mode tried, which in GCC 12 is often a
misleading "no vectype for stmt" (e.g. for a loop-carried dependency). The `-internals` form
adds the nested analysis messages, from which the specific reason ("possible dependence
between data-refs", "complicated access pattern") is picked. Basic-block (SLP) remarks are
ignored: only loops are reported. So are two kinds of missed loop that only add noise:
loops of intrinsics code (a statement of a vector type such as `__m512` has "no vectype":
the loop is vector code already) and outer loops (the compiler reports their inner loops
on their own).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from pragma_kernels import config
from pragma_kernels.errors import BuildError, PragmaError
from pragma_kernels.runtime.cpp_build import BUILD_TIMEOUT_S, Origin, parse_diagnostics
from pragma_kernels.runtime.cpp_flags import BASE_FLAGS, check_flags

OPT_INFO_FLAGS: tuple[str, ...] = ("-fopt-info-vec-optimized", "-fopt-info-vec-missed-internals")
CPP_NAME = "kernel.cpp"
_REMARK = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<kind>optimized|missed|note):"
    r"(?P<indent> +)(?P<msg>.*)$"
)
_VECTORISED = re.compile(r"^loop vectorized using (?:(?P<bytes>\d+) byte|variable length) vectors")
_REASON_START = ("not vectorized", "failed:", "statement clobbers memory")
_CLOBBER = re.compile(r"^statement clobbers memory: .*?([\w.]+) \(.*$")
# Reasons that name a GIMPLE detail of one vector mode rather than the source-level cause.
_VAGUE = ("no vectype for stmt", "bad data references", "bad data access", "bad data dependence")
# A statement already of a vector type (`__m512_u`, `__m256i`, `vector(16) float`): intrinsics.
_VECTOR_TYPED = re.compile(r"scalar type (?:__m\d|__v\d|vector\()")
# Outer-loop failures: GCC vectorises inner loops, and reports each of them on its own.
_OUTER_LOOP = (
    "loop nest containing two or more consecutive inner loops",
    "multiple nested loops",
    "unsupported outerloop form",
    "Bad inner loop",
    "inner-loop count not invariant",
)


NOISE = "(noise: intrinsics code or an outer loop)"  # the reason of a loop left unreported


@dataclass(frozen=True)
class LoopNote:
    """One loop: where it is (the .py file when the origin is known) and what happened to it."""

    file: str
    line: int
    vector_bytes: int = 0  # widest vectors used (the main loop, not its epilogue); 0 if missed
    reason: str = ""  # why it was not vectorised (empty: vectorised), compiler's words
    versioned_for_alias: bool = False  # vectorised behind a run-time aliasing check

    def describe(self) -> str:
        where = f"{os.path.basename(self.file)}:{self.line}"
        if self.reason:
            return f"{where}: not vectorised: {self.reason}"
        size = f"{self.vector_bytes}-byte vectors" if self.vector_bytes else "variable-length"
        alias = "; versioned at run time for possible aliasing" if self.versioned_for_alias else ""
        return f"{where}: loop vectorised ({size}{alias})"


@dataclass(frozen=True)
class VectorisationReport:
    """The compiler's vectorisation remarks on one candidate's loops."""

    vectorised: list[LoopNote]
    missed: list[LoopNote]
    command: str
    omitted: int = 0  # missed loops left out as noise: intrinsics code and outer loops

    def metrics(self) -> dict[str, float]:
        return {
            "vectorised_loops": float(len(self.vectorised)),
            "missed_vectorisation_loops": float(len(self.missed)),
        }

    def summary_lines(self, limit: int = 8) -> list[str]:
        """Missed loops first (they are what to fix), then vectorised ones, by line; when
        cut, both kinds keep room (the hot loop may be either) and the rest is counted."""
        missed = sorted(self.missed, key=lambda n: n.line)
        vectorised = sorted(self.vectorised, key=lambda n: n.line)
        omitted = (
            [
                f"{self.omitted} loop{'s' * (self.omitted > 1)} not shown: intrinsics code "
                "(vector-typed statements) and outer loops, which the compiler does not "
                "vectorise further"
            ]
            if self.omitted
            else []
        )
        if len(missed) + len(vectorised) <= limit:
            return [n.describe() for n in [*missed, *vectorised]] + omitted
        room = max(limit - 1, 0)
        take_missed = min(len(missed), max(room - len(vectorised), room // 2))
        take_vectorised = min(len(vectorised), room - take_missed)
        lines = [n.describe() for n in [*missed[:take_missed], *vectorised[:take_vectorised]]]
        left_missed, left_vectorised = len(missed) - take_missed, len(vectorised) - take_vectorised
        return [
            *lines,
            f"... and {left_missed + left_vectorised} more loops "
            f"({left_vectorised} vectorised, {left_missed} not)",
            *omitted,
        ]


def _clean_reason(message: str) -> str:
    """The compiler's reason without the "not vectorized:" prefix and GIMPLE operands."""
    first, _, rest = message.partition("\n")
    text = re.sub(r"^(not vectorized[:,]?|failed:)\s*", "", first.strip()).rstrip(". ;")
    text = re.sub(r"(between data-refs) .*$", r"\1", text)
    text = re.sub(r"(for stmt|in stmt): .*$", r"\1", text)  # "not supported: <stmt>" kept
    text = _CLOBBER.sub(r"call to \1 (may clobber memory)", text)
    scalar = re.search(r"scalar_type: (.+)", rest)
    return f"{text} (scalar type {scalar.group(1).strip()})" if scalar else text


def _is_vague(reason: str) -> bool:
    return reason.startswith(_VAGUE)


def is_noise(reason: str) -> bool:
    """A missed loop that says nothing to fix: intrinsics code (a vector-typed statement),
    or an outer loop (its inner loops are reported on their own)."""
    return bool(_VECTOR_TYPED.search(reason)) or reason.startswith(_OUTER_LOOP)


def parse_opt_info(text: str, cpp_name: str, origin: Origin | None = None) -> list[LoopNote]:
    """Loop notes from g++ `-fopt-info-vec-*` output, one per loop line, in order found.

    Only loops located in `cpp_name` (compared by basename) are kept: loops inlined from
    system headers are dropped. A loop reported twice (epilogue, inlined copies) keeps its
    widest vectors, or its most specific reason; a line may be both vectorised and missed
    (e.g. an outer and an inner loop on one line, or two inlined copies).
    """
    remarks: list[list] = []  # [file, line, depth, kind, message]
    for raw in text.splitlines():
        m = _REMARK.match(raw)
        if m:
            depth = len(m.group("indent")) - 1
            remarks.append([m["file"], int(m["line"]), depth, m["kind"], m["msg"]])
        elif remarks and raw.startswith(" "):  # continuation, e.g. " scalar_type: float"
            remarks[-1][4] += "\n" + raw
    ours = os.path.basename(cpp_name)

    def place(line: int) -> tuple[str, int]:
        return (origin.file, origin.first_line + line - 1) if origin else (cpp_name, line)

    found: dict[tuple[str, int], LoopNote] = {}
    inner: list[tuple[int, str]] = []  # nested "not vectorized" messages since the last loop
    for i, (file, line, depth, kind, msg) in enumerate(remarks):
        in_ours = os.path.basename(file) == ours
        vec = _VECTORISED.match(msg) if kind == "optimized" and depth == 0 else None
        if msg.startswith("loop versioned for vectorization"):
            old = found.get(("v", line))
            if in_ours and old:
                found[("v", line)] = LoopNote(old.file, old.line, old.vector_bytes, "", True)
        elif depth > 0:
            if kind == "missed" and msg.startswith(_REASON_START) and in_ours:
                inner.append((line, msg))
        elif vec:
            inner = []
            size = int(vec["bytes"] or 0)
            old = found.get(("v", line))
            if in_ours and (old is None or size > old.vector_bytes):
                alias = old.versioned_for_alias if old else False
                found[("v", line)] = LoopNote(*place(line), size, "", alias)
        elif kind == "missed" and msg.startswith("couldn't vectorize loop"):
            # The top-level reason is the next remark; nested ones came before, at or after
            # the loop's own line (earlier lines are leftovers of the previous function).
            nxt = remarks[i + 1] if i + 1 < len(remarks) else None
            top = nxt[4] if nxt and nxt[2] == 0 and nxt[3] == "missed" else ""
            nested = [m for n, m in inner if n >= line]
            inner = []
            if not in_ours:
                continue
            candidates = [top] if top.startswith(_REASON_START) else []
            reasons = [_clean_reason(r) for r in [*candidates, *nested]]
            if any(is_noise(r) for r in reasons):
                found.setdefault(("n", line), LoopNote(*place(line), 0, NOISE))
                continue
            reason = next((r for r in reasons if not _is_vague(r)), reasons[0] if reasons else "")
            reason = reason or "no reason given"
            old = found.get(("m", line))
            if old is None or (_is_vague(old.reason) and not _is_vague(reason)):
                found[("m", line)] = LoopNote(*place(line), 0, reason)
    return list(found.values())


def vectorisation_report(
    source: str, flags: tuple[str, ...], origin: Origin | None = None
) -> VectorisationReport:
    """Compile `source` as the loader would, plus remarks, and report on its loops.

    Raises FlagError for a disallowed flag, PragmaError when the compiler is missing and
    BuildError (with diagnostics mapped through `origin`) when it rejects the source.
    """
    flags = check_flags(flags)
    compiler = config.cxx_compiler()
    if shutil.which(compiler) is None:
        raise PragmaError(
            f"C++ compiler {compiler!r} not found, so vectorisation cannot be reported. Fix: "
            f"install g++ or set {config.ENV_CXX} to a compiler"
        )
    command = [compiler, *BASE_FLAGS, *flags, *OPT_INFO_FLAGS, "-c", CPP_NAME, "-o", "kernel.o"]
    with tempfile.TemporaryDirectory(prefix="pragma-vec-") as tmp:
        with open(os.path.join(tmp, CPP_NAME), "w") as f:
            f.write(source)
        try:
            done = subprocess.run(
                command, cwd=tmp, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise BuildError(
                shlex.join(command), f"compiler timed out after {BUILD_TIMEOUT_S} s", []
            ) from None
    log = done.stderr + done.stdout
    if done.returncode != 0:
        raise BuildError(shlex.join(command), log, parse_diagnostics(log, CPP_NAME, origin))
    notes = parse_opt_info(log, CPP_NAME, origin)
    return VectorisationReport(
        vectorised=[n for n in notes if not n.reason],
        missed=[n for n in notes if n.reason and n.reason != NOISE],
        command=shlex.join(command),
        omitted=sum(1 for n in notes if n.reason == NOISE),
    )
