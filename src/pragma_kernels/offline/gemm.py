"""Recognising matrix products from the recorded operators: `mm`, `bmm` and `mv` on views
of the inputs (transposes, leading dims folded into M as `matmul` and `einsum` do for a
tensor times a matrix), with `triu` / `tril` of the product as an epilogue; a diagonal
matrix times a matrix (`diag(a) @ B`, or `a.unsqueeze(1) * B`); a matrix times a scalar
input (`A * s`).

Operands are traced to the inputs by storage, not by the chain of view operators: an
operand that is a full, unsliced view of a contiguous input, row-major or transposed in
its last two dims, is that input (the candidate re-reads it with strides); anything else
(a computed operand, a slice) is unsupported with the reason. The sizes are read again
from the inputs at run time; those recorded are what the templates tune for.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Number

from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported

MATMULS = {"aten.mm.default", "aten.bmm.default", "aten.mv.default"}
EPILOGUES = {"aten.triu.default": "triu", "aten.tril.default": "tril"}
DIAGS = {"aten.diag_embed.default", "aten.diag.default"}
MUL = "aten.mul.Tensor"
LAYOUT = {
    "aten.view.default",
    "aten._unsafe_view.default",
    "aten.reshape.default",
    "aten.permute.default",
    "aten.transpose.int",
    "aten.t.default",
    "aten.unsqueeze.default",
    "aten.squeeze.dim",
    "aten.squeeze.default",
    "aten.expand.default",
    "aten.alias.default",
    "aten.slice.Tensor",  # allowed through, then refused by _operand unless it takes all
    "aten.select.int",
}


@dataclass(frozen=True)
class Operand:
    input: int  # which of forward's inputs
    trans: bool  # the input holds the matrix transposed: its last two dims are (cols, rows)


@dataclass(frozen=True)
class Gemm:
    """C = op(A) @ op(B), per batch; or a diagonal / scalar scaling (then `b` is the other
    input: the matrix scaled, or None for a scalar)."""

    kind: str  # "matmul" | "matvec" | "diag" | "scale"
    a: Operand
    b: Operand | None
    m: int
    n: int
    k: int
    batch: int = 1
    batched: bool = False  # both operands carry a batch dim (bmm); else A's lead folds into M
    epilogue: str = ""  # "" | "triu" | "tril" (of each product matrix)
    diagonal: int = 0  # triu / tril's diagonal
    side: str = "left"  # diag: "left" diag(a) @ B scales rows, "right" B @ diag(a) columns
    vector: bool = False  # matvec: B and the output are 1-D (aten.mv)
    folded: int = 0  # how many leading dims of A fold into M (3-D, 4-D tensor times matrix)

    def describe(self) -> str:
        """What matched, in words: the recognition report a user reads."""
        if self.kind == "scale":
            return f"matrix-scalar: input {self.a.input} times scalar input {self.b.input}"
        if self.kind == "diag":
            scaled = "rows" if self.side == "left" else "columns"
            return f"diagonal matrix product: {scaled} of a {self.m}x{self.n} matrix scaled"
        trans = [name for name, op in (("A", self.a), ("B", self.b)) if op.trans]
        parts = [f"{self.kind} M={self.m} N={self.n} K={self.k}"]
        parts.append(f"batch={self.batch}" if self.batched else "")
        parts.append(f"{self.folded} leading dims of A folded into M" if self.folded else "")
        parts.append(f"transposed {'+'.join(trans)}" if trans else "")
        parts.append(f"{self.epilogue}(diagonal={self.diagonal})" if self.epilogue else "")
        return ", ".join(p for p in parts if p)

    @property
    def fold(self) -> bool:
        return not self.batched and not self.a.trans and self.kind in ("matmul", "matvec")


def match_gemm(calls: list[OpCall], inputs: list, output_id, names: list[str]):
    """A `Recognised` gemm, an unsupported one with the reason, or None: no matrix product
    (nor diagonal / scalar scaling) at all."""
    if output_id is None or not calls:
        return None
    if any(hasattr(x, "is_floating_point") and not x.is_floating_point() for x in inputs):
        return None
    products = [c for c in calls if c.name in MATMULS]
    if products:
        return _matmul(calls, products, inputs, output_id, names)
    if len(calls) == 1 and calls[0].name == MUL and calls[0].output == output_id:
        return _scale(calls[0], inputs, names)
    muls = [c for c in calls if c.name == MUL]
    if len(muls) == 1 and muls[0].output == output_id:
        return _diag_mul(calls, muls[0], inputs, names)
    return None


# -- matrix products --------------------------------------------------------------------------


def _matmul(calls, products, inputs, output_id, names):
    if len(products) != 1:
        return unsupported(f"{len(products)} matrix products (the template has one)", names)
    product = products[0]
    where = calls.index(product)
    before, after = calls[:where], calls[where + 1 :]
    extra = [c.name for c in before if c.name not in LAYOUT | DIAGS]
    extra += [c.name for c in after if c.name not in LAYOUT | set(EPILOGUES)]
    if extra:
        return unsupported(f"a matrix product with {', '.join(extra)} (no template)", names)
    epilogue = _epilogue(after, product)
    if isinstance(epilogue, str):
        return unsupported(epilogue, names)
    out = next((c.result for c in calls if c.output == output_id), None)
    last = next((c.result for c in after if c.name in EPILOGUES), product.result)
    whole = out is not None and out.numel() == last.numel() and out.storage_offset() == 0
    if not whole or not _same_storage(out, last) or not out.is_contiguous():
        return unsupported("the product is not returned as it is (only reshaped)", names)
    diag = [c for c in before if c.name in DIAGS]
    if diag:
        return _diag_product(diag, product, inputs, out, names)
    return _plain_product(product, inputs, out, epilogue, names)


def _epilogue(after: list[OpCall], product: OpCall) -> tuple[str, int] | str:
    """("triu" | "tril" | "", diagonal), or why the calls after the product do not fit."""
    found = [c for c in after if c.name in EPILOGUES]
    if not found:
        return "", 0
    call = found[0]
    if len(found) > 1 or call.args[0] is not product.result:
        return "triu / tril applied other than once, directly to the product"
    diagonal = call.args[1] if len(call.args) > 1 else call.kwargs.get("diagonal", 0)
    return EPILOGUES[call.name], int(diagonal)


def _plain_product(product, inputs, out, epilogue, names):
    a_view, b_view = product.args[0], product.args[1]
    a, b = _operand(a_view, inputs), _operand(b_view, inputs)
    if a is None or b is None:
        return unsupported(
            "a product operand that is not a whole input (computed or sliced)", names
        )
    vector = product.name == "aten.mv.default"
    batch = a_view.shape[0] if product.name == "aten.bmm.default" else 1
    m, k = a_view.shape[-2], a_view.shape[-1]
    n = 1 if vector else b_view.shape[-1]
    batched = batch > 1
    kind = "matvec" if (n == 1 and not batched and not epilogue[0]) else "matmul"
    folded = 0 if batched or a.trans else inputs[a.input].dim() - 2
    spec = Gemm(kind, a, b, m, n, k, batch, batched, *epilogue, vector=vector, folded=folded)
    if sizes(spec, [x.shape for x in inputs]) != (batch, m, n, k):
        return unsupported("operand layouts the template does not read (a fold or batch)", names)
    if tuple(out.shape) != output_shape(spec, [x.shape for x in inputs]):
        return unsupported(f"an output shaped {tuple(out.shape)} from the product", names)
    return Recognised("gemm", ops=names, kind=kind, shape=tuple(out.shape), spec=spec)


def _operand(view, inputs) -> Operand | None:
    """The input `view` reads whole, and whether its last two dims are transposed."""
    for index, x in enumerate(inputs):
        if not (hasattr(x, "untyped_storage") and _same_storage(view, x)):
            continue
        if not x.is_contiguous() or view.numel() != x.numel() or view.storage_offset() != 0:
            return None
        if view.dim() == 1:
            return Operand(index, False)
        rows, cols = view.shape[-2], view.shape[-1]
        row_stride, col_stride = view.stride()[-2], view.stride()[-1]
        batch_ok = view.dim() == 2 or view.shape[0] == 1 or view.stride()[0] == rows * cols
        if not batch_ok:
            return None
        if (col_stride == 1 or cols == 1) and (row_stride == cols or rows == 1):
            return Operand(index, False)
        if (row_stride == 1 or rows == 1) and (col_stride == rows or cols == 1):
            return Operand(index, True)
        return None
    return None


def _same_storage(x, y) -> bool:
    if x is None or y is None:
        return False
    # The storage object's identity, not its address: fake tensors (recognition records
    # shapes only) all have address 0.
    return x.untyped_storage()._cdata == y.untyped_storage()._cdata


def sizes(spec: Gemm, shapes: list) -> tuple[int, int, int, int]:
    """(batch, M, N, K) from the inputs' shapes, as the candidate reads them at run time."""
    a, b = shapes[spec.a.input], shapes[spec.b.input]
    batch = a[0] if spec.batched else 1
    if spec.a.trans:
        k, m = a[-2], a[-1]
    else:
        k = a[-1]
        m = a[-2] if spec.batched else _numel(a) // max(k, 1)
    if spec.vector:
        return batch, m, 1, k
    n = b[-2] if spec.b.trans else b[-1]
    return batch, m, n, k


