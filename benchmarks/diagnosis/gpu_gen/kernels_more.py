"""Triton candidate sources, continued: reductions (tiny grid, atomics), row-wise operators
(register spills), powers (divergence) and unfused chains (pure string building)."""

from __future__ import annotations

from .ops import CHAINS, POWERS, ROWWISE

_VALUE = {"sum_all": "x", "sumsq_all": "x * x", "mean_all": "x * inv_n", "row_sum": "x"}


def partial_sums(tag: str, op: str, programs: int) -> str:
    """A grid-stride reduction over `programs` programs into partials, then one program
    sums the partials (the tiny-grid case plants a handful of programs)."""
    value = _VALUE[op]
    k, f = f"_{tag}_k", f"_{tag}_final"
    scale = "1.0 / n" if op == "mean_all" else "1.0"
    return f"""

@triton.jit
def {k}(x_ptr, part_ptr, n, inv_n, PROGRAMS, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(pid * BLOCK, n, PROGRAMS * BLOCK):
        offs = start + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
        acc += {value}
    tl.store(part_ptr + pid, tl.sum(acc, axis=0))


@triton.jit
def {f}(part_ptr, out_ptr, m, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr, tl.sum(tl.load(part_ptr + offs, mask=offs < m, other=0.0), axis=0))


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        n = x.numel()
        programs = {programs}
        part = torch.empty(programs, device=x.device, dtype=torch.float32)
        out = torch.empty(1, device=x.device, dtype=torch.float32)
        {k}[(programs,)](x, part, n, {scale}, programs, BLOCK=1024, num_warps=8)
        {f}[(1,)](part, out, programs, BLOCK=triton.next_power_of_2(programs))
        return out.reshape(())
"""


def atomics(tag: str, op: str, per_element: bool) -> str:
    """Each program adds its block into the output with atomics: one per element (planted:
    all lanes on one address) or one per program after tl.sum (the fix)."""
    value = _VALUE[op]
    target = "row" if op == "row_sum" else "0"
    if per_element:
        add = f"tl.atomic_add(out_ptr + {target} + tl.zeros([BLOCK], tl.int32), v, mask=mask)"
    else:
        add = f"tl.atomic_add(out_ptr + {target}, tl.sum(tl.where(mask, v, 0.0), axis=0))"
    shape = "R" if op == "row_sum" else "1"
    result = "out" if op == "row_sum" else "out.reshape(())"
    k, z = f"_{tag}_k", f"_{tag}_zero"
    return f"""

@triton.jit
def {z}(out_ptr, m, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.zeros([BLOCK], tl.float32), mask=offs < m)


@triton.jit
def {k}(x_ptr, out_ptr, C, inv_n, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < C
    x = tl.load(x_ptr + row.to(tl.int64) * C + cols, mask=mask, other=0.0)
    v = {value}
    {add}


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        R, C = x.shape
        out = torch.empty({shape}, device=x.device, dtype=torch.float32)
        {z}[(triton.cdiv(out.numel(), 1024),)](out, out.numel(), BLOCK=1024)
        {k}[(R, triton.cdiv(C, 1024))](x, out, C, 1.0 / x.numel(), BLOCK=1024, num_warps=4)
        return {result}
"""


_ROW_OTHER = {"softmax": "-float('inf')", "log_softmax": "-float('inf')"}


def rowwise(tag: str, op: str, num_warps: int) -> str:
    """One program per row holding the whole row: at one warp, hundreds of values per
    thread spill (planted); at 16 warps a few dozen fit in registers (the fix)."""
    body = ROWWISE[op][1]
    other = _ROW_OTHER.get(op, "0.0")
    k = f"_{tag}_k"
    return f"""

@triton.jit
def {k}(x_ptr, y_ptr, N, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(x_ptr + row * N + cols, mask=mask, other={other})
    {body}
    tl.store(y_ptr + row * N + cols, y, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        R, C = x.shape
        {k}[(R,)](x, y, C, BLOCK=triton.next_power_of_2(C), num_warps={num_warps})
        return y
"""


_POW_LOOP_PTX = '''"""{
.reg .pred %p_done;
.reg .s32 %trips;
mov.f32 $0, 0f3F800000;
mov.s32 %trips, $2;
POW_LOOP:
setp.le.s32 %p_done, %trips, 0;
@%p_done bra POW_DONE;
mul.rn.f32 $0, $0, $1;
sub.s32 %trips, %trips, 1;
bra POW_LOOP;
POW_DONE:
}"""'''


def powers(tag: str, op: str, divergent: bool) -> str:
    """x ** e per element: a per-lane PTX loop of e multiplies (planted: lanes leave at
    different trips; the interpreter, which cannot run PTX, takes a masked loop with the
    same products) or branch-free square-and-multiply over 10 bits (the fix)."""
    wrap = POWERS[op][1]
    k = f"_{tag}_k"
    if divergent:
        power = """if USE_PTX:
        p = tl.inline_asm_elementwise(PTX, "=f,f,r", [x, e], dtype=tl.float32, is_pure=True, pack=1)
    else:
        p = tl.full([BLOCK], 1.0, tl.float32)
        for i in range(0, tl.max(e, axis=0)):
            p = tl.where(i < e, p * x, p)"""
    else:
        power = """p = tl.full([BLOCK], 1.0, tl.float32)
    base = x
    for bit in tl.static_range(10):
        p = tl.where(((e >> bit) & 1) != 0, p * base, p)
        base = base * base"""
    return f"""
PTX = {_POW_LOOP_PTX}


@triton.jit
def {k}(x_ptr, e_ptr, y_ptr, n, BLOCK: tl.constexpr, PTX: tl.constexpr, USE_PTX: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1.0)
    e = tl.load(e_ptr + offs, mask=mask, other=0)
    {power}
    y = {wrap}
    tl.store(y_ptr + offs, y, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x, e):
        x = x.contiguous()
        e = e.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        use_ptx = x.device.type != "cpu"  # the interpreter (CPU tensors) cannot run PTX
        {k}[(triton.cdiv(n, 1024),)](x, e, y, n, BLOCK=1024, PTX=PTX, USE_PTX=use_ptx, num_warps=4)
        return y
"""


def chain(tag: str, op: str) -> str:
    """Each step of the operator its own kernel, its result a full tensor in DRAM."""
    parts, calls = [], []
    for index, (out, expr, inputs) in enumerate(CHAINS[op]):
        k = f"_{tag}_s{index}"
        pointers = ", ".join(f"{name}_ptr" for name in inputs)
        loads = "\n    ".join(
            f"{name} = tl.load({name}_ptr + offs, mask=mask, other=0.0)" for name in inputs
        )
        parts.append(
            f"""

@triton.jit
def {k}({pointers}, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    {loads}
    tl.store(out_ptr + offs, {expr}, mask=mask)
"""
        )
        args = ", ".join(f"t['{name}']" for name in inputs)
        calls.append(
            f"t['{out}'] = torch.empty_like(x)\n"
            f"        {k}[grid]({args}, t['{out}'], n, BLOCK=1024, num_warps=4)"
        )
    body = "\n        ".join(calls)
    return (
        "".join(parts)
        + f"""

class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        n = x.numel()
        grid = (triton.cdiv(n, 1024),)
        t = {{"x": x}}
        {body}
        return t["y"]
"""
    )
