"""Convolutions, recognised from the recorded operators.

`nn.Conv1d/2d/3d` and `nn.ConvTranspose1d/2d/3d` reach aten as `aten.convolution` (or, on
some builds and backends, `_convolution`, `cudnn_convolution*`, `mkldnn_convolution`):
input, weight, bias, stride, padding, dilation, transposed, output_padding, groups. A chain
of convolutions, each reading the one before (a depthwise-separable convolution: depthwise,
then pointwise), is one problem with one spec per convolution.

The weights are the reference module's own parameters, made by a `nn.Conv*` layer: the
verifier seeds torch's generator before it builds `Model` and again before `ModelNew`, so
a candidate that builds the same layers in the same order holds the same weights (and
reads them at run time, so any later change to them is seen too). The layers' sizes are
the recorded ones: the candidate checks the input's channels at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.offline.gemm import Gemm, Operand
from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported

# aten name -> positions of (stride, padding, dilation, transposed, output_padding, groups)
CONVOLUTIONS = {
    "aten.convolution.default": (3, 4, 5, 6, 7, 8),
    "aten._convolution.default": (3, 4, 5, 6, 7, 8),
    "aten.mkldnn_convolution.default": (3, 2, 4, None, None, 5),  # (x, w, b, pad, s, d, g)
    "aten.cudnn_convolution.default": (3, 2, 4, None, None, 5),  # (x, w, pad, s, d, g, ...)
    "aten.cudnn_convolution_transpose.default": (4, 2, 5, "T", 3, 6),
}
_NO_BIAS = {"aten.cudnn_convolution.default", "aten.cudnn_convolution_transpose.default"}
LAYERS = {
    (1, False): "Conv1d",
    (2, False): "Conv2d",
    (3, False): "Conv3d",
    (1, True): "ConvTranspose1d",
    (2, True): "ConvTranspose2d",
    (3, True): "ConvTranspose3d",
}


@dataclass(frozen=True)
class Conv:
    """One convolution: sizes and hyper-parameters per spatial dim (D, H, W order), and
    where the reference keeps its weights."""

    dims: int  # 1, 2 or 3 spatial dims
    transposed: bool
    in_channels: int
    out_channels: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    output_padding: tuple[int, ...]
    groups: int
    bias: bool
    weight_name: str  # e.g. "depthwise.weight"
    input_shape: tuple[int, ...]  # as recorded (batch, channels, *space)

    @property
    def layer(self) -> str:
        return LAYERS[(self.dims, self.transposed)]

    @property
    def name(self) -> str:
        """torch's functional name: conv2d, conv_transpose3d, ..."""
        return f"conv{'_transpose' if self.transposed else ''}{self.dims}d"

    @property
    def depthwise(self) -> bool:
        """Each input channel convolved alone (groups == in_channels > 1)."""
        return self.groups == self.in_channels and self.groups > 1

    def as_product(self) -> Gemm | None:
        """A 1x1 convolution with stride 1, no padding, one group and no bias is the weight
        (C_out x C_in) times each sample's (C_in x pixels): a batched matrix product, with the
        weight shared by every sample, that the GEMM kernels run faster than a convolution
        kernel does. None for any other convolution."""
        ones = zip(self.kernel, self.stride, self.padding, strict=True)
        plain = all(k == 1 and s == 1 and p == 0 for k, s, p in ones)
        if not plain or self.transposed or self.groups != 1 or self.bias:
            return None
        pixels = 1
        for size in self.input_shape[2:]:
            pixels *= size
        weight, sample = Operand(0, False), Operand(0, False)  # operands passed explicitly
        return Gemm(
            "matmul",
            weight,
            sample,
            m=self.out_channels,
            n=pixels,
            k=self.in_channels,
            batch=self.input_shape[0],
            batched=True,
        )

    @property
    def kind(self) -> str:
        if self.depthwise:
            return f"depthwise_{self.name}"
        if not self.transposed and all(k == 1 for k in self.kernel):
            return f"pointwise_{self.name}"
        return ("grouped_" if self.groups > 1 else "") + self.name

    def output_size(self, size: int, axis: int) -> int:
        """The output's length along spatial `axis` for an input of length `size`."""
        k, s, p, d = (v[axis] for v in (self.kernel, self.stride, self.padding, self.dilation))
        if self.transposed:
            return (size - 1) * s - 2 * p + d * (k - 1) + self.output_padding[axis] + 1
        return (size + 2 * p - d * (k - 1) - 1) // s + 1

    def describe(self) -> str:
        def show(values: tuple[int, ...]) -> str:
            return "x".join(str(v) for v in values)

        parts = [
            f"{self.kind} {self.in_channels}->{self.out_channels} kernel {show(self.kernel)}",
            f"stride {show(self.stride)}",
            f"padding {show(self.padding)}",
            f"dilation {show(self.dilation)}",
        ]
        if self.transposed:
            parts.append(f"output_padding {show(self.output_padding)}")
        parts += [f"groups {self.groups}", "bias" if self.bias else "no bias"]
        return ", ".join(parts) + f"; input {show(self.input_shape)}"

    def constructor(self) -> str:
        """The `nn.<layer>(...)` call that makes this convolution's parameters."""
        extra = f", output_padding={self.output_padding}" if self.transposed else ""
        return (
            f"nn.{self.layer}({self.in_channels}, {self.out_channels}, {self.kernel}, "
            f"stride={self.stride}, padding={self.padding}{extra}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias})"
        )


