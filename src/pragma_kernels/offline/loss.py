"""Losses with a per-row statistic before the mean over rows, recognised from the recorded
operators as torch's own decompositions run them: cosine-similarity loss
(`1 - cosine_similarity(a, b, dim=-1)`, averaged), triplet margin loss and cross-entropy
(`log_softmax` + `nll_loss`, class indices as targets). Each is matched on its exact
operator sequence and dataflow (the inputs, the dims, the constants), so anything else
falls through to the other families or is reported unsupported with the operators seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.offline.recorded import OpCall, Recognised

COSINE = [
    "aten.linalg_vector_norm.default",
    "aten.clone.default",
    "aten.linalg_vector_norm.default",
    "aten.clone.default",
    "aten.scalar_tensor.default",
    "aten.clamp_min_.Tensor",
    "aten.clamp_min_.Tensor",
    "aten.div.Tensor",
    "aten.div.Tensor",
    "aten.mul.Tensor",
    "aten.sum.dim_IntList",
    "aten.rsub.Scalar",
    "aten.mean.default",
]
TRIPLET = [
    "aten.sub.Tensor",
    "aten.add.Scalar",
    "aten.norm.ScalarOpt_dim",
    "aten.sub.Tensor",
    "aten.add.Scalar",
    "aten.norm.ScalarOpt_dim",
    "aten.add.Scalar",
    "aten.sub.Tensor",
    "aten.clamp_min.default",
    "aten.mean.default",
]
CROSS_ENTROPY = ["aten._log_softmax.default", "aten.nll_loss_forward.default"]


@dataclass(frozen=True)
class RowLoss:
    kind: str  # "cosine" | "triplet" | "cross_entropy"
    eps: float = 0.0  # cosine: the norms' floor; triplet: added to the differences
    margin: float = 0.0  # triplet
    ignore_index: int = -100  # cross-entropy: rows with this target do not count
    mean: bool = True  # the rows' mean (else their sum)


def match_loss(
    calls: list[OpCall], tensors: list, input_ids: list[int], output_id: int, names: list[str]
) -> Recognised | None:
    """A `Recognised` row loss, or None: not one of these losses."""
    if not calls or calls[-1].output != output_id or not tensors or tensors[0].dim() != 2:
        return None
    shape = tuple(tensors[0].shape)
    last = shape[1] if len(shape) == 2 else None
    spec = None
    if names == COSINE and len(tensors) == 2:
        spec = _cosine(calls, input_ids, last)
    elif names == TRIPLET and len(tensors) == 3:
        spec = _triplet(calls, input_ids)
    elif names == CROSS_ENTROPY and len(tensors) == 2:
        spec = _cross_entropy(calls, tensors, input_ids)
    if spec is None:
        return None
    return Recognised(
        "row_loss",
        ops=names,
        kind=spec.kind,
        dim=1,
        shape=shape,
        inputs=len(tensors),
        spec=spec,
    )


def _dims_last(dims) -> bool:
    return list(dims) in ([1], [-1])


def _cosine(calls: list[OpCall], input_ids: list[int], last) -> RowLoss | None:
    norm_a, _, norm_b = calls[0], calls[1], calls[2]
    floor = calls[4].args[0] if calls[4].args else None
    rsub = calls[11]
    ok = (
        norm_a.inputs == input_ids[:1]
        and norm_b.inputs == input_ids[1:2]
        and all(list(c.args[1:4]) == [2, [1], True] for c in (norm_a, norm_b))
        and _dims_last(calls[10].args[1])
        and rsub.args[1] == 1
        and isinstance(floor, float)
    )
    return RowLoss("cosine", eps=float(floor)) if ok else None


def _triplet(calls: list[OpCall], input_ids: list[int]) -> RowLoss | None:
    a, p, n = input_ids
    first, second = calls[0], calls[3]
    eps = calls[1].args[1]
    ok = (
        first.inputs == [a, p]
        and second.inputs == [a, n]
        and calls[4].args[1] == eps
        and all(c.args[1] == 2 and _dims_last(c.args[2]) for c in (calls[2], calls[5]))
        and calls[6].inputs == [calls[2].output]
        and calls[7].inputs == [calls[6].output, calls[5].output]
        and calls[8].args[1] == 0
    )
    return RowLoss("triplet", eps=float(eps), margin=float(calls[6].args[1])) if ok else None


def _cross_entropy(calls: list[OpCall], tensors, input_ids: list[int]) -> RowLoss | None:
    import torch

    softmax, nll = calls
    logits, target = tensors
    args = list(nll.args) + [None] * 5
    ok = (
        softmax.inputs == input_ids[:1]
        and softmax.args[1] % 2 == 1
        and nll.inputs[:2] == [softmax.output, input_ids[1]]
        and args[2] is None
        and args[3] in (1, 2)
        and logits.is_floating_point()
        and target.dtype == torch.int64
        and target.dim() == 1
    )
    if not ok:
        return None
    return RowLoss("cross_entropy", ignore_index=int(args[4]), mean=args[3] == 1)