def output_shape(spec: Gemm, shapes: list) -> tuple[int, ...]:
    """The reference's output shape: a batch of M x N, A's leading dims then N, or M."""
    batch, m, n, _ = sizes(spec, shapes)
    a = shapes[spec.a.input]
    if spec.vector:
        return (m,)
    if spec.batched:
        return (batch, m, n)
    if spec.fold:
        return (*a[:-1], n)
    return (m, n)


def _numel(shape) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


# -- diagonal and scalar scaling --------------------------------------------------------------


def _diag_product(diag, product, inputs, out, names):
    """diag(a) @ B or B @ diag(a): a scaling of B's rows or columns, not a product."""
    (call,) = diag
    vector = _operand(call.args[0], inputs)
    left = product.args[0] is call.result
    matrix = _operand(product.args[1 if left else 0], inputs)
    if vector is None or matrix is None or matrix.trans or call.args[0].dim() != 1:
        return unsupported("a diagonal matrix from something other than a 1-D input", names)
    if (product.args[1] if left else product.args[0]) is call.result:
        return unsupported("a product of two diagonal matrices", names)
    if len(call.args) > 1 or call.kwargs or product.name != "aten.mm.default":
        return unsupported("an off-centre or batched diagonal", names)
    return _diag(vector, matrix, out, "left" if left else "right", names)


