"""Recognising scaled dot-product attention: `F.scaled_dot_product_attention(q, k, v)` of
three inputs, no mask, no dropout, not causal, the default scale (1 / sqrt(E)) or a given
one. Recorded on the CPU it is `_scaled_dot_product_flash_attention_for_cpu`; the CUDA
dispatcher's choices (flash, memory-efficient, cuDNN, math) are read the same way, each by
its own argument order."""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.offline.recorded import OpCall, Recognised, unsupported

# aten name -> its positional arguments after (query, key, value)
SDPA = {
    "aten._scaled_dot_product_flash_attention_for_cpu.default": ("dropout_p", "is_causal"),
    "aten._scaled_dot_product_flash_attention.default": (
        "dropout_p",
        "is_causal",
        "return_debug_mask",
    ),
    "aten._scaled_dot_product_efficient_attention.default": (
        "attn_bias",
        "compute_log_sumexp",
        "dropout_p",
        "is_causal",
    ),
    "aten._scaled_dot_product_cudnn_attention.default": (
        "attn_bias",
        "compute_log_sumexp",
        "dropout_p",
        "is_causal",
        "return_debug_mask",
    ),
    "aten._scaled_dot_product_attention_math.default": (
        "attn_mask",
        "dropout_p",
        "is_causal",
        "dropout_mask",
    ),
}
MASKS = ("attn_mask", "attn_bias", "dropout_mask")


@dataclass(frozen=True)
class Attention:
    query: int  # which inputs are q [..., L, E], k [..., S, E], v [..., S, Ev]
    key: int
    value: int
    scale: float | None = None  # None: 1 / sqrt(E)

    def describe(self) -> str:
        scale = "1/sqrt(E)" if self.scale is None else repr(self.scale)
        return f"softmax(q k^T * {scale}) v of inputs {self.query}, {self.key}, {self.value}"


def match_attention(
    calls: list[OpCall], tensors: list, input_ids: list[int], output_id: int, names: list[str]
) -> Recognised | None:
    """None when the reference is not one attention call; else the family or why not."""
    if len(calls) != 1 or calls[0].name not in SDPA:
        return None
    call = calls[0]
    arguments = dict(zip(SDPA[call.name], call.args[3:], strict=False)) | call.kwargs
    if any(arguments.get(mask) is not None for mask in MASKS):
        return unsupported("attention with a mask or bias", names)
    if arguments.get("dropout_p", 0.0) or arguments.get("is_causal", False):
        return unsupported("attention with dropout or a causal mask", names)
    if arguments.get("enable_gqa", False):
        return unsupported("grouped-query attention", names)
    q, k, v = call.args[:3]
    if call.output != output_id or any(id(t) not in input_ids for t in (q, k, v)):
        return unsupported("attention of something other than the inputs", names)
    if len({q.dtype, k.dtype, v.dtype}) != 1 or not q.is_floating_point():
        return unsupported("attention of inputs of different or non-float dtypes", names)
    lead = tuple(q.shape[:-2])
    if q.dim() < 2 or tuple(k.shape[:-2]) != lead or tuple(v.shape[:-2]) != lead:
        return unsupported("attention whose q, k, v batch dims differ (broadcast)", names)
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        return unsupported("attention of mismatched q, k, v shapes", names)
    index = [input_ids.index(id(t)) for t in (q, k, v)]
    scale = arguments.get("scale")
    return Recognised(
        "attention",
        ops=names,
        kind="sdpa",
        shape=tuple(q.shape),
        inputs=len(input_ids),
        spec=Attention(*index, None if scale is None else float(scale)),
    )
