"""Shared-memory bank conflicts of a Triton kernel, estimated from its PTX without a GPU.

The PTX is evaluated once per lane of one warp as straight-line code (branches ignored; Triton's
shared-memory address arithmetic is integer math on %tid.x, constants and the smem base), and
every ld.shared / st.shared gets its addresses for the 32 lanes. Wavefronts per instruction
follow the usual model: 32 banks of 4 bytes; lanes are served in groups of 32 (4-byte
accesses), 16 (8-byte) or 8 (16-byte); within a group, the wavefronts are the largest number of
distinct words any bank holds (equal words broadcast). `ways` = wavefronts / ideal wavefronts.

An estimate for reading the planted cases, not a profiler: it sees one warp (warp_id given),
ignores predicates it cannot evaluate (those lanes count as active), and gives up (None) when an
address depends on a value loaded from memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MASK = {32: (1 << 32) - 1, 64: (1 << 64) - 1, 16: (1 << 16) - 1, 8: 255, 1: 1}


@dataclass
class SharedAccess:
    line: int
    kind: str  # "ld" | "st"
    width: int  # bytes per lane
    wavefronts: int
    ideal: int

    @property
    def ways(self) -> float:
        return self.wavefronts / self.ideal


def _bits(typ: str) -> int:
    m = re.search(r"(\d+)$", typ)
    return int(m.group(1)) if m else 32


def _signed(v: int, bits: int) -> int:
    v &= _MASK[bits]
    return v - (1 << bits) if v >> (bits - 1) else v


class _Lane:
    def __init__(self, tid: int, params: dict[str, int]):
        self.regs: dict[str, int | None] = {}
        self.tid = tid
        self.params = params

    def val(self, tok: str) -> int | None:
        tok = tok.strip()
        if tok in ("%tid.x",):
            return self.tid
        if tok in ("%tid.y", "%tid.z", "%ctaid.x", "%ctaid.y", "%ctaid.z"):
            return 0
        if tok == "global_smem":
            return 0
        if tok.startswith("%"):
            return self.regs.get(tok)
        if tok.startswith("0f"):
            return None
        if tok.lower().startswith("0x"):
            return int(tok, 16)
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        return None


_BINOPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "shl": lambda a, b: a << b,
    "mul": lambda a, b: a * b,
}


def _step(lane: _Lane, op: str, args: list[str]) -> None:
    parts = op.split(".")
    base, typ = parts[0], parts[-1]
    bits = _bits(typ)
    if base in ("mov", "cvta"):
        lane.regs[args[0]] = lane.val(args[-1])
        return
    if base == "ld" and parts[1] == "param":
        lane.regs[args[0]] = lane.params.get(args[1].strip("[] ").split("+")[0], 0)
        return
    vals = [lane.val(a) for a in args[1:]]
    if any(v is None for v in vals) and base not in ("selp",):
        lane.regs[args[0]] = None
        return
    if base in _BINOPS and len(vals) == 2:
        a, b = vals
        if "wide" in parts:
            res = _signed(a, 32) * _signed(b, 32) if typ.startswith("s") else a * b
            lane.regs[args[0]] = res & _MASK[64]
        else:
            lane.regs[args[0]] = _BINOPS[base](a, b) & _MASK[bits]
    elif base == "shr":
        a, b = vals
        lane.regs[args[0]] = (_signed(a, bits) >> b if typ.startswith("s") else a >> b) & _MASK[
            bits
        ]
    elif base == "mad":
        a, b, c = vals
        lane.regs[args[0]] = (a * b + c) & _MASK[64 if "wide" in parts else bits]
    elif base == "cvt":
        src_bits = _bits(parts[-1])
        v = vals[0] & _MASK[src_bits]
        if parts[-1].startswith("s"):
            v = _signed(v, src_bits)
        lane.regs[args[0]] = v & _MASK[_bits(parts[-2])]
    elif base == "bfe":
        a, pos, ln = vals
        v = (a >> pos) & ((1 << ln) - 1)
        if typ.startswith("s") and ln and v >> (ln - 1):
            v -= 1 << ln
        lane.regs[args[0]] = v & _MASK[bits]
    elif base == "setp":
        a, b = vals
        if typ.startswith("s"):
            a, b = _signed(a, bits), _signed(b, bits)
        cmp = parts[1]
        res = {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "eq": a == b, "ne": a != b}
        lane.regs[args[0]] = int(res.get(cmp, True))
    elif base == "selp":
        a, b, p = vals
        lane.regs[args[0]] = None if p is None else (a if p else b)
    else:
        lane.regs[args[0]] = None


_INSTR = re.compile(r"^\s*(@!?%\w+\s+)?([a-z][\w.:]*)\s+(.*?);")


def _wavefronts(addresses: list[int], width: int) -> tuple[int, int]:
    group = {4: 32, 8: 16, 16: 8}.get(width, 32)
    total = ideal = 0
    for g in range(0, len(addresses), group):
        words_per_bank: dict[int, set[int]] = {}
        for addr in addresses[g : g + group]:
            for off in range(0, max(width, 4), 4):
                word = (addr + off) // 4
                words_per_bank.setdefault(word % 32, set()).add(word)
        if words_per_bank:
            total += max(len(words) for words in words_per_bank.values())
            ideal += 1
    return total, ideal


def shared_accesses(ptx: str, warp_id: int = 0, params: dict[str, int] | None = None):
    """Wavefronts of every shared-memory load/store in the PTX, for lanes of `warp_id`."""
    lanes = [_Lane(32 * warp_id + i, params or {}) for i in range(32)]
    out: list[SharedAccess] = []
    for lineno, line in enumerate(ptx.splitlines()):
        m = _INSTR.match(line)
        if not m:
            continue
        guard, op, rest = m.groups()
        args = [a.strip() for a in re.split(r",(?![^{]*})", rest)]
        if op.startswith(("st.shared", "ld.shared")):
            kind = "st" if op.startswith("st") else "ld"
            vec = 4 if ".v4" in op else 2 if ".v2" in op else 1
            width = vec * _bits(op) // 8
            mem = args[0] if kind == "st" else args[-1]
            mm = re.match(r"\[\s*(%\w+)\s*(?:\+\s*(-?\d+))?\s*\]", mem)
            if not mm:
                continue
            addrs = []
            for lane in lanes:
                if guard:
                    p = lane.val(guard.strip().lstrip("@!"))
                    on = p is None or bool(p) != guard.strip().startswith("@!")
                    if not on:
                        continue
                base = lane.val(mm.group(1))
                if base is None:
                    addrs = None
                    break
                addrs.append(base + int(mm.group(2) or 0))
            if addrs:
                wf, ideal = _wavefronts(addrs, width)
                out.append(SharedAccess(lineno, kind, width, wf, ideal))
            if kind == "ld":
                for lane in lanes:
                    for reg in re.findall(r"%\w+", args[0]):
                        lane.regs[reg] = None
            continue
        if op.startswith(("ld.global", "atom", "ld.shared", "shfl", "red")):
            for lane in lanes:
                for reg in re.findall(r"%\w+", args[0]):
                    lane.regs[reg] = None
            continue
        if not args or not args[0].startswith("%") or op.startswith(("st.", "bar", "bra")):
            continue
        for lane in lanes:
            try:
                _step(lane, op, args)
            except (TypeError, ValueError, KeyError):
                lane.regs[args[0]] = None
    return out


def summary(ptx: str, warp_id: int = 0) -> dict[str, float | int | None]:
    """Requests and average ways (wavefronts / ideal) of shared loads and stores."""
    acc = shared_accesses(ptx, warp_id)
    res: dict[str, float | int | None] = {}
    for kind in ("ld", "st"):
        xs = [a for a in acc if a.kind == kind]
        res[f"smem_{kind}_instr"] = len(xs)
        res[f"smem_{kind}_ways"] = (
            round(sum(a.wavefronts for a in xs) / sum(a.ideal for a in xs), 2) if xs else None
        )
    return res
