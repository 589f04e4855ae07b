"""Max / average pooling over the last one, two or three dims, recognised from the
recorded operators.

`nn.AvgPool1d` / `nn.MaxPool1d` reach aten as `unsqueeze(-2) -> *_pool2d -> squeeze(-2)`;
both that chain and a direct 1-D operator become a 2-D pooling of height 1. Covered:
any kernel, stride, padding and dilation, floor mode, no divisor override; 3-D pooling
(`*_pool3d`) with the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported

# aten name -> (kind, dims, argument names after the input)
_MAX_ARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
_AVG_ARGS = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
POOLS = {
    "aten.max_pool3d_with_indices.default": ("max", 3, _MAX_ARGS),
    "aten.max_pool3d.default": ("max", 3, _MAX_ARGS),
    "aten.avg_pool3d.default": ("avg", 3, (*_AVG_ARGS, "divisor_override")),
    "aten.max_pool2d_with_indices.default": ("max", 2, _MAX_ARGS),
    "aten.max_pool2d.default": ("max", 2, _MAX_ARGS),
    "aten.avg_pool2d.default": ("avg", 2, (*_AVG_ARGS, "divisor_override")),
    "aten.max_pool1d_with_indices.default": ("max", 1, _MAX_ARGS),
    "aten.max_pool1d.default": ("max", 1, _MAX_ARGS),
    "aten.avg_pool1d.default": ("avg", 1, _AVG_ARGS),
}
DEFAULTS = {
    "stride": [],
    "padding": 0,
    "dilation": 1,
    "ceil_mode": False,
    "count_include_pad": True,
    "divisor_override": None,
}
OTHER_POOLS = ("adaptive_", "fractional_max_pool", "max_unpool", "lp_pool")


@dataclass(frozen=True)
class Pool:
    """Per pooled dim (height, width), or (depth, height, width) for a 3-D pooling."""

    kind: str  # "max" | "avg"
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    count_include_pad: bool = True  # avg: padded positions count in the divisor
    one_d: bool = False  # the input's last dim is pooled, as a plane of height 1
    dilation: tuple[int, ...] = (1, 1)

    def as_3d(self) -> tuple[tuple[int, int, int], ...]:
        """(kernel, stride, padding, dilation) as (depth, height, width) triples: a 2-D
        pooling is a 3-D one of depth 1."""
        pad = 3 - len(self.kernel)
        lead = ((1,) * pad, (1,) * pad, (0,) * pad, (1,) * pad)
        fields = (self.kernel, self.stride, self.padding, self.dilation)
        return tuple(tuple(head) + tuple(f) for head, f in zip(lead, fields, strict=True))


def match_pool(calls: list[OpCall], x, output_id: int, names: list[str]):
    """A `Recognised` pooling, an unsupported one with the reason, or None: no pooling."""
    pools = [call for call in calls if call.name in POOLS]
    if not pools:
        other = next((n for n in names if any(p in n for p in OTHER_POOLS)), None)
        return unsupported(f"{other} has no offline template", names) if other else None
    call = pools[0]
    kind, dims, arg_names = POOLS[call.name]
    values = {**DEFAULTS, **dict(zip(arg_names, call.args[1:], strict=False)), **call.kwargs}
    width = 3 if dims == 3 else 2
    kernel = _tuple(values["kernel_size"], dims, 1)
    stride = _tuple(values["stride"], dims, 1) if values["stride"] else kernel
    padding, dilation = _tuple(values["padding"], dims, 0), _tuple(values["dilation"], dims, 1)
    refused = [
        (bool(values["ceil_mode"]), "ceil_mode"),
        (values["divisor_override"] is not None, "divisor_override"),
        (kind == "avg" and dilation != (1,) * width, "dilation"),
    ]
    why = [what for bad, what in refused if bad]
    if why:
        return unsupported(f"pooling with {', '.join(why)} (not in the templates)", names)
    one_d = _one_d(calls, call, x, output_id, dims)
    if one_d is None:
        return unsupported("pooling together with other operators", names)
    count = bool(values["count_include_pad"])
    spec = Pool(kind, kernel, stride, padding, count, one_d, dilation)
    pooled = "1d" if one_d else f"{width}d"
    return Recognised(
        "pool", ops=names, kind=f"{kind}_pool{pooled}", shape=tuple(x.shape), spec=spec
    )


def _tuple(value, dims: int, height: int) -> tuple[int, ...]:
    """Per pooled dim of an int or a list: a 1-D operator's value is the width, its height
    `height` (a plane of height 1: kernel 1, padding 0, ...)."""
    values = [value] if isinstance(value, int) else list(value)
    if dims == 1:
        return (height, values[0])
    width = 3 if dims == 3 else 2
    return tuple(values) if len(values) == width else (values[0],) * width


def _one_d(calls: list[OpCall], pool: OpCall, x, output_id: int, dims: int) -> bool | None:
    """Whether the pooling is 1-D (None: it is mixed with other operators).

    The calls must be exactly the pooling, or unsqueeze(x, -2) -> 2-D pooling ->
    squeeze(-2)."""
    if len(calls) == 1 and pool.args[0] is x and pool.output == output_id:
        if dims == 3:
            return False if x.dim() in (4, 5) else None
        if dims == 1 or x.dim() in (3, 4):
            return dims == 1
        return None
    if len(calls) != 3 or dims != 2 or calls[1] is not pool:
        return None
    before, after = calls[0], calls[2]
    inserted = before.args[1] % (x.dim() + 1) if len(before.args) > 1 else None
    removed = after.args[1] if len(after.args) > 1 else None
    ok = (
        before.name == "aten.unsqueeze.default"
        and before.args[0] is x
        and inserted == x.dim() - 1
        and before.output == id(pool.args[0])
        and after.name == "aten.squeeze.dim"
        and after.inputs == [pool.output]
        and removed is not None
        and removed % (x.dim() + 1) == x.dim() - 1
        and after.output == output_id
    )
    return True if ok else None
