"""Recognising a prefix sum along one dimension: `torch.cumsum(x, d)`, and its reverse
written as `x.flip(d).cumsum(d).flip(d)` (a suffix sum: y[i] = sum of x[j] for j >= i)."""

from __future__ import annotations

from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported

CUMSUM = "aten.cumsum.default"
FLIP = "aten.flip.default"


def match_scan(calls: list[OpCall], x, output_id: int, names: list[str]) -> Recognised | None:
    """`calls` are those on the input's path; None when they are not a scan at all."""
    ops = [c.name for c in calls]
    if ops == [CUMSUM]:
        reverse = False
    elif ops == [FLIP, CUMSUM, FLIP]:
        reverse = True
    else:
        return None
    scan = calls[1] if reverse else calls[0]
    if calls[-1].output != output_id:
        return None
    dim = _dim(scan) % x.dim()
    if scan.kwargs.get("dtype") not in (None, x.dtype):
        return unsupported("a cumsum that changes the dtype", names)
    if reverse:
        first, last = calls[0], calls[2]
        flips = [[d % x.dim() for d in _flip_dims(c)] for c in (first, last)]
        chained = scan.inputs == [first.output] and last.inputs == [scan.output]
        if not chained or flips != [[dim], [dim]]:
            return unsupported("flips around a cumsum that are not along its dimension", names)
    return Recognised(
        "scan",
        ops=names,
        kind="reverse_cumsum" if reverse else "cumsum",
        dim=dim,
        shape=tuple(x.shape),
    )


def _dim(call: OpCall) -> int:
    return call.args[1] if len(call.args) > 1 else call.kwargs["dim"]


def _flip_dims(call: OpCall) -> list[int]:
    return list(call.args[1] if len(call.args) > 1 else call.kwargs["dims"])
