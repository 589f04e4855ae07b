"""A chain of pointwise aten operators as one expression, emitted as C++ or Triton.

Built from the recorded operator calls: each call's result becomes a node over
its operands (earlier results, the inputs x0, x1, ..., or scalar constants).
Only operators whose every tensor operand has the output's shape are accepted,
so the fused kernel reads each input once and writes the output once (a total over every
element may also read inputs that broadcast to it: `build_expression(broadcast=True)`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class PointwiseUnsupported(Exception):
    """An operator (or a use of one) that the pointwise family does not cover."""


@dataclass(frozen=True)
class Node:
    op: str  # "input", "const", or an operator name below
    args: tuple = ()
    value: float = 0.0  # const value / input index / operator parameter


@dataclass(frozen=True)
class Expression:
    root: Node

    def c(self) -> str:
        return _emit(self.root, _C)

    def triton(self) -> str:
        return _emit(self.root, _TRITON)


def _const(value) -> Node:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PointwiseUnsupported(f"non-numeric scalar operand {value!r}")
    return Node("const", value=float(value))


# aten name -> (our op, how many tensor-or-scalar operands it reads from args)
_UNARY = {
    "aten.relu.default": "relu",
    "aten.sigmoid.default": "sigmoid",
    "aten.tanh.default": "tanh",
    "aten.abs.default": "abs",
    "aten.neg.default": "neg",
    "aten.exp.default": "exp",
    "aten.log.default": "log",
    "aten.sqrt.default": "sqrt",
    "aten.rsqrt.default": "rsqrt",
    "aten.erf.default": "erf",
    "aten.reciprocal.default": "reciprocal",
    "aten.log1p.default": "log1p",
}
_BINARY = {
    "aten.add.Tensor": "add",
    "aten.sub.Tensor": "sub",
    "aten.mul.Tensor": "mul",
    "aten.div.Tensor": "div",
    "aten.maximum.default": "max",
    "aten.minimum.default": "min",
    "aten.xlogy.Tensor": "xlogy",
    "aten.add.Scalar": "add",
    "aten.sub.Scalar": "sub",
    "aten.mul.Scalar": "mul",
    "aten.div.Scalar": "div",
}


def build_expression(
    calls, input_ids: list[int], output_id: int, shape: tuple, broadcast: bool = False
) -> Expression:
    """The expression computing `output_id`; every tensor operand has `shape`, or with
    `broadcast` one that broadcasts to it (pointwise steps commute with broadcasting, so
    each node is evaluated at the full shape's index, its inputs read by strides)."""
    import torch

    nodes: dict[int, Node] = {tid: Node("input", value=i) for i, tid in enumerate(input_ids)}

    def fits(value) -> bool:
        if tuple(value.shape) == shape:
            return True
        try:
            return broadcast and tuple(torch.broadcast_shapes(value.shape, shape)) == shape
        except RuntimeError:
            return False

    def operand(value) -> Node:
        if isinstance(value, torch.Tensor):
            if id(value) not in nodes:
                raise PointwiseUnsupported("reads a tensor that is neither an input nor a result")
            if not fits(value):
                raise PointwiseUnsupported("broadcasts a tensor of another shape")
            return nodes[id(value)]
        return _const(value)

    for call in calls:
        args = call.args
        if call.name in _UNARY:
            node = Node(_UNARY[call.name], (operand(args[0]),))
        elif call.name in _BINARY:
            alpha = call.kwargs.get("alpha", args[2] if len(args) > 2 else 1)
            right = operand(args[1])
            if alpha != 1:
                right = Node("mul", (right, _const(alpha)))
            node = Node(_BINARY[call.name], (operand(args[0]), right))
        elif call.name in ("aten.rsub.Scalar", "aten.rsub.Tensor"):  # other - alpha * x
            alpha = call.kwargs.get("alpha", args[2] if len(args) > 2 else 1)
            scaled = operand(args[0])
            if alpha != 1:
                scaled = Node("mul", (scaled, _const(alpha)))
            node = Node("sub", (operand(args[1]), scaled))
        elif call.name == "aten.gelu.default":
            approximate = call.kwargs.get("approximate", args[1] if len(args) > 1 else "none")
            node = Node("gelu_tanh" if approximate == "tanh" else "gelu", (operand(args[0]),))
        elif call.name == "aten.pow.Tensor_Scalar":
            exponent = args[1]
            if exponent not in (2, 3, 0.5, -1):
                raise PointwiseUnsupported(f"pow with exponent {exponent}")
            base = operand(args[0])
            node = {
                2: Node("mul", (base, base)),
                3: Node("mul", (base, Node("mul", (base, base)))),
                0.5: Node("sqrt", (base,)),
                -1: Node("reciprocal", (base,)),
            }[exponent]
        elif call.name in ("aten.clamp.default", "aten.hardtanh.default"):
            # clamp's missing bound is None (no bound); hardtanh's are -1 and 1
            default = (None, None) if call.name == "aten.clamp.default" else (-1.0, 1.0)
            low = args[1] if len(args) > 1 else call.kwargs.get("min", default[0])
            high = args[2] if len(args) > 2 else call.kwargs.get("max", default[1])
            node = operand(args[0])
            if low is not None:
                node = Node("max", (node, _const(low)))
            if high is not None:
                node = Node("min", (node, _const(high)))
        elif call.name == "aten.leaky_relu.default":
            slope = args[1] if len(args) > 1 else call.kwargs.get("negative_slope", 0.01)
            node = Node("leaky_relu", (operand(args[0]),), float(slope))
        elif call.name == "aten.elu.default":  # scale * elu(x, alpha): SELU's form too
            alpha = args[1] if len(args) > 1 else 1.0
            scale = args[2] if len(args) > 2 else 1
            if len(args) > 3 and args[3] != 1:
                raise PointwiseUnsupported("elu with input_scale")
            node = Node("elu", (operand(args[0]),), float(alpha))
            if scale != 1:
                node = Node("mul", (node, _const(scale)))
        elif call.name == "aten.hardsigmoid.default":  # relu6(x + 3) / 6, as torch computes it
            shifted = Node("add", (operand(args[0]), _const(3.0)))
            clamped = Node("min", (Node("max", (shifted, _const(0.0))), _const(6.0)))
            node = Node("div", (clamped, _const(6.0)))
        elif call.name == "aten.softplus.default":
            beta = args[1] if len(args) > 1 else 1
            threshold = args[2] if len(args) > 2 else 20
            if beta != 1 or threshold != 20:
                raise PointwiseUnsupported("softplus with beta or threshold")
            node = Node("softplus", (operand(args[0]),))
        else:
            raise PointwiseUnsupported(f"operator {call.name}")
        if call.output is None:
            raise PointwiseUnsupported(f"{call.name} returns no single tensor")
        nodes[call.output] = node
    if output_id not in nodes or nodes[output_id].op == "input":
        raise PointwiseUnsupported("the output is not computed by pointwise operators")
    return Expression(nodes[output_id])


def _literal_c(value: float) -> str:
    if math.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    return f"{value!r}f" if "e" in repr(value) or "." in repr(value) else f"{value}.0f"


def _literal_triton(value: float) -> str:
    if math.isinf(value):
        return "float('inf')" if value > 0 else "float('-inf')"
    return repr(float(value))


_SQRT_2_OVER_PI = 0.7978845608028654
_C = {
    "literal": _literal_c,
    "input": lambda i: f"v{i}",
    # Selects, not fmaxf/fminf: without -ffinite-math-only GCC calls libm for those, one
    # call per element (ReLU 16x slower than eager at 262k floats); a select vectorises
    # and propagates NaN as torch does.
    "relu": "((({0}) != ({0}) || ({0}) > 0.0f) ? ({0}) : 0.0f)",
    "sigmoid": "(1.0f / (1.0f + expf(-({0}))))",
    "tanh": "tanhf({0})",
    "abs": "fabsf({0})",
    "neg": "(-({0}))",
    "exp": "expf({0})",
    "log": "logf({0})",
    "sqrt": "sqrtf({0})",
    "rsqrt": "(1.0f / sqrtf({0}))",
    "erf": "pk_erf({0})",  # templates/base.py CPP_ERF: vectorises, libm's erff does not
    "reciprocal": "(1.0f / ({0}))",
    "log1p": "log1pf({0})",
    "add": "({0} + {1})",
    "sub": "({0} - {1})",
    "mul": "({0} * {1})",
    "div": "({0} / {1})",
    "max": "((({0}) != ({0}) || ({0}) > ({1})) ? ({0}) : ({1}))",
    "min": "((({0}) != ({0}) || ({0}) < ({1})) ? ({0}) : ({1}))",
    # x * log(y), 0 where x is 0 (unless y is NaN), as torch.xlogy
    "xlogy": "((({0}) == 0.0f && ({1}) == ({1})) ? 0.0f : ({0}) * logf({1}))",
    "gelu": "(0.5f * ({0}) * (1.0f + pk_erf(({0}) * 0.7071067811865476f)))",
    "gelu_tanh": (
        "(0.5f * ({0}) * (1.0f + tanhf("
        + f"{_SQRT_2_OVER_PI}f"
        + " * (({0}) + 0.044715f * ({0}) * ({0}) * ({0})))))"
    ),
    "leaky_relu": "(({0}) > 0.0f ? ({0}) : {p} * ({0}))",
    "elu": "(({0}) > 0.0f ? ({0}) : {p} * (expf({0}) - 1.0f))",
    "softplus": "(({0}) > 20.0f ? ({0}) : log1pf(expf({0})))",
}
_TRITON = {
    "literal": _literal_triton,
    "input": lambda i: f"v{i}",
    "relu": "tl.maximum({0}, 0.0)",
    "sigmoid": "tl.sigmoid({0})",
    "tanh": "(2.0 * tl.sigmoid(2.0 * ({0})) - 1.0)",
    "abs": "tl.abs({0})",
    "neg": "(-({0}))",
    "exp": "tl.exp({0})",
    "log": "tl.log({0})",
    "sqrt": "tl.sqrt({0})",
    "rsqrt": "tl.rsqrt({0})",
    "erf": "tl.erf({0})",
    "reciprocal": "(1.0 / ({0}))",
    "log1p": "tl.log(1.0 + ({0}))",
    "add": "({0} + {1})",
    "sub": "({0} - {1})",
    "mul": "({0} * {1})",
    "div": "({0} / {1})",
    "max": "tl.maximum({0}, {1})",
    "min": "tl.minimum({0}, {1})",
    "xlogy": "tl.where((({0}) == 0.0) & (({1}) == ({1})), 0.0, ({0}) * tl.log({1}))",
    "gelu": "(0.5 * ({0}) * (1.0 + tl.erf(({0}) * 0.7071067811865476)))",
    "gelu_tanh": (
        "(0.5 * ({0}) * (1.0 + (2.0 * tl.sigmoid(2.0 * "
        + f"{_SQRT_2_OVER_PI}"
        + " * (({0}) + 0.044715 * ({0}) * ({0}) * ({0}))) - 1.0)))"
    ),
    "leaky_relu": "tl.where(({0}) > 0.0, ({0}), {p} * ({0}))",
    "elu": "tl.where(({0}) > 0.0, ({0}), {p} * (tl.exp({0}) - 1.0))",
    "softplus": "tl.where(({0}) > 20.0, ({0}), tl.log(1.0 + tl.exp({0})))",
}


def _emit(node: Node, table: dict) -> str:
    if node.op == "const":
        return table["literal"](node.value)
    if node.op == "input":
        return table["input"](int(node.value))
    children = [_emit(child, table) for child in node.args]
    parameter = table["literal"](node.value)
    return table[node.op].format(*children, p=parameter)


# Fused loss operators: aten name -> the per-element loss of d = input - target (and the
# operator's parameter: beta / delta), before its mean or sum.
_REDUCTIONS_OF_LOSSES = {1: "mean", 2: "sum"}  # torch's reduction enum (0: none)


def loss_expression(call) -> tuple[Expression, str]:
    """(per-element loss of inputs 0 and 1, "mean" | "sum") of a fused loss operator."""
    args = call.args
    reduction = args[2] if len(args) > 2 else call.kwargs.get("reduction", 1)
    if reduction not in _REDUCTIONS_OF_LOSSES:
        raise PointwiseUnsupported(f"{call.name} without a mean or sum (reduction={reduction})")
    d = Node("sub", (Node("input", value=0), Node("input", value=1)))
    a = Node("abs", (d,))
    if call.name == "aten.mse_loss.default":
        per_element = Node("mul", (d, d))
    elif call.name == "aten.l1_loss.default":
        per_element = a
    elif call.name in ("aten.smooth_l1_loss.default", "aten.huber_loss.default"):
        # with m = min(|d|, p): smooth L1 = 0.5 m^2 / beta + (|d| - m), Huber = 0.5 m^2 +
        # delta (|d| - m): the quadratic part up to p, linear beyond, in one expression.
        p = float(
            args[3] if len(args) > 3 else call.kwargs.get("beta", call.kwargs.get("delta", 1.0))
        )
        if p <= 0:
            raise PointwiseUnsupported(f"{call.name} with a non-positive beta/delta")
        m = Node("min", (a, _const(p)))
        quadratic = Node("mul", (_const(0.5), Node("mul", (m, m))))
        linear = Node("sub", (a, m))
        if call.name == "aten.smooth_l1_loss.default":
            per_element = Node("add", (Node("div", (quadratic, _const(p))), linear))
        else:
            per_element = Node("add", (quadratic, Node("mul", (_const(p), linear))))
    else:
        raise PointwiseUnsupported(f"operator {call.name}")
    return Expression(per_element), _REDUCTIONS_OF_LOSSES[reduction]


FUSED_LOSSES = (
    "aten.mse_loss.default",
    "aten.l1_loss.default",
    "aten.smooth_l1_loss.default",
    "aten.huber_loss.default",
)