def _diag_mul(calls, mul, inputs, names):
    """`a.unsqueeze(1) * B` (rows) or `a * B` (columns), a 1-D `a` and a 2-D `B`."""
    if any(c.name not in LAYOUT for c in calls if c is not mul):
        return None
    tensors = [x for x in mul.args[:2] if hasattr(x, "untyped_storage")]
    if len(tensors) != 2:
        return None
    found = [(_operand(x, inputs), x) for x in tensors]
    if any(op is None for op, _ in found):
        return None
    (v, v_view), (mat, m_view) = sorted(found, key=lambda f: inputs[f[0].input].dim())
    if inputs[v.input].dim() != 1 or inputs[mat.input].dim() != 2 or mat.trans:
        return None
    if tuple(m_view.shape) != tuple(inputs[mat.input].shape):
        return None
    rows = v_view.dim() == 2 and v_view.shape[-1] == 1 and v_view.shape[0] == m_view.shape[0]
    cols = v_view.shape[-1] == m_view.shape[-1] and (v_view.dim() == 1 or v_view.shape[0] == 1)
    if not (rows or cols) or rows and cols:  # a 1x1 matrix: either, leave it to pointwise
        return None
    return _diag(v, mat, mul.result, "left" if rows else "right", names)


def _diag(vector: Operand, matrix: Operand, out, side: str, names):
    m, n = out.shape[0], out.shape[1]
    spec = Gemm("diag", vector, matrix, m, n, 1, side=side)
    return Recognised("gemm", ops=names, kind="diag", shape=tuple(out.shape), spec=spec)


def _scale(call: OpCall, inputs, names):
    """`A * s` with `s` a Python number among the inputs (KernelBench passes it so)."""
    tensor, scalar = call.args[0], call.args[1]
    numbers = [i for i, x in enumerate(inputs) if isinstance(x, Number) and not isinstance(x, bool)]
    tensors = [i for i, x in enumerate(inputs) if hasattr(x, "untyped_storage")]
    if len(numbers) != 1 or len(tensors) != 1 or inputs[tensors[0]] is not tensor:
        return None
    if not isinstance(scalar, Number) or scalar != inputs[numbers[0]]:
        return None
    if not tensor.is_floating_point():
        return None
    spec = Gemm("scale", Operand(tensors[0], False), Operand(numbers[0], False), 0, 0, 0)
    return Recognised("gemm", ops=names, kind="scale", shape=tuple(tensor.shape), spec=spec)
