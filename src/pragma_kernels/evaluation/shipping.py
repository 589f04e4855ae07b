"""Candidate outputs shipped out of the worker as plain bytes, for the judge
(evaluation/judge.py) to compare in a process the candidate never ran in.

Per seed, a header (`seed-N.json`: dtype and shape of each output) and one raw file per
tensor. Nothing is unpickled on the reading side: whatever the candidate's process wrote,
the judge reads bytes into a tensor it makes itself, so no subclass, lazy tensor or
object with behaviour can cross. A tensor that is not a plain one is shipped as it
materialises (the worker's own checks refuse it first)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

DTYPES = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
        torch.complex64,
        torch.complex128,
    )
}
MAX_HEADER_BYTES = 1 << 20


class Unshippable(Exception):
    """The output cannot be shipped (not tensors, an unknown dtype); the message says why."""


def ship(outputs: list, folder: Path, seed: int) -> None:
    """Write one forward's outputs (a list of tensors) for the judge."""
    header = []
    for index, tensor in enumerate(outputs):
        if not isinstance(tensor, torch.Tensor):
            raise Unshippable(f"output {index} is {type(tensor).__name__}, not a tensor")
        name = str(tensor.dtype).removeprefix("torch.")
        if name not in DTYPES:
            raise Unshippable(f"output {index} has dtype {name}, which cannot be shipped")
        plain = torch.Tensor.contiguous(torch.Tensor.detach(tensor))
        path = folder / f"seed-{seed}-{index}.bin"
        nbytes = plain.numel() * plain.element_size()
        path.write_bytes(b"")
        if nbytes:  # straight from the device into the mapped file: no staging copy
            mapped = torch.from_file(str(path), shared=True, size=nbytes, dtype=torch.uint8)
            mapped.copy_(plain.reshape(-1).view(torch.uint8))
            del mapped
        header.append({"dtype": name, "shape": list(plain.shape)})
    (folder / f"seed-{seed}.json").write_text(json.dumps(header))


def receive(folder: Path, seed: int, device: str) -> list[torch.Tensor] | str:
    """The shipped outputs of `seed` as plain tensors on `device`, or why they cannot be read
    (missing, malformed, sizes that do not add up)."""
    head = folder / f"seed-{seed}.json"
    if not head.is_file():
        return f"no outputs were shipped for seed {seed}"
    if head.stat().st_size > MAX_HEADER_BYTES:
        return f"the header for seed {seed} is too large"
    try:
        header = json.loads(head.read_text())
        specs = [(DTYPES[item["dtype"]], [int(n) for n in item["shape"]]) for item in header]
    except (ValueError, KeyError, TypeError) as exc:
        return f"the header for seed {seed} is malformed ({type(exc).__name__}: {exc})"
    tensors = []
    for index, (dtype, shape) in enumerate(specs):
        path = folder / f"seed-{seed}-{index}.bin"
        count = math.prod(shape)
        nbytes = count * torch.empty(0, dtype=dtype).element_size()
        if any(n < 0 for n in shape) or not path.is_file() or path.stat().st_size != nbytes:
            return f"output {index} of seed {seed} does not hold {nbytes} bytes for {shape}"
        if count == 0:
            tensors.append(torch.empty(shape, dtype=dtype, device=device))
            continue
        raw = torch.from_file(str(path), shared=True, size=nbytes, dtype=torch.uint8)
        tensors.append(raw.view(dtype).reshape(shape).to(device, copy=True))
    return tensors
