"""What recognition hands on: the recorded operator calls and the recognised problem."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OpCall:
    name: str
    args: list
    kwargs: dict
    inputs: list[int]  # ids of tensor arguments
    output: int | None  # id of the tensor result


@dataclass
class Recognised:
    family: str  # "pointwise" | "pointwise_total" | "reduction" | "softmax" | "norm" | "pool"
    #              | "scan" | "conv" | "unsupported"
    why: str = ""  # unsupported: what was seen
    ops: list[str] = field(default_factory=list)
    # pointwise
    expression: object | None = None  # pointwise.Expression
    inputs: int = 1
    # reduction / softmax / norm / pool / scan
    kind: str = ""  # sum, ..., softmax, log_softmax, layer_norm, ..., max_pool2d, cumsum, ...
    dim: int = -1
    keepdim: bool = False
    shape: tuple[int, ...] = ()
    # norm / pool / conv: the family's parameters (norm.RowNorm, norm.ChannelNorm, pool.Pool,
    # conv.ConvChain)
    spec: object | None = None


def on_path(calls: list[OpCall], input_ids: list[int]) -> list[OpCall]:
    """The calls that read an input or a result computed from one. The rest is
    bookkeeping the output does not depend on, e.g. BatchNorm's `num_batches_tracked += 1`
    (a matcher still refuses any kept call that reads a tensor it cannot account for)."""
    derived = set(input_ids)
    kept = []
    for call in calls:
        if any(tensor in derived for tensor in call.inputs):
            kept.append(call)
            if call.output is not None:
                derived.add(call.output)
    return kept


def unsupported(why: str, ops: list[str]) -> Recognised:
    return Recognised("unsupported", why, ops)
