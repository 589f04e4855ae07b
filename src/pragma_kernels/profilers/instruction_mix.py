"""Static floating-point instruction mix of a built C++ candidate (x86-64 only).

The vectoriser's remarks say what it intended; the disassembly says what was emitted: e.g.
a float sum without -ffast-math is "vectorised" but its adds stay scalar (in-order
reduction). Counts are static (each instruction once, however often it runs).

Counting rule: only floating-point *arithmetic* counts, i.e. the add, sub, mul, div, min,
max, sqrt, rsqrt, rcp, fused multiply-add/sub (all vfmadd/vfmsub/vfnmadd/vfnmsub forms),
addsub, horizontal add/sub and dot-product families. Their `ss`/`sd` forms are scalar FP,
their `ps`/`pd` forms packed FP, with the width read from the widest xmm (128), ymm (256) or
zmm (512) register in the operands. Moves, logic (`vxorps` zeroing, `vandps` for fabs),
shuffles, blends, broadcasts, compares, rounding and conversions are not arithmetic and are
not counted; x87 and integer SIMD are not counted either.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.errors import PragmaError

OBJDUMP_TIMEOUT_S = 60
_FP_ARITH = re.compile(
    r"v?(?:add|sub|mul|div|min|max|sqrt|rsqrt(?:14|28)?|rcp(?:14|28)?|addsub|hadd|hsub|dp"
    r"|dpbf16|f(?:n?madd|n?msub|maddsub|msubadd)(?:132|213|231)?)(?P<kind>ss|sd|ps|pd)"
)
_WIDTH = {"x": 128, "y": 256, "z": 512}
_REGISTER = re.compile(r"%([xyz])mm\d+")
_SYMBOL = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")
_INSTRUCTION = re.compile(r"^\s+[0-9a-f]+:\s+(?P<insn>\S.*)$")
_PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "notrack", "bnd", "data16"}
# Toolchain boilerplate in every shared object's .text, never the candidate's code.
_CRT = {"deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy"}


@dataclass(frozen=True)
class InstructionMix:
    """Static counts of instructions in the selected functions of one library."""

    total: int = 0  # every instruction objdump lists, alignment nops included
    scalar_fp: int = 0
    packed_fp_by_width: dict[int, int] = field(default_factory=dict)  # bits -> count
    max_vector_width_bits: int = 0  # widest packed FP arithmetic instruction; 0 if none
    symbols: tuple[str, ...] = ()  # the functions counted
    note: str = ""  # why nothing was counted, when so

    @property
    def packed_fp(self) -> int:
        return sum(self.packed_fp_by_width.values())

    def packed_simd_fraction(self) -> float:
        """Packed share of FP arithmetic instructions (not of FLOPs); 0 when there are none."""
        fp = self.packed_fp + self.scalar_fp
        return self.packed_fp / fp if fp else 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "packed_simd_fraction": self.packed_simd_fraction(),
            "max_vector_width_bits": float(self.max_vector_width_bits),
            "scalar_fp_instructions": float(self.scalar_fp),
            "packed_fp_instructions": float(self.packed_fp),
        }

    def summary(self) -> str:
        if self.note:
            return f"instruction mix not available: {self.note}"
        widths = ", ".join(
            f"{bits}-bit: {n}" for bits, n in sorted(self.packed_fp_by_width.items(), reverse=True)
        )
        where = f" in {', '.join(self.symbols)}" if self.symbols else ""
        return (
            f"static FP arithmetic instructions{where}: {self.packed_fp} packed"
            f"{f' ({widths})' if widths else ''}, {self.scalar_fp} scalar; packed SIMD fraction "
            f"{self.packed_simd_fraction():.2f}; widest packed FP {self.max_vector_width_bits} "
            f"bits; {self.total} instructions in total"
        )


def select_functions(text: str, functions: list[str] | None) -> str:
    """The disassembly of the named functions and their compiler-made parts only.

    `name` also selects `name.<suffix>` symbols: OpenMP bodies (`name._omp_fn.0`), `.cold`
    and `.part.N` splits. With no names, every .text function except toolchain boilerplate.
    Raises PragmaError naming any function that is not in the disassembly.
    """
    kept: list[str] = []
    found: set[str] = set()
    keep = False
    section = ""
    for line in text.splitlines():
        if line.startswith("Disassembly of section "):
            section = line.removeprefix("Disassembly of section ").rstrip(":")
            keep = False
            continue
        m = _SYMBOL.match(line)
        if m:
            name = m["name"]
            if functions is None:
                keep = section == ".text" and name not in _CRT
            else:
                owner = next((f for f in functions if name == f or name.startswith(f + ".")), None)
                keep = owner is not None
                found.update([owner] if owner else [])
        if keep:
            kept.append(line)
    missing = [f for f in functions or [] if f not in found]
    if missing:
        raise PragmaError(
            f"no function {', '.join(missing)} in the disassembly. Fix: pass the names of "
            f'`extern "C"` functions the library exports'
        )
    header = [line for line in text.splitlines()[:4] if "file format" in line]
    return "\n".join(header + kept)


def classify_disassembly(text: str) -> InstructionMix:
    """Count instructions in `objdump -d --no-show-raw-insn` text (AT&T syntax)."""
    fmt = re.search(r"file format (\S+)", text)
    symbols = tuple(m["name"] for m in map(_SYMBOL.match, text.splitlines()) if m)
    if fmt and "x86-64" not in fmt.group(1):
        return InstructionMix(symbols=symbols, note=f"not x86-64 code ({fmt.group(1)})")
    total = scalar = 0
    packed: dict[int, int] = {}
    for line in text.splitlines():
        m = _INSTRUCTION.match(line)
        if not m or m["insn"].startswith("(bad)"):
            continue
        total += 1
        words = m["insn"].split(None, 1)
        while len(words) > 1 and words[0] in _PREFIXES:
            words = words[1].split(None, 1)
        arith = _FP_ARITH.fullmatch(words[0])
        if not arith:
            continue
        if arith["kind"] in ("ss", "sd"):
            scalar += 1
            continue
        operands = words[1] if len(words) > 1 else ""
        bits = max((_WIDTH[r] for r in _REGISTER.findall(operands)), default=128)
        packed[bits] = packed.get(bits, 0) + 1
    return InstructionMix(
        total=total,
        scalar_fp=scalar,
        packed_fp_by_width=dict(sorted(packed.items())),
        max_vector_width_bits=max(packed, default=0),
        symbols=symbols,
    )


def instruction_mix(library: Path, functions: list[str] | None = None) -> InstructionMix:
    """Disassemble `library` with objdump and count the FP arithmetic of `functions`.

    Returns a zero mix with a `note` off x86-64; raises PragmaError when objdump is missing
    or fails, or when a named function is not in the library.
    """
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return InstructionMix(note=f"the instruction classes are x86-64 only; this is {machine}")
    objdump = shutil.which("objdump")
    if objdump is None:
        raise PragmaError(
            "objdump not found, so the instruction mix cannot be read. Fix: install binutils"
        )
    command = [objdump, "-d", "--no-show-raw-insn", str(library)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=OBJDUMP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PragmaError(f"objdump timed out after {OBJDUMP_TIMEOUT_S} s on {library}") from None
    if done.returncode != 0:
        raise PragmaError(f"objdump failed on {library}: {done.stderr.strip()[-2000:]}")
    return classify_disassembly(select_functions(done.stdout, functions))
