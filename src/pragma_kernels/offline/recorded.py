"""What recognition hands on: the recorded operator calls and the recognised problem."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass


@dataclass
class OpCall:
    name: str
    args: list
    kwargs: dict
    inputs: list[int]  # ids of tensor arguments
    output: int | None  # id of the tensor result
    result: object = None  # the tensor result itself (its shape and strides), or None


@dataclass
class Recognised:
    family: str  # "pointwise" | "pointwise_total" | "reduction" | "softmax" | "norm" | "pool"
    #              | "scan" | "gemm" | "conv" | "attention"
    #              | "unsupported"
    why: str = ""  # unsupported: what was seen
    ops: list[str] = field(default_factory=list)
    # pointwise
    expression: object | None = None  # pointwise.Expression
    inputs: int = 1
    broadcast: bool = False  # a total's inputs differ in shape, each broadcasts to `shape`
    # reduction / softmax / norm / pool / scan
    kind: str = ""  # sum, ..., softmax, log_softmax, layer_norm, ..., max_pool2d, cumsum, ...
    dim: int = -1
    keepdim: bool = False
    shape: tuple[int, ...] = ()
    # the family's parameters (norm.RowNorm / ChannelNorm, pool.Pool, scan.Scan,
    # loss.RowLoss, gemm.Gemm,
    # conv.ConvChain, attention.Attention; a pointwise total's final scaling)
    spec: object | None = None

    def describe(self) -> str:
        """One line for a user: the family and the parameters matched, or why not (with
        the operators seen), e.g. `pool max_pool3d (input (16, 32, 64, 64, 64); kernel
        (3, 3, 3), stride (2, 2, 2), ...)`."""
        ops = ", ".join(dict.fromkeys(op.removeprefix("aten.") for op in self.ops))
        if self.family == "unsupported":
            return f"unsupported: {self.why} (operators: {ops or 'none'})"
        parts = [f"input {self.shape}"] if self.shape else []
        if self.family in ("reduction", "softmax", "scan"):
            parts.append(f"dim {self.dim}" + (", keepdim" if self.keepdim else ""))
        if self.expression is not None:
            parts.append(f"expression {self.expression.c()}")
        if self.broadcast:
            parts.append("inputs broadcast")
        parts += _spec_fields(self.spec)
        head = f"{self.family} {self.kind}".strip()
        return f"{head} ({'; '.join(parts)})" if parts else head


def _spec_fields(spec) -> list[str]:
    """A spec's fields that are set, as `name value` (expressions as C)."""
    if spec is None:
        return []
    if callable(getattr(spec, "describe", None)):  # a family that says it best itself
        return [spec.describe()]
    if not is_dataclass(spec):
        return [f"scale {spec}"]
    shown = []
    for item in fields(spec):
        value = getattr(spec, item.name)
        if value is None or value is False or value == ():
            continue
        if hasattr(value, "c"):
            value = value.c()
        elif hasattr(value, "name") and hasattr(value, "fill"):  # a norm.Param
            value = value.name
        shown.append(f"{item.name.replace('_', ' ')} {value}")
    return shown


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
