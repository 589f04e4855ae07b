"""Normalisations, recognised from the recorded operators.

Two shapes of computation, one spec each:

- `RowNorm`: statistics over a contiguous run of dims (the input viewed as
  [outer, R, inner]), then every element scaled: `native_layer_norm` (centred,
  variance), and decomposed chains matched structurally, such as RMS norm
  (`pow/mul -> mean(keepdim) -> add eps -> sqrt/rsqrt -> div/mul`) or L2 norm
  (`linalg_vector_norm(keepdim) [-> clamp_min] -> div`), optionally followed by a
  weight multiply and a bias add.
- `ChannelNorm`: statistics per channel over the batch and space (`native_batch_norm`
  and its variants, training or eval mode) or per (sample, group of channels)
  (`native_group_norm`), then a per-channel affine.

Weights, biases and running statistics must be the reference module's own
parameters / buffers at torch's default values (ones / zeros): the verifier builds
`ModelNew` from the problem's constructor arguments alone, so a template can
reproduce the defaults but not a custom initialisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pragma_kernels.offline.pointwise import (
    Expression,
    Node,
    PointwiseUnsupported,
    build_expression,
)
from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported


class NormUnsupported(Exception):
    """A normalisation, but with something its templates do not cover."""


@dataclass(frozen=True)
class Param:
    name: str  # dotted path in the reference module, e.g. "ln.weight"
    buffer: bool  # a buffer (running statistics), not a parameter
    fill: float  # torch's default value, the one the candidate reproduces
    first: int  # the tensor's shape is the input's shape[first:stop]
    stop: int


@dataclass(frozen=True)
class RowNorm:
    """y = (x - mean if centred) * factor [* weight] [+ bias], statistics over dims
    first..last; factor = scale(stat), or 1 / scale(stat) when `divide`."""

    first: int
    last: int
    centred: bool  # statistic: the variance (mean of (x - mean)^2)
    square: Expression | None  # uncentred: the statistic reduces square(x) (None: x)
    mean: bool  # the statistic is a mean (else a sum)
    scale: Expression  # of the statistic (its input v0)
    divide: bool
    weight: Param | None = None  # indexed along the normalised dims (inner == 1)
    bias: Param | None = None


@dataclass(frozen=True)
class ChannelNorm:
    """y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c] for x of shape (N, C, *)."""

    groups: int  # 0: batch norm (statistics per channel over N and space)
    eps: float
    batch_stats: bool  # False: eval-mode batch norm, normalised by the running statistics
    weight: Param | None = None
    bias: Param | None = None
    running_mean: Param | None = None
    running_var: Param | None = None


X = Node("input", value=0)
STATS = {"aten.mean.dim": "mean", "aten.sum.dim_IntList": "sum"}
VECTOR_NORM = "aten.linalg_vector_norm.default"
# name -> positions of (weight, bias, running_mean, running_var, training, eps); a str
# for training is its fixed value.
BATCH_NORMS = {
    "aten.native_batch_norm.default": (1, 2, 3, 4, 5, 7),
    "aten._native_batch_norm_legit.default": (1, 2, 3, 4, 5, 7),
    "aten._native_batch_norm_legit.no_stats": (1, 2, None, None, 3, 5),
    "aten._native_batch_norm_legit_no_training.default": (1, 2, 3, 4, "eval", 6),
    "aten._batch_norm_with_update.default": (1, 2, 3, 4, "train", 6),
    "aten._batch_norm_no_update.default": (1, 2, 3, 4, "eval", 6),
}
NATIVE = {"aten.native_layer_norm.default", "aten.native_group_norm.default", *BATCH_NORMS}


def match_norm(calls: list[OpCall], x, output_id: int, model, names: list[str]):
    """A `Recognised` norm, an unsupported one with the reason, or None: not a norm."""
    try:
        if any(call.name in NATIVE for call in calls):
            return _native(calls, x, output_id, model, names)
        stats = [
            i for i, call in enumerate(calls) if call.name in STATS or call.name == VECTOR_NORM
        ]
        if len(stats) == 1:
            return _chain(_canonical(calls), stats[0], x, output_id, model, names)
    except (NormUnsupported, PointwiseUnsupported) as exc:
        return unsupported(str(exc), names)
    return None


# -- torch's normalisation operators ------------------------------------------------------


def _native(calls, x, output_id, model, names) -> Recognised:
    call = next(call for call in calls if call.name in NATIVE)
    short = call.name.removeprefix("aten.")
    instance = _instance_norm(calls, call, x, output_id)
    if instance is not None:
        return _recognised("instance_norm", instance, 1, x, names)
    if len(calls) != 1 or call.args[0] is not x or call.output != output_id:
        others = sorted({c.name.removeprefix("aten.") for c in calls if c is not call})
        raise NormUnsupported(f"{short} together with other operators ({', '.join(others)})")
    args, ndim = call.args, x.dim()
    if call.name == "aten.native_layer_norm.default":
        first = ndim - len(args[1])
        weight = _param(model, args[2], 1.0, first, ndim, x)
        bias = _param(model, args[3], 0.0, first, ndim, x)
        spec = RowNorm(first, ndim - 1, True, None, True, _rsqrt_plus(args[4]), False, weight, bias)
        return _recognised("layer_norm", spec, first, x, names)
    if ndim < 2:
        raise NormUnsupported(f"{short} of a tensor without a channel dim")
    if call.name == "aten.native_group_norm.default":
        weight = _param(model, args[1], 1.0, 1, 2, x)
        bias = _param(model, args[2], 0.0, 1, 2, x)
        spec = ChannelNorm(int(args[6]), float(args[7]), True, weight, bias)
        return _recognised("group_norm", spec, 1, x, names)
    w, b, mean, var, training, eps = (
        position if isinstance(position, str) or position is None else args[position]
        for position in BATCH_NORMS[call.name]
    )
    batch_stats = training not in ("eval", False)
    spec = ChannelNorm(
        0,
        float(eps),
        batch_stats,
        _param(model, w, 1.0, 1, 2, x),
        _param(model, b, 0.0, 1, 2, x),
        None if batch_stats else _param(model, mean, 0.0, 1, 2, x, buffer=True),
        None if batch_stats else _param(model, var, 1.0, 1, 2, x, buffer=True),
    )
    if not batch_stats and (spec.running_mean is None or spec.running_var is None):
        raise NormUnsupported("eval-mode batch norm without running statistics")
    return _recognised("batch_norm", spec, 1, x, names)


def _instance_norm(calls, call, x, output_id) -> ChannelNorm | None:
    """InstanceNorm (no affine, no running statistics) as torch runs it: x viewed as
    (1, N * C, *space), a training batch norm, viewed back: a group norm of C groups."""
    if len(calls) != 3 or x.dim() < 3 or call.name not in BATCH_NORMS:
        return None
    before, after = calls[0], calls[2]
    n, c = x.shape[0], x.shape[1]
    folded = [1, n * c, *x.shape[2:]]
    w, b, mean, var, training, eps = (
        position if isinstance(position, str) or position is None else call.args[position]
        for position in BATCH_NORMS[call.name]
    )
    ok = (
        before.name == "aten.view.default"
        and before.args[0] is x
        and list(before.args[1]) == folded
        and call.inputs == [before.output]
        and after.name == "aten.view.default"
        and after.inputs == [call.output]
        and list(after.args[1]) == list(x.shape)
        and after.output == output_id
        and training not in ("eval", False)
        and w is None
        and b is None
    )
    return ChannelNorm(int(c), float(eps), True) if ok else None


def _recognised(kind: str, spec, dim: int, x, names: list[str]) -> Recognised:
    return Recognised("norm", ops=names, kind=kind, dim=dim, shape=tuple(x.shape), spec=spec)


def _rsqrt_plus(eps: float) -> Expression:
    return Expression(Node("rsqrt", (Node("add", (X, Node("const", value=float(eps)))),)))


def _param(model, tensor, fill: float, first: int, stop: int, x, buffer: bool = False):
    """The reference's own parameter (or buffer) behind `tensor`, checked reproducible."""
    if tensor is None:
        return None
    named = dict(model.named_buffers() if buffer else model.named_parameters())
    name = next((n for n, t in named.items() if t is tensor), None)
    kind = "buffer" if buffer else "parameter"
    if name is None:
        raise NormUnsupported(f"a normalisation reads a tensor that is no {kind} of the model")
    if tuple(tensor.shape) != tuple(x.shape[first:stop]):
        raise NormUnsupported(f"{name} of shape {tuple(tensor.shape)} does not match the input")
    if not bool((tensor == fill).all()):
        raise NormUnsupported(
            f"{name} is not torch's default ({fill:g} everywhere): the offline templates "
            "reproduce default-initialised parameters only"
        )
    return Param(name, buffer, fill, first, stop)


