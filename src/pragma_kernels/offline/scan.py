"""Recognising a prefix scan along one dimension: `torch.cumsum` / `torch.cumprod`, of an
input or of a pointwise expression of the inputs (a masked cumsum: `cumsum(x * mask)`,
the mask boolean), reversed as `x.flip(d).cumsum(d).flip(d)` (a suffix scan), or exclusive
as `cumsum(cat([zeros, x], d))` (KernelBench v0's form, with any slice along another dim
after the cat: it commutes with the scan, so the candidate slices the input first) or as
`cat([zeros, cumsum(x.narrow(d, 0, n - 1))], d)` (the main form: the zeros after the scan,
which is an exclusive scan of the sliced input). A slice before the scan, of an input or of
a pointwise expression of the inputs, is taken as the inputs' slice."""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.offline.pointwise import (
    Expression,
    PointwiseUnsupported,
    build_expression,
)
from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported

SCANS = {"aten.cumsum.default": "sum", "aten.cumprod.default": "prod"}
FLIP = "aten.flip.default"
CAT = "aten.cat.default"
SLICE = "aten.slice.Tensor"
ZEROS = ("aten.zeros_like.default", "aten.zeros.default", "aten.new_zeros.default")
# Calls that only build the zeros' shape (x.select(d, 0).unsqueeze(d)) or detach them.
PLUMBING = ("aten.select.int", "aten.unsqueeze.default", "aten.detach.default", *ZEROS)


@dataclass(frozen=True)
class Scan:
    op: str  # "sum" | "prod"
    reverse: bool = False  # a suffix scan
    exclusive: bool = False  # one more value along the dim: the identity, then the scan
    prefix: Expression | None = None  # what is scanned, of the inputs (None: input 0)
    narrow: tuple | None = None  # (dim, start, stop, step): the inputs' slice along a dim


def match_scan(
    calls: list[OpCall], tensors: list, input_ids: list[int], output_id: int, names: list[str]
) -> Recognised | None:
    """`calls`: every recorded call; None when the output is not a scan's at all."""
    import torch

    by_output = {c.output: c for c in calls if c.output is not None}
    last = by_output.get(output_id)
    after = _scan_after_zeros(last, by_output)  # cat([zeros, cumsum(...)]): exclusive
    if after is not None:
        last = by_output[id(after.args[0][1])]
    reverse = last is not None and last.name == FLIP
    scan = by_output.get(last.inputs[0]) if reverse and last.inputs else last
    if scan is None or scan.name not in SCANS:
        return None
    x = tensors[0]
    if not x.is_floating_point() or any(
        not (t.is_floating_point() or t.dtype == torch.bool) for t in tensors
    ):
        return unsupported("a scan of inputs other than floating tensors and masks", names)
    dim = _dim(scan) % x.dim()
    if scan.kwargs.get("dtype") not in (None, x.dtype):
        return unsupported(f"a {scan.name} that changes the dtype", names)
    used = [scan] + ([last] if reverse else []) + ([after] if after is not None else [])
    source, narrow, exclusive = scan.inputs[0] if scan.inputs else None, None, False
    producer = by_output.get(source)
    if after is not None:
        found = _sliced_before(after, source, by_output, dim, x, used)
        if isinstance(found, str):
            return unsupported(found, names)
        source, narrow = found
        exclusive = True
        used += _plumbing(after.args[0][0], source, by_output)
    elif reverse:
        if producer is None or producer.name != FLIP:
            return unsupported("a flip after a scan without one before it", names)
        flips = [[d % x.dim() for d in _flip_dims(c)] for c in (producer, last)]
        if flips != [[dim], [dim]]:
            return unsupported("flips around a scan that are not along its dimension", names)
        used.append(producer)
        source = producer.inputs[0]
    elif producer is not None and producer.name == SLICE and not _of_cat(producer, by_output):
        source, narrow = _slice_before(producer, x, used)
    elif producer is not None and producer.name in (CAT, SLICE):
        found = _exclusive(producer, by_output, dim, x, used)
        if isinstance(found, str):
            return unsupported(found, names)
        source, narrow = found
        exclusive = True
        used += [c for c in calls if c.name in PLUMBING]
    rest = [c for c in calls if all(c is not u for u in used)]
    try:
        prefix = _prefix(rest, source, input_ids, tensors)
    except PointwiseUnsupported as exc:
        return unsupported(f"a scan of something other than a pointwise expression: {exc}", names)
    spec = Scan(SCANS[scan.name], reverse, exclusive, prefix, narrow)
    kind = ("reverse_" if reverse else "") + ("exclusive_" if exclusive else "") + "cum" + spec.op
    if len(input_ids) > 1 and prefix is None:
        return unsupported("a scan of one input that ignores the others", names)
    return Recognised(
        "scan",
        ops=names,
        kind=kind,
        dim=dim,
        shape=tuple(x.shape),
        inputs=len(input_ids),
        spec=spec,
    )