@dataclass(frozen=True)
class ConvChain:
    """Convolutions applied one after the other (one for most problems)."""

    convs: tuple[Conv, ...]

    def describe(self) -> str:
        return " -> ".join(conv.describe() for conv in self.convs)


class ConvUnsupported(Exception):
    """A convolution, but with something the templates do not cover."""


def match_conv(calls: list[OpCall], x, output_id: int, model, names: list[str]):
    """A `Recognised` convolution (chain), an unsupported one with the reason, or None."""
    if not any(call.name in CONVOLUTIONS for call in calls):
        other = next((n for n in names if "conv" in n and n not in CONVOLUTIONS), None)
        return unsupported(f"{other} has no offline template", names) if other else None
    try:
        convs = _chain(calls, x, output_id, model)
    except ConvUnsupported as exc:
        return unsupported(str(exc), names)
    kind = "+".join(conv.kind for conv in convs)
    spec = ConvChain(tuple(convs))
    return Recognised("conv", ops=names, kind=kind, shape=tuple(x.shape), spec=spec)


def _chain(calls: list[OpCall], x, output_id: int, model) -> list[Conv]:
    current, convs = id(x), []
    for call in calls:
        if call.name not in CONVOLUTIONS:
            short = call.name.removeprefix("aten.")
            raise ConvUnsupported(f"a convolution together with {short} (not in the templates)")
        if id(call.args[0]) != current or call.output is None:
            raise ConvUnsupported("a convolution that does not read the previous result")
        convs.append(_conv(call, model))
        current = call.output
    if current != output_id:
        raise ConvUnsupported("the convolution's result is not the model's output")
    return convs


def _conv(call: OpCall, model) -> Conv:
    import torch

    x, weight = call.args[0], call.args[1]
    at = CONVOLUTIONS[call.name]
    args = list(call.args) + [None] * 10
    bias = None if call.name in _NO_BIAS else args[2]
    stride, padding, dilation = (list(args[p]) for p in at[:3])
    transposed = at[3] == "T" or (at[3] is not None and bool(args[at[3]]))
    groups = int(args[at[5]])
    output_padding = list(args[at[4]]) if at[4] is not None else [0] * len(stride)
    dims = weight.dim() - 2
    if dims not in (1, 2, 3) or x.dim() != dims + 2:
        raise ConvUnsupported(f"a convolution of {x.dim()}-D input (batched 1/2/3-D only)")
    if not (isinstance(weight, torch.nn.Parameter) and x.dtype == torch.float32):
        raise ConvUnsupported("a convolution whose weight is not a float32 model parameter")
    weight_name = _layer_parameter(model, weight, bias, dims, transposed)
    in_channels = weight.shape[0] if transposed else weight.shape[1] * groups
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    return Conv(
        dims=dims,
        transposed=transposed,
        in_channels=int(in_channels),
        out_channels=int(out_channels),
        kernel=tuple(int(k) for k in weight.shape[2:]),
        stride=_per_dim(stride, dims),
        padding=_per_dim(padding, dims),
        dilation=_per_dim(dilation, dims),
        output_padding=_per_dim(output_padding, dims),
        groups=groups,
        bias=bias is not None,
        weight_name=weight_name,
        input_shape=tuple(int(s) for s in x.shape),
    )


def _per_dim(values: list, dims: int) -> tuple[int, ...]:
    values = [int(v) for v in values]
    return tuple(values * dims) if len(values) == 1 else tuple(values)


def _layer_parameter(model, weight, bias, dims: int, transposed: bool) -> str:
    """The name of `weight` in the model; it must be a `nn.Conv*` layer's own, at its
    default padding mode, with `bias` that layer's bias."""
    named = dict(model.named_parameters())
    name = next((n for n, t in named.items() if t is weight), None)
    if name is None:
        raise ConvUnsupported("a convolution whose weight is no parameter of the model")
    owner = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    expected = LAYERS[(dims, transposed)]
    if type(owner).__name__ != expected or not name.endswith("weight"):
        raise ConvUnsupported(
            f"the weight {name} is not a torch nn.{expected} layer's (a custom layer's "
            "parameters cannot be rebuilt by the template)"
        )
    if getattr(owner, "padding_mode", "zeros") != "zeros":
        raise ConvUnsupported(f"padding_mode {owner.padding_mode!r} (only zeros is templated)")
    if (owner.bias is None) != (bias is None) or (bias is not None and owner.bias is not bias):
        raise ConvUnsupported(f"the bias of {name} is not its layer's own")
    return name