# -- decomposed chains: x scaled by a function of a reduction of x -------------------------


def _canonical(calls: list[OpCall]) -> list[OpCall]:
    """In-place ops as their out-of-place twins, clamp_min/max as clamp, broadcasts
    (`expand`) dropped: later calls read the tensor that was expanded."""
    import torch

    alias: dict[int, object] = {}
    out = []
    for call in calls:
        args = [alias.get(id(a), a) if isinstance(a, torch.Tensor) else a for a in call.args]
        name = re.sub(r"^aten\.(\w+)_\.", r"aten.\1.", call.name)
        if name == "aten.expand.default" and call.output is not None:
            alias[call.output] = args[0]
            continue
        if name == "aten.clamp_min.default":
            name, args = "aten.clamp.default", [args[0], args[1], None]
        elif name == "aten.clamp_max.default":
            name, args = "aten.clamp.default", [args[0], None, args[1]]
        inputs = [id(a) for a in args if isinstance(a, torch.Tensor)]
        out.append(OpCall(name, args, call.kwargs, inputs, call.output))
    return out


def _chain(calls, k: int, x, output_id: int, model, names) -> Recognised | None:
    stat = calls[k]
    combine_at = next((i for i in range(k + 1, len(calls)) if _reads(calls[i], x)), None)
    if combine_at is None or calls[combine_at].name not in ("aten.div.Tensor", "aten.mul.Tensor"):
        return None  # not x scaled by its statistic
    combine = calls[combine_at]
    first, last, keepdim, order = _stat_dims(stat, x)
    if not keepdim:
        raise NormUnsupported("a normalising statistic reduced without keepdim")
    shape = tuple(x.shape)
    stat_shape = tuple(1 if first <= d <= last else s for d, s in enumerate(shape))
    if stat.output is not None and _is_scalar(calls, stat):  # over every element
        stat_shape = ()
    square = _prefix(calls[:k], stat, x)
    if order is not None:  # ||x||_p = (sum |x|^p)^(1/p), as a sum and a root
        if order not in (1, 2):
            raise NormUnsupported(f"a vector norm of order {order}")
        root = square.root if square else X
        square = Expression(Node("abs", (root,)) if order == 1 else Node("mul", (root, root)))
    divide, other = _combine(combine, x)
    if other is None or tuple(other.shape) != stat_shape:
        raise NormUnsupported("the input is combined with a tensor other than its statistic")
    middle = calls[k + 1 : combine_at]
    if middle:
        scale = build_expression(middle, [stat.output], id(other), stat_shape)
    elif id(other) == stat.output:
        scale = Expression(X)
    else:
        raise NormUnsupported("the input is combined with a tensor other than its statistic")
    if order == 2:
        scale = Expression(_substitute(scale.root, Node("sqrt", (X,))))
    weight, bias = _affine(calls[combine_at:], x, output_id, model, first, last)
    mean = stat.name == "aten.mean.dim"
    spec = RowNorm(first, last, False, square, mean, scale, divide, weight, bias)
    return _recognised(_chain_kind(spec, order, x.dim()), spec, first, x, names)


