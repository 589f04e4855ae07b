"""Static floating-point instruction mix of a built C++ candidate (x86-64 only).

The vectoriser's remarks say what it intended; the disassembly says what was emitted (a
float sum without -ffast-math is "vectorised" but its adds stay scalar). Counts are static
(each instruction once, however often it runs), so by default only innermost loop bodies
are counted: a vectorised loop's unrolled scalar remainder would otherwise outnumber it.
Even then a cold remainder *loop* (a `K % 32` tail, a scalar tail calling expf) adds its
stack accesses and scalar FP to the hot loop's, so every innermost loop is also counted on
its own, one is picked as the hot loop (pick_hot_loop says how), and the headline metrics
describe that loop; the totals over all loops stay in the summary, labelled as such.

Counting rule: FP arithmetic and compare instructions only (add, sub, mul, div, min, max,
sqrt, rsqrt, rcp, all fused multiply-add/sub forms, addsub, horizontal add/sub, dot product,
cmp*, comi, ucomi). Their `ss`/`sd` forms are scalar, `ps`/`pd` packed, as wide as the widest
xmm (128), ymm (256) or zmm (512) operand. Moves, logic (`vxorps` zeroing, `vandps` for
fabs), shuffles, blends, broadcasts, rounding, conversions, x87, FP16 and integer SIMD are
not counted.
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
    r"|dpbf16|f(?:n?madd|n?msub|maddsub|msubadd)(?:132|213|231)?|cmp[a-z_]*|u?comi)"
    r"(?P<kind>ss|sd|ps|pd)"
)
_WIDTH = {"x": 128, "y": 256, "z": 512}
_REGISTER = re.compile(r"%([xyz])mm\d+")
_SYMBOL = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")
_INSTRUCTION = re.compile(r"^\s+(?P<addr>[0-9a-f]+):\s+(?P<insn>\S.*)$")
_JUMP = re.compile(r"j[a-z]+|loop[a-z]*")
_NO_FALLTHROUGH = ("jmp", "ret", "ud2", "hlt")
_BRANCH = re.compile(r"(?P<target>[0-9a-f]+) <(?P<symbol>[^>+]+)(?:\+0x[0-9a-f]+)?>")
Insn = tuple[str, int, str, str]  # function, address, mnemonic, operands
_PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "notrack", "bnd", "data16"}
# Float <-> double conversions: a float problem computed in double precision.
_CONVERSION = re.compile(r"v?cvt(?:ss2sd|sd2ss|ps2pd|pd2ps)")
# libm and libmvec entry points (expf, __expf_finite, _ZGVdN8v_expf, ...): transcendental calls.
_MATH_CALL = re.compile(
    r"(?:_ZGV\w+_)?_*(?:exp|exp2|expm1|log|log2|log10|log1p|pow|sin|cos|tan|sinh|cosh|tanh"
    r"|asin|acos|atan|atan2|erf|erfc|cbrt|sqrt|hypot|fmod|lgamma|tgamma)f?(?:_finite)?(?:@plt)?"
)
# Calls that start threads: OpenMP parallel regions, pthreads, std::thread.
_PARALLEL_CALL = re.compile(r"GOMP_parallel\w*|GOMP_teams\w*|pthread_create|_ZNSt6thread\w*start")
_ATOMIC_CALL = ("GOMP_atomic_start", "GOMP_critical_start", "GOMP_critical_name_start")
_STACK = re.compile(r"\(%[re]?[sb]p\)")  # a stack slot: spills, or arrays kept on the stack
# Toolchain boilerplate in every shared object's .text, never the candidate's code.
_CRT = {"deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy"}


@dataclass(frozen=True)
class InstructionMix:
    """Static counts of instructions in the selected functions of one library."""

    total: int = 0  # every instruction objdump lists, alignment nops included
    counted: int = 0  # instructions in `scope`, where the FP counts below come from
    scope: str = ""  # "N innermost loops", or "whole functions ..." (see classify_disassembly)
    scalar_fp: int = 0
    packed_fp_by_width: dict[int, int] = field(default_factory=dict)  # bits -> count
    max_vector_width_bits: int = 0  # widest packed FP arithmetic instruction; 0 if none
    symbols: tuple[str, ...] = ()  # the functions counted
    note: str = ""  # why nothing was counted, when so
    # In the counted scope (hot loops): what makes FP work slow or threads wait.
    double_fp: int = 0  # of the FP instructions above, double precision (sd/pd)
    conversions: int = 0  # float <-> double conversions
    math_calls: tuple[str, ...] = ()  # calls to libm/libmvec (transcendentals)
    atomics: int = 0  # lock-prefixed (or implicitly locked xchg) instructions, GOMP atomics
    stack_accesses: int = 0  # loads/stores of stack slots: spills or stack arrays
    parallel_calls: int = 0  # anywhere in the functions: calls that start threads
    loops: int = 0  # innermost loops counted
    conditional_branches: int = 0  # in them: one closes each loop, the rest test data
    packed_fmas: int = 0  # of the packed FP instructions, fused multiply-add/sub forms
    per_loop: tuple[LoopMix, ...] = ()  # each innermost loop counted alone
    hot: LoopMix | None = None  # the one the headline metrics describe
    hot_method: str = ""  # how it was picked

    @property
    def packed_fp(self) -> int:
        return sum(self.packed_fp_by_width.values())

    def packed_simd_fraction(self) -> float:
        """Packed share of the counted FP instructions (not of FLOPs); 0 when there are none."""
        fp = self.packed_fp + self.scalar_fp
        return self.packed_fp / fp if fp else 0.0

    def double_fp_fraction(self) -> float:
        fp = self.packed_fp + self.scalar_fp
        return self.double_fp / fp if fp else 0.0

    def metrics(self) -> dict[str, float]:
        """The headline numbers: of the hot loop when one was picked (a cold tail loop's
        scalar FP or spills must not read as the kernel's), else of everything counted;
        `parallel_regions` is always of the whole functions."""
        if self.hot is None:
            return self._metrics()
        return self.hot.mix._metrics() | {"parallel_regions": float(self.parallel_calls)}

    def _metrics(self) -> dict[str, float]:
        return {
            "packed_simd_fraction": self.packed_simd_fraction(),
            "max_vector_width_bits": float(self.max_vector_width_bits),
            "scalar_fp_instructions": float(self.scalar_fp),
            "packed_fp_instructions": float(self.packed_fp),
            "double_fp_fraction": self.double_fp_fraction(),
            "fp_conversions_in_loops": float(self.conversions),
            "math_calls_in_loops": float(len(self.math_calls)),
            "atomic_instructions_in_loops": float(self.atomics),
            "stack_accesses_in_loops": float(self.stack_accesses),
            "loop_instructions": float(self.counted),
            "parallel_regions": float(self.parallel_calls),
            "branches_in_loops_beyond_loop_control": float(
                max(self.conditional_branches - self.loops, 0)
            ),
        }

    def summary(self) -> str:
        """The hot loop's counts (the headline metrics), then the totals, labelled."""
        if self.note:
            return f"instruction mix not available: {self.note}"
        where = f" of {', '.join(self.symbols)}" if self.symbols else ""
        if self.hot is None or len(self.per_loop) < 2:
            return (
                f"static FP arithmetic/compare instructions in {self.scope}{where} "
                f"({self.counted} of {self.total} instructions): {self._counts_text()}"
            )
        return (
            f"hot loop {self.hot.where()}, {self.hot.mix.counted} instructions, picked by "
            f"{self.hot_method} (the headline metrics describe it): "
            f"{self.hot.mix._counts_text()}. Totals over all {self.scope}{where} "
            f"({self.counted} of {self.total} instructions), cold ones included: "
            f"{self._counts_text()}"
        )

    def _counts_text(self) -> str:
        widths = ", ".join(
            f"{bits}-bit: {n}" for bits, n in sorted(self.packed_fp_by_width.items(), reverse=True)
        )
        return (
            f"{self.packed_fp} packed FP{f' ({widths})' if widths else ''}, {self.scalar_fp} "
            f"scalar; packed SIMD fraction {self.packed_simd_fraction():.2f}; widest packed FP "
            f"{self.max_vector_width_bits} bits{self._hazard_text()}"
        )

    def loop_lines(self, limit: int = 8) -> list[str]:
        """One line per innermost loop, the hot one marked (hottest first, then by place)."""
        ordered = sorted(self.per_loop, key=lambda loop: (loop is not self.hot, loop.where()))
        lines = [loop.describe(hot=loop is self.hot) for loop in ordered[:limit]]
        left = len(ordered) - len(lines)
        return [*lines, f"... and {left} more loops"] if left > 0 else lines

    def _hazard_text(self) -> str:
        parts = [
            f"{self.double_fp} double-precision" if self.double_fp else "",
            f"{self.conversions} float<->double conversions" if self.conversions else "",
            f"calls to {', '.join(sorted(set(self.math_calls)))}" if self.math_calls else "",
            f"{self.atomics} atomic (locked) instructions" if self.atomics else "",
            f"{self.stack_accesses} stack loads/stores" if self.stack_accesses else "",
        ]
        shown = "; ".join(p for p in parts if p)
        return f"; in that code: {shown}" if shown else ""


@dataclass(frozen=True)
class LoopMix:
    """One innermost loop of the disassembly, counted alone."""

    function: str
    offset: int  # of its first instruction, from the function's start (objdump's fn+0x..)
    depth: int  # natural loops of its function that contain it, itself included
    mix: InstructionMix  # its own counts (scope "1 innermost loop")

    def where(self) -> str:
        return f"at {self.function}+{self.offset:#x} (nesting depth {self.depth})"

    def describe(self, hot: bool = False) -> str:
        m = self.mix
        parts = [
            f"{m.counted} instructions",
            f"{m.packed_fp} packed FP ({m.packed_fmas} FMA)" if m.packed_fp else "",
            f"{m.scalar_fp} scalar FP" if m.scalar_fp else "",
            f"calls {', '.join(sorted(set(m.math_calls)))}" if m.math_calls else "",
            f"{m.stack_accesses} stack loads/stores" if m.stack_accesses else "",
            f"{m.atomics} atomics" if m.atomics else "",
            f"{m.conversions} float<->double conversions" if m.conversions else "",
        ]
        label = "HOT loop" if hot else "loop"
        return f"{label} {self.where()}: {', '.join(p for p in parts if p)}"


def pick_hot_loop(loops: list[LoopMix]) -> tuple[LoopMix | None, str]:
    """The loop that most likely runs most, and how it was picked (pure).

    Static estimate: the deepest nest first (what runs inside more loops runs more often),
    then the most packed FMAs, packed FP, any FP, instructions (a vectorised body does the
    work; its remainder loop, at the same depth, runs at most a vector's width of times).
    """
    if not loops:
        return None, ""
    if len(loops) == 1:
        return loops[0], "being the only innermost loop"
    hot = max(
        loops,
        key=lambda loop: (
            loop.depth,
            loop.mix.packed_fmas,
            loop.mix.packed_fp,
            loop.mix.packed_fp + loop.mix.scalar_fp,
            loop.mix.counted,
        ),
    )
    return hot, (
        "static estimate: the deepest loop nest, then the most packed FMAs/FP; no run-time counts"
    )


def select_functions(text: str, functions: list[str] | None) -> str:
    """The disassembly of the named functions and their compiler-made parts only.

    `name` also selects `name.<suffix>` symbols: OpenMP bodies (`name._omp_fn.0`), `.cold`
    and `.part.N` splits. With no names, every .text function except toolchain boilerplate.
    Raises PragmaError naming any function that is not in the disassembly.
    """
    kept, found, keep, section = [], set(), False, ""
    for line in text.splitlines():
        if line.startswith("Disassembly of section "):
            section = line.removeprefix("Disassembly of section ").rstrip(":")
            keep = False
            continue
        if m := _SYMBOL.match(line):
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


def _instructions(text: str) -> list[Insn]:
    """(function, address, mnemonic, operands) for every instruction, prefixes dropped."""
    found, symbol = [], ""
    for line in text.splitlines():
        if m := _SYMBOL.match(line):
            symbol = m["name"]
        elif (m := _INSTRUCTION.match(line)) and not m["insn"].startswith("(bad)"):
            words = m["insn"].split(None, 1)
            locked = False
            while len(words) > 1 and words[0] in _PREFIXES:
                locked |= words[0] == "lock"
                words = words[1].split(None, 1)
            mnemonic = f"lock {words[0]}" if locked else words[0]
            found.append((symbol, int(m["addr"], 16), mnemonic, "".join(words[1:])))
    return found


def _innermost_loops(insns: list[Insn]) -> list[tuple[int, list[Insn]]]:
    """Each innermost natural loop (one that holds no other loop): its nesting depth in its
    function and its instructions.

    Per function: basic blocks from the direct branches, dominators, then back edges (a
    branch to a block that dominates it), as a compiler defines loops. Out-of-line code that
    jumps back into a block laid out earlier is therefore not mistaken for a loop.
    """
    loops = []
    for fn in dict.fromkeys(i[0] for i in insns):
        items = [i for i in insns if i[0] == fn]
        target: dict[int, int | None] = {}
        leaders = {items[0][1]}
        for k, (_, addr, mnemonic, operands) in enumerate(items):
            if _JUMP.fullmatch(mnemonic) or mnemonic.startswith(_NO_FALLTHROUGH):
                b = _BRANCH.fullmatch(operands.split("#")[0].strip())
                target[addr] = int(b["target"], 16) if b and b["symbol"] == fn else None
                leaders |= {target[addr]} | ({items[k + 1][1]} if k + 1 < len(items) else set())
        starts = [k for k, i in enumerate(items) if i[1] in leaders] + [len(items)]
        blocks = [items[a:b] for a, b in zip(starts, starts[1:], strict=False)]
        index = {blk[0][1]: n for n, blk in enumerate(blocks)}
        succ: list[set[int]] = []
        for n, blk in enumerate(blocks):
            last = blk[-1]
            nxt = {index[target[last[1]]]} if target.get(last[1]) in index else set()
            falls = not last[2].startswith(_NO_FALLTHROUGH) and n + 1 < len(blocks)
            succ.append(nxt | ({n + 1} if falls else set()))
        pred: list[set[int]] = [set() for _ in blocks]
        for m, n in ((m, n) for m, ss in enumerate(succ) for n in ss):
            pred[n].add(m)
        reach, todo = {0}, [0]
        while todo:
            for m in succ[todo.pop()] - reach:
                reach.add(m)
                todo.append(m)
        dom = {n: set(reach) for n in reach} | {0: {0}}
        changed = True
        while changed:
            changed = False
            for n in sorted(reach - {0}):
                new = {n} | set.intersection(*(dom[m] for m in pred[n] & reach))
                changed |= new != dom[n]
                dom[n] = new
        body: dict[int, set[int]] = {}
        for tail in reach:
            for head in succ[tail] & dom[tail]:  # a back edge tail -> head
                seen, todo = body.setdefault(head, {head}), [tail]
                while todo:
                    if (m := todo.pop()) not in seen:
                        seen.add(m)
                        todo += pred[m] & reach
        for head, nodes in body.items():
            if not any(h != head and h in nodes for h in body):
                depth = sum(1 for other in body.values() if head in other)
                loops.append((depth, [i for n in sorted(nodes) for i in blocks[n]]))
    return loops


def classify_disassembly(text: str, loops_only: bool = True) -> InstructionMix:
    """Count instructions in `objdump -d --no-show-raw-insn` text (AT&T syntax).

    With `loops_only`, FP arithmetic is counted in innermost loop bodies only (the code that
    runs most often), so scalar remainder and setup code does not dilute a vectorised loop;
    each loop is also counted alone and the hot one picked (see InstructionMix.metrics).
    When there is no loop, everything is counted and `scope` says so.
    """
    fmt = re.search(r"file format (\S+)", text)
    symbols = tuple(m["name"] for m in map(_SYMBOL.match, text.splitlines()) if m)
    if fmt and "x86-64" not in fmt.group(1):
        return InstructionMix(symbols=symbols, note=f"not x86-64 code ({fmt.group(1)})")
    every = _instructions(text)
    loops = _innermost_loops(every) if loops_only else []
    insns = [i for _, loop in loops for i in loop] if loops else every
    scope = f"{len(loops)} innermost loop{'s' * (len(loops) > 1)}" if loops else "whole functions"
    scope += " (no loop found)" if loops_only and not loops else ""
    first = {}  # each function's first address: loops are placed as objdump's fn+0x..
    for function, address, _, _ in every:
        first.setdefault(function, address)
    per_loop = tuple(
        LoopMix(
            loop[0][0],
            loop[0][1] - first[loop[0][0]],
            depth,
            InstructionMix(**_counts(loop, 1), scope="1 innermost loop"),
        )
        for depth, loop in loops
    )
    hot, method = pick_hot_loop(list(per_loop))
    called = [
        b["symbol"] for _, _, m, o in every if m.startswith("call") and (b := _BRANCH.search(o))
    ]
    return InstructionMix(
        **_counts(insns, len(loops)),
        scope=scope,
        parallel_calls=sum(1 for c in called if _PARALLEL_CALL.match(c.split("@")[0])),
        total=len(every),
        symbols=symbols,
        per_loop=per_loop,
        hot=hot,
        hot_method=method,
    )


def _counts(insns: list[Insn], loops: int) -> dict:
    """The FP mix and hazards of `insns`, the body of `loops` innermost loops (0: none)."""
    scalar, packed, fmas = 0, {}, 0
    for _, _, mnemonic, operands in insns:
        if not (arith := _FP_ARITH.fullmatch(mnemonic)):
            continue
        if arith["kind"] in ("ss", "sd"):
            scalar += 1
        else:
            bits = max((_WIDTH[r] for r in _REGISTER.findall(operands)), default=128)
            packed[bits] = packed.get(bits, 0) + 1
            fmas += mnemonic.startswith(("vfm", "vfnm"))
    branches = sum(1 for i in insns if i[2] != "jmp" and _JUMP.fullmatch(i[2]))
    return {
        **_hazards(insns),
        "loops": loops,
        "conditional_branches": branches if loops else 0,
        "counted": len(insns),
        "scalar_fp": scalar,
        "packed_fp_by_width": dict(sorted(packed.items())),
        "packed_fmas": fmas,
        "max_vector_width_bits": max(packed, default=0),
    }


def _hazards(insns: list[Insn]) -> dict:
    """Double precision, conversions, libm calls, atomics and stack traffic in `insns`."""
    double = sum(1 for i in insns if (a := _FP_ARITH.fullmatch(i[2])) and a["kind"] in ("sd", "pd"))
    calls = [
        b["symbol"]
        for _, _, mnemonic, operands in insns
        if mnemonic.startswith("call") and (b := _BRANCH.search(operands))
    ]
    atomics = sum(
        1
        for _, _, mnemonic, operands in insns
        if mnemonic.startswith("lock ") or (mnemonic.startswith("xchg") and "(" in operands)
    )
    atomics += sum(1 for c in calls if c.split("@")[0] in _ATOMIC_CALL)
    return {
        "double_fp": double,
        "conversions": sum(1 for i in insns if _CONVERSION.fullmatch(i[2])),
        "math_calls": tuple(c for c in calls if _MATH_CALL.fullmatch(c)),
        "atomics": atomics,
        "stack_accesses": sum(1 for i in insns if _STACK.search(i[3])),
    }


def instruction_mix(library: Path, functions: list[str] | None = None) -> InstructionMix:
    """Count the FP instructions of `functions` in `library` (see module docstring).

    A zero mix with a `note` off x86-64; PragmaError if objdump is missing or fails, or a
    named function is not in the library.
    """
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return InstructionMix(note=f"the instruction classes are x86-64 only; this is {machine}")
    objdump = shutil.which("objdump")
    if objdump is None:
        raise PragmaError("objdump not found, so no instruction mix. Fix: install binutils")
    command = [objdump, "-d", "--no-show-raw-insn", str(library)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=OBJDUMP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PragmaError(f"objdump timed out after {OBJDUMP_TIMEOUT_S} s on {library}") from None
    if done.returncode != 0:
        raise PragmaError(f"objdump failed on {library}: {done.stderr.strip()[-2000:]}")
    return classify_disassembly(select_functions(done.stdout, functions))
