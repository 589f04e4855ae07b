"""Check that the example problems have sensible sizes.

For every file in ``examples/problems/`` this imports the module from its path,
rebinds the globals listed in ``SIZES[size]`` (for ``--size gpu``), builds
``Model(*get_init_inputs())``, and times the PyTorch eager forward on
``get_inputs()``. One table line per problem: name, size, median ms,
input+output MB, and whether the median is inside the target window
(cpu: 2-100 ms, gpu: 0.5-20 ms).

Standalone on purpose: it needs only torch, not pragma_kernels.

    python3 benchmarks/example_sizes.py                       # cpu sizes on cpu
    python3 benchmarks/example_sizes.py --size gpu --device cuda
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

WINDOWS_MS = {"cpu": (2.0, 100.0), "gpu": (0.5, 20.0)}
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "examples" / "problems"


def load_problem(path: Path, size: str):
    spec = importlib.util.spec_from_file_location(f"_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if size != "cpu":
        overrides = getattr(module, "SIZES", {}).get(size)
        if overrides is None:
            raise KeyError(f"no SIZES[{size!r}]")
        for key, value in overrides.items():
            if not hasattr(module, key):
                raise KeyError(f"SIZES[{size!r}] names unknown global {key!r}")
            setattr(module, key, value)
    return module


def tensors_of(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in tensors_of(item)]
    return []


def nbytes(obj) -> int:
    return sum(t.numel() * t.element_size() for t in tensors_of(obj))


def meta_bytes(module) -> tuple[int, int | None]:
    """Input and output bytes from a run on the meta device (no memory used)."""
    with torch.device("meta"):
        inputs = module.get_inputs()
        in_bytes = nbytes(inputs)
        try:
            model = module.Model(*module.get_init_inputs())
            with torch.no_grad():
                out_bytes = nbytes(model(*inputs))
        except Exception:  # some ops have no meta kernel; inputs still count
            out_bytes = None
    return in_bytes, out_bytes


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(model, inputs, device, warmup: int, min_iters: int, budget_s: float):
    with torch.no_grad():
        for _ in range(warmup):
            out = model(*inputs)
        sync(device)
        times = []
        total = 0.0
        while len(times) < min_iters or (total < budget_s and len(times) < 200):
            sync(device)
            start = time.perf_counter()
            out = model(*inputs)
            sync(device)
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            total += elapsed
    return statistics.median(times) * 1e3, out


def run_one(path: Path, args, device: torch.device):
    module = load_problem(path, args.size)
    in_bytes, out_bytes = meta_bytes(module)
    if in_bytes > args.max_input_gb * 1e9:
        return None, in_bytes, out_bytes, f"skipped: inputs {in_bytes / 1e9:.1f} GB"
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # Build directly on the target device (much faster than CPU randn + copy for
    # multi-GB inputs); the .to() calls are then no-ops but keep the intent plain.
    with torch.device(device):
        model = module.Model(*module.get_init_inputs())
        inputs = module.get_inputs()
    model = model.to(device)
    inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs]
    ms, out = time_forward(model, inputs, device, args.warmup, args.iters, args.budget_s)
    kinds = {t.dtype for t in tensors_of(out)}
    note = "" if kinds <= {torch.float32} else "out " + ",".join(map(str, kinds))
    if device.type == "cuda":
        note += f" peak {torch.cuda.max_memory_allocated(device) / 1e9:.1f} GB"
    return ms, in_bytes, nbytes(out), note


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--only", nargs="*", help="problem names (file stems)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10, help="minimum timed calls")
    parser.add_argument("--budget-s", type=float, default=1.0, help="time for more timed calls")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-input-gb",
        type=float,
        default=None,
        help="skip problems with larger inputs (default: 4 on cpu, no limit on cuda)",
    )
    args = parser.parse_args(argv)
    if args.max_input_gb is None:
        args.max_input_gb = 4.0 if args.device == "cpu" else float("inf")

    if args.device == "cuda":
        if not torch.cuda.is_available():
            parser.error("--device cuda but torch.cuda.is_available() is False")
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(device)
        name += (
            f" (tf32: matmul={torch.backends.cuda.matmul.allow_tf32},"
            f" cudnn={torch.backends.cudnn.allow_tf32})"
        )
    else:
        torch.set_num_threads(args.threads)
        device = torch.device("cpu")
        name = f"cpu, {torch.get_num_threads()} threads"

    paths = sorted(p for p in args.dir.glob("*.py") if not p.name.startswith("_"))
    if args.only:
        paths = [p for p in paths if p.stem in set(args.only)]
    lo, hi = WINDOWS_MS[args.size]
    print(f"torch {torch.__version__} on {name}; size={args.size}")
    print(f"target window {lo:g}-{hi:g} ms")
    header = f"{'problem':<26} {'size':<4} {'median ms':>10} {'in+out MB':>10}  window"
    print(header)
    print("-" * len(header))

    inside = timed = 0
    for path in paths:
        try:
            ms, in_b, out_b, note = run_one(path, args, device)
        except Exception as exc:  # report and keep going
            ms, in_b, out_b, note = None, 0, 0, f"error: {type(exc).__name__}: {exc}"
        mb = (in_b + (out_b or 0)) / 1e6
        if ms is None:
            print(f"{path.stem:<26} {args.size:<4} {'-':>10} {mb:>10.1f}  {note}")
        else:
            ok = lo <= ms <= hi
            inside += ok
            timed += 1
            verdict = "ok" if ok else ("LOW" if ms < lo else "HIGH")
            line = f"{path.stem:<26} {args.size:<4} {ms:>10.3f} {mb:>10.1f}  {verdict}"
            print(f"{line}  {note}".rstrip())
        sys.stdout.flush()
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    skipped = len(paths) - timed
    print(
        f"{inside}/{timed} timed problems inside the {lo:g}-{hi:g} ms window"
        + (f" ({skipped} skipped or failed)" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