def _is_scalar(calls: list[OpCall], stat: OpCall) -> bool:
    """Whether the statistic reduced every element to a 0-d tensor (no dims given)."""
    args = list(stat.args) + [None] * 4
    dims = stat.kwargs.get("dim", args[2] if stat.name == VECTOR_NORM else args[1])
    return not dims and dims != 0


def _reads(call: OpCall, tensor) -> bool:
    return any(a is tensor for a in call.args)


def _stat_dims(stat: OpCall, x) -> tuple[int, int, bool, float | None]:
    """(first dim, last dim, keepdim, vector-norm order or None) of the statistic."""
    args = list(stat.args) + [None] * 4
    if stat.name == VECTOR_NORM:
        order = stat.kwargs.get("ord", args[1] if args[1] is not None else 2)
        dims, keepdim = stat.kwargs.get("dim", args[2]), stat.kwargs.get("keepdim", args[3])
        dtype = stat.kwargs.get("dtype")
    else:
        order = None
        dims, keepdim = args[1], stat.kwargs.get("keepdim", args[2])
        dtype = stat.kwargs.get("dtype", args[3])
    if dtype is not None:
        raise NormUnsupported("a normalising statistic with a dtype")
    if not dims and dims != 0:  # every element: one statistic, broadcast as a 0-d tensor
        return 0, x.dim() - 1, True, None if order is None else float(order)
    dims = sorted({d % x.dim() for d in (dims if isinstance(dims, (list, tuple)) else [dims])})
    if dims != list(range(dims[0], dims[-1] + 1)):
        raise NormUnsupported(f"a normalising statistic over non-adjacent dims {dims}")
    return dims[0], dims[-1], bool(keepdim), None if order is None else float(order)


