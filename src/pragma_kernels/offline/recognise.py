"""Which kernel family a problem's reference is, from the aten operators it runs.

The reference runs once on its smallest inputs under a dispatch recorder; the
recorded operators, with which tensors they read and wrote, decide the family:
a chain of pointwise operators on same-shape inputs (activations), such a chain
summed or averaged over every element (losses), a reduction along one dimension,
a softmax / log-softmax along the last dimension, a normalisation (`norm.py`), a
pooling (`pool.py`) or a prefix sum (`scan.py`). Anything else is reported as
unsupported offline, with the operators seen.
"""

from __future__ import annotations

from pathlib import Path

from pragma_kernels.offline.conv import CONVOLUTIONS, match_conv
from pragma_kernels.offline.norm import match_norm
from pragma_kernels.offline.pointwise import (
    FUSED_LOSSES,
    Expression,
    Node,
    PointwiseUnsupported,
    build_expression,
    loss_expression,
)
from pragma_kernels.offline.pool import match_pool
from pragma_kernels.offline.recorded import OpCall, Recognised, on_path
from pragma_kernels.offline.scan import match_scan
from pragma_kernels.problems import import_module

__all__ = ["OpCall", "Recognised", "record", "recognise"]

REDUCTIONS = {
    "aten.sum.dim_IntList": "sum",
    "aten.mean.dim": "mean",
    "aten.amax.default": "max",
    "aten.amin.default": "min",
    "aten.argmax.default": "argmax",
    "aten.argmin.default": "argmin",
    "aten.max.dim": "max",  # (values, indices): the values are the output
    "aten.min.dim": "min",
}
TOTALS = {"aten.sum.default": "sum", "aten.mean.default": "mean"}  # over every element
SOFTMAXES = {"aten._softmax.default": "softmax", "aten._log_softmax.default": "log_softmax"}


def record(
    problem: Path, size: str | None, device: str | None = None
) -> tuple[list[OpCall], list[int], int | None, list, object]:
    """Run the reference once: its operator calls, input ids, output id, the inputs, and
    the model (a norm's weights are found among its parameters by identity). On the
    "meta" device nothing is computed: shapes only."""
    import contextlib

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    module = import_module(problem, size)
    with torch.device(device) if device else contextlib.nullcontext():
        model = module.Model(*module.get_init_inputs())
        inputs = module.get_inputs()
    calls: list[OpCall] = []
    alive: list = []  # results stay referenced, so no id is reused while recording

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            tensors = [id(a) for a in args if isinstance(a, torch.Tensor)]
            first = result[0] if isinstance(result, tuple) and result else result
            output = id(first) if isinstance(first, torch.Tensor) else None
            calls.append(OpCall(str(func), list(args), kwargs, tensors, output))
            alive.append(result)
            return result

    with torch.no_grad(), Recorder():
        out = model(*inputs)
    output = id(out) if isinstance(out, torch.Tensor) else None
    return calls, [id(x) for x in inputs], output, inputs, model


def recognise(problem: Path, size: str | None = None) -> Recognised:
    import torch

    calls, input_ids, output_id, inputs, model = _record_cheaply(problem, size)
    names = [c.name for c in calls]
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    if output_id is None or len(tensors) != len(inputs) or not calls:
        return Recognised("unsupported", "the reference does not map tensors to one tensor", names)
    if any(not x.is_floating_point() for x in tensors):
        return Recognised("unsupported", "non-floating inputs", names)
    if len(calls) == 1 and calls[0].inputs == input_ids[:1] and calls[0].output == output_id:
        call = calls[0]
        if call.name in REDUCTIONS and len(input_ids) == 1:
            return _reduction(call, tensors[0], names)
        if call.name in SOFTMAXES and len(input_ids) == 1:
            dim = call.args[1] % tensors[0].dim()
            if dim != tensors[0].dim() - 1:
                return Recognised(
                    "unsupported", "softmax over a dimension other than the last", names
                )
            return Recognised(
                "softmax",
                ops=names,
                kind=SOFTMAXES[call.name],
                dim=dim,
                shape=tuple(tensors[0].shape),
            )
    if len(input_ids) == 1:
        path = on_path(calls, input_ids)
        found = match_conv(path, tensors[0], output_id, model, names)
        found = found or match_norm(path, tensors[0], output_id, model, names)
        found = found or match_pool(path, tensors[0], output_id, names)
        found = found or match_scan(path, tensors[0], output_id, names)
        if found is not None:
            return found
    shapes = {tuple(x.shape) for x in tensors}
    if len(shapes) != 1:
        return Recognised("unsupported", "inputs of different shapes", names)
    last = calls[-1]
    reduces_all = last.name in TOTALS and last.output == output_id and len(last.inputs) == 1
    fused_loss = len(calls) == 1 and last.name in FUSED_LOSSES and last.inputs == input_ids[:2]
    if reduces_all or fused_loss:
        return _pointwise_total(calls, input_ids, next(iter(shapes)), names)
    try:
        expression = build_expression(calls, input_ids, output_id, next(iter(shapes)))
    except PointwiseUnsupported as exc:
        return Recognised("unsupported", str(exc), names)
    return Recognised(
        "pointwise",
        ops=names,
        expression=expression,
        inputs=len(input_ids),
        shape=next(iter(shapes)),
    )


def _record_cheaply(problem: Path, size: str | None):
    """A reference that convolves is recorded on the meta device (its shapes are all its
    matcher needs; a KernelBench-sized convolution takes minutes on a CPU); anything else,
    or a reference that cannot run on meta, is run for real (a norm's matcher reads the
    values of its weights)."""
    try:
        recorded = record(problem, size, "meta")
    except Exception:  # data-dependent Python, an operator without a meta kernel, ...
        recorded = None
    if recorded is not None and any(call.name in CONVOLUTIONS for call in recorded[0]):
        return recorded
    return record(problem, size)


def _pointwise_total(
    calls: list[OpCall], input_ids: list[int], shape: tuple, names: list[str]
) -> Recognised:
    """A pointwise chain summed or averaged over every element (most losses: MSE, hinge,
    L1...), or a fused loss operator: one pass, no intermediate tensor."""
    last = calls[-1]
    try:
        if last.name in FUSED_LOSSES:
            expression, kind = loss_expression(last)
        elif last.inputs[0] in input_ids:  # the input itself, no pointwise step
            expression = Expression(Node("input", value=input_ids.index(last.inputs[0])))
            kind = TOTALS[last.name]
        else:
            expression = build_expression(calls[:-1], input_ids, last.inputs[0], shape)
            kind = TOTALS[last.name]
    except PointwiseUnsupported as exc:
        return Recognised("unsupported", str(exc), names)
    return Recognised(
        "pointwise_total",
        ops=names,
        expression=expression,
        inputs=len(input_ids),
        kind=kind,
        shape=shape,
    )


def _reduction(call: OpCall, x, names: list[str]) -> Recognised:
    kind = REDUCTIONS[call.name]
    dims = call.args[1] if len(call.args) > 1 else call.kwargs.get("dim")
    keepdim = call.args[2] if len(call.args) > 2 else call.kwargs.get("keepdim", False)
    if isinstance(dims, (list, tuple)):
        if len(dims) != 1:
            return Recognised("unsupported", "a reduction over several dimensions", names)
        dims = dims[0]
    if dims is None:
        return Recognised("unsupported", "a reduction over all elements", names)
    return Recognised(
        "reduction",
        ops=names,
        kind=kind,
        dim=dims % x.dim(),
        keepdim=bool(keepdim),
        shape=tuple(x.shape),
    )