def _scan_after_zeros(last: OpCall | None, by_output: dict) -> OpCall | None:
    """The output's cat when it is `cat([t, scan result])` (checked further by
    `_sliced_before`), else None."""
    if last is None or last.name != CAT or len(last.args[0]) != 2:
        return None
    scanned = by_output.get(id(last.args[0][1]))
    return last if scanned is not None and scanned.name in SCANS else None


def _sliced_before(after: OpCall, source, by_output: dict, dim: int, x, used: list):
    """(scanned tensor id, narrow) of `cat([zeros, scan(source)], dim)`, the source maybe a
    slice (narrow: how), or why not."""
    cat_dim = (after.args[1] if len(after.args) > 1 else 0) % x.dim()
    zeros = after.args[0][0]
    if cat_dim != dim or zeros.shape[dim] != 1:
        return "a cat after the scan other than one zero slice before it along its dim"
    if not _is_zeros(zeros, by_output):
        return "a cat of something other than zeros before the scan's result"
    producer = by_output.get(source)
    if producer is None or producer.name != SLICE:
        return source, None
    if _of_cat(producer, by_output):
        return "zeros both before the scanned tensor and before the scan's result"
    return _slice_before(producer, x, used)


def _slice_before(call: OpCall, x, used: list) -> tuple:
    """(sliced tensor id, (dim, start, stop, step)) of a slice before the scan: it commutes
    with the pointwise steps before it, so the candidate slices every input the same."""
    args = list(call.args) + [None] * 4
    sdim, start, stop, step = args[1] or 0, args[2], args[3], args[4] or 1
    used.append(call)
    return call.inputs[0], (sdim % x.dim(), start, stop, step)


def _plumbing(zeros, source, by_output: dict) -> list[OpCall]:
    """The calls that only build the zeros (their shape: `x.select(d, 0).unsqueeze(d)`,
    `scanned[:, :1]`...): those feeding them and not the scanned tensor."""

    def feeding(tensor_id) -> list[OpCall]:
        found, todo = [], [tensor_id]
        while todo:
            call = by_output.get(todo.pop())
            if call is not None and all(call is not f for f in found):
                found.append(call)
                todo += call.inputs
        return found

    kept = feeding(source)
    return [c for c in feeding(id(zeros)) if all(c is not k for k in kept)]


def _of_cat(call: OpCall, by_output: dict) -> bool:
    producer = by_output.get(call.inputs[0]) if call.inputs else None
    return producer is not None and producer.name == CAT


def _is_zeros(tensor, by_output: dict) -> bool:
    zeros = by_output.get(id(tensor))
    while zeros is not None and zeros.name == "aten.detach.default":
        zeros = by_output.get(zeros.inputs[0]) if zeros.inputs else None
    return zeros is not None and zeros.name in ZEROS


def _exclusive(producer: OpCall, by_output: dict, dim: int, x, used: list):
    """(source tensor id, narrow) of `cat([zeros, source], dim)[slice]`, or why not."""
    narrow = None
    if producer.name == SLICE:
        args = list(producer.args) + [None] * 4
        sdim, start, stop, step = args[1] or 0, args[2], args[3], args[4] or 1
        if sdim % x.dim() == dim:
            return "a slice along the scanned dim after the cat"
        narrow = (sdim % x.dim(), start, stop, step)
        used.append(producer)
        producer = by_output.get(producer.inputs[0]) if producer.inputs else None
    if producer is None or producer.name != CAT:
        return "a scan of a slice that is not of a cat"
    parts = producer.args[0]
    cat_dim = (producer.args[1] if len(producer.args) > 1 else 0) % x.dim()
    used.append(producer)
    if len(parts) != 2 or cat_dim != dim or parts[0].shape[dim] != 1:
        return "a cat other than one zero slice before the scanned tensor"
    if not _is_zeros(parts[0], by_output):
        return "a cat of something other than zeros before the scanned tensor"
    return id(parts[1]), narrow


def _prefix(calls: list[OpCall], source, input_ids: list[int], tensors) -> Expression | None:
    """The scanned tensor as a pointwise expression of the inputs (None: input 0 itself)."""
    if source == input_ids[0] and not calls:
        return None
    shape = tuple(tensors[0].shape)
    if any(tuple(t.shape) != shape for t in tensors):
        raise PointwiseUnsupported("inputs of different shapes")
    if source in input_ids:
        from pragma_kernels.offline.pointwise import Node

        if calls:
            raise PointwiseUnsupported(f"operators off the scan's path ({calls[0].name})")
        return Expression(Node("input", value=input_ids.index(source)))
    return build_expression(calls, input_ids, source, shape)


def _dim(call: OpCall) -> int:
    return call.args[1] if len(call.args) > 1 else call.kwargs["dim"]


def _flip_dims(call: OpCall) -> list[int]:
    return list(call.args[1] if len(call.args) > 1 else call.kwargs["dims"])