def _prefix(calls: list[OpCall], stat: OpCall, x) -> Expression | None:
    """What the statistic reduces, as a pointwise expression of x (None: x itself)."""
    if not calls:
        if stat.args[0] is not x:
            raise NormUnsupported("a normalising statistic of something other than the input")
        return None
    return build_expression(calls, [id(x)], id(stat.args[0]), tuple(x.shape))


def _combine(call: OpCall, x) -> tuple[bool, object]:
    """(divide, the other operand) of `x / other`, `x * other` or `other * x`."""
    left, right = call.args[0], call.args[1]
    if call.name == "aten.div.Tensor":
        return True, right if left is x and right is not x else None
    other = right if left is x else left
    return False, other if other is not x else None


def _affine(calls: list[OpCall], x, output_id: int, model, first: int, last: int):
    """The weight multiply and bias add after the normalisation, if any (in that order)."""
    import torch

    weight = bias = None
    current = calls[0].output
    for call in calls[1:]:
        operands = [a for a in call.args if isinstance(a, torch.Tensor)]
        ours = [a for a in operands if id(a) == current]
        others = [a for a in operands if id(a) != current]
        step = {"aten.mul.Tensor": "weight", "aten.add.Tensor": "bias"}.get(call.name)
        alpha = call.kwargs.get("alpha", call.args[2] if len(call.args) > 2 else 1)
        if any(a is x for a in others):
            raise NormUnsupported("the input is used again after its normalisation")
        if step is None or len(ours) != 1 or len(others) != 1 or alpha != 1:
            raise NormUnsupported(f"{call.name} after the normalisation")
        if last != x.dim() - 1:
            raise NormUnsupported("an affine after a normalisation over inner dims")
        if bias is not None or (step == "weight" and weight is not None):
            raise NormUnsupported("an affine other than one weight multiply, then one bias add")
        param = _param(model, others[0], 1.0 if step == "weight" else 0.0, first, x.dim(), x)
        weight, bias = (param, bias) if step == "weight" else (weight, param)
        current = call.output
    if current != output_id:
        raise NormUnsupported("the normalised tensor is not the output")
    return weight, bias


def _substitute(node: Node, replacement: Node) -> Node:
    """`node` with its input v0 replaced by `replacement` (function composition)."""
    if node.op == "input":
        return replacement
    return Node(node.op, tuple(_substitute(child, replacement) for child in node.args), node.value)


def _chain_kind(spec: RowNorm, order: float | None, ndim: int) -> str:
    if order is not None:
        whole = spec.first == 0 and spec.last == ndim - 1
        return "frobenius_norm" if whole and order == 2 else f"l{order:g}_norm"
    squares = spec.square is not None and spec.square.root == Node("mul", (X, X))
    if squares:
        return "rms_norm" if spec.mean else "l2_norm"
    return "reduce_scale"
