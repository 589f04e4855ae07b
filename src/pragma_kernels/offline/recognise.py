"""Which kernel family a problem's reference is, from the aten operators it runs.

The reference runs once on its smallest inputs under a dispatch recorder; the
recorded operators, with which tensors they read and wrote, decide the family:
a chain of pointwise operators on same-shape inputs (activations), such a chain
summed or averaged over every element (losses), a reduction along one dimension,
a softmax / log-softmax along the last dimension, a normalisation (`norm.py`), a
pooling (`pool.py`), a prefix sum (`scan.py`) or attention (`attention.py`). Anything
else is reported as unsupported offline, with the operators seen.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from pragma_kernels.offline.attention import match_attention
from pragma_kernels.offline.conv import match_conv
from pragma_kernels.offline.gemm import match_gemm
from pragma_kernels.offline.loss import match_loss
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
    "aten.prod.dim_int": "prod",
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
    the model (a norm's weights are found among its parameters by identity)."""
    return _record(problem, size, fake=False)


def _record(problem: Path, size: str | None, fake: bool):
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import TorchDispatchMode

    calls: list[OpCall] = []
    alive: list = []  # results stay referenced, so no id is reused while recording

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if func.namespace == "prim":  # metadata queries (prim.device) under fake tensors
                return result
            tensors = [id(a) for a in args if isinstance(a, torch.Tensor)]
            first = result[0] if isinstance(result, tuple) and result else result
            output = id(first) if isinstance(first, torch.Tensor) else None
            result_tensor = first if isinstance(first, torch.Tensor) else None
            calls.append(OpCall(str(func), list(args), kwargs, tensors, output, result_tensor))
            alive.append(result)
            return result

    with FakeTensorMode(allow_non_fake_inputs=True) if fake else nullcontext():
        module = import_module(problem, size)
        model = module.Model(*module.get_init_inputs())
        inputs = module.get_inputs()
        with torch.no_grad(), Recorder():
            out = model(*inputs)
    output = id(out) if isinstance(out, torch.Tensor) else None
    return calls, [id(x) for x in inputs], output, inputs, model


def recognise(problem: Path, size: str | None = None) -> Recognised:
    """The problem's family, recognised on fake tensors (shapes and dtypes, no data), so a
    KernelBench problem of many GB costs milliseconds instead of a minute of CPU and its
    memory; where that fails (data-dependent shapes, a matcher reading values), for real."""
    try:
        return _recognise(_record(problem, size, fake=True))
    except Exception:  # noqa: BLE001 - any failure on fake tensors: run it for real
        return _recognise(_record(problem, size, fake=False))


def _recognise(recorded: tuple) -> Recognised:
    import torch

    calls, input_ids, output_id, inputs, model = recorded
    names = [c.name for c in calls]
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    found = match_gemm(calls, inputs, output_id, names)
    if found is not None:
        return found
    if output_id is None or len(tensors) != len(inputs) or not calls:
        return Recognised("unsupported", "the reference does not map tensors to one tensor", names)
    found = match_scan(calls, tensors, input_ids, output_id, names)
    found = found or match_loss(calls, tensors, input_ids, output_id, names)
    found = found or match_attention(calls, tensors, input_ids, output_id, names)
    if found is not None:
        return found
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
        if found is not None:
            return found
    shapes = {tuple(x.shape) for x in tensors}
    scaled = _scaled_total(calls, output_id, tensors[0])
    if scaled is not None:
        calls, output_id = calls[:-1], calls[-2].output
    last = calls[-1]
    reduces_all = last.name in TOTALS and last.output == output_id and len(last.inputs) == 1
    fused_loss = len(calls) == 1 and last.name in FUSED_LOSSES and last.inputs == input_ids[:2]
    if len(shapes) != 1 and not reduces_all:  # only a total reads broadcast inputs
        return Recognised("unsupported", "inputs of different shapes", names)
    if reduces_all or fused_loss:
        shape = tuple(last.args[0].shape) if reduces_all else next(iter(shapes))
        if not all(_broadcasts_to(other, shape) for other in shapes):
            return Recognised("unsupported", "inputs that do not broadcast to the total's", names)
        total = _pointwise_total(calls, input_ids, shape, names, broadcast=len(shapes) != 1)
        if scaled is not None and total.family != "unsupported":
            total.spec = scaled
        return total
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


def _broadcasts_to(shape: tuple, full: tuple) -> bool:
    import torch

    try:
        return tuple(torch.broadcast_shapes(shape, full)) == full
    except RuntimeError:
        return False


def _scaled_total(calls: list[OpCall], output_id: int, x) -> tuple | None:
    """A total divided (or multiplied) by a number last, e.g. kl_div's `batchmean`:
    ("div" | "mul", the number, or "batch" when it is the inputs' first dim)."""
    if len(calls) < 2 or calls[-1].output != output_id or calls[-2].name not in TOTALS:
        return None
    last = calls[-1]
    ops = {
        "aten.div.Tensor": "div",
        "aten.div.Scalar": "div",
        "aten.mul.Tensor": "mul",
        "aten.mul.Scalar": "mul",
    }
    number = last.args[1] if len(last.args) > 1 else None
    if last.name not in ops or last.inputs != [calls[-2].output]:
        return None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    batch = x.dim() > 0 and number == x.shape[0] and ops[last.name] == "div"
    return (ops[last.name], "batch" if batch else float(number))


def _pointwise_total(
    calls: list[OpCall], input_ids: list[int], shape: tuple, names: list[str], broadcast: bool
) -> Recognised:
    """A pointwise chain summed or averaged over every element (most losses: MSE, hinge,
    L1...), or a fused loss operator: one pass, no intermediate tensor. With `broadcast`,
    the inputs' shapes differ and each must broadcast to the summed tensor's `shape` (a
    hinge's (N, D) predictions times (N,) or (N, 1) targets): the candidate reads them by
    strides, 0 along the broadcast dims."""
    last = calls[-1]
    try:
        if last.name in FUSED_LOSSES:
            expression, kind = loss_expression(last)
        elif last.inputs[0] in input_ids and not broadcast:  # the input itself, no pointwise
            expression = Expression(Node("input", value=input_ids.index(last.inputs[0])))
            kind = TOTALS[last.name]
        else:
            expression = build_expression(
                calls[:-1], input_ids, last.inputs[0], shape, broadcast=broadcast
            )
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
        broadcast=broadcast,
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
