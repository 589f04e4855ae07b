"""The offline Triton convolution template on the GPU at KernelBench level-1 (main) shapes:
correct against eager (same seed, same weights, the Verifier's float32 tolerance), and
timed against eager with triton.testing.do_bench (median ms; the first call autotunes),
every variant asked for beside eager in the same process.

The layers and shapes are written out here (from KernelBench's conv problems 54-87, main
sizes), so the script needs no KernelBench checkout. Recognition runs on a small input of
the same layers (the candidate reads the spatial sizes at run time), not on the CPU at
the full size.

    python benchmarks/gpu_conv.py [--only 63,57] [--no-tf32] [--variants channels-last,autotune]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from pragma_kernels import backends
from pragma_kernels.compare import compare_outputs
from pragma_kernels.evaluation import DEFAULT_TOLERANCE
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import CONV_GPU_VARIANTS
from pragma_kernels.problems import import_module

# KernelBench problem number: (layers applied in turn, input shape at the main size)
SHAPES = {
    "54": (["Conv3d(3, 64, 3)"], (16, 3, 64, 64, 64)),
    "57": (["ConvTranspose2d(64, 64, 3)"], (8, 64, 1024, 1024)),
    "63": (["Conv2d(16, 128, 3)"], (16, 16, 1024, 1024)),
    "67": (["Conv1d(64, 128, 3)"], (32, 64, 131072)),
    "72": (
        [
            "ConvTranspose3d(32, 32, (3, 5, 7), stride=2, padding=(1, 2, 3), "
            "output_padding=1, groups=4)"
        ],
        (8, 32, 12, 24, 48),
    ),
    "75": (
        [
            "ConvTranspose2d(32, 64, (3, 5), stride=(2, 3), padding=(1, 2), dilation=(2, 1), "
            "groups=4)"
        ],
        (16, 32, 128, 256),
    ),
    "81": (["ConvTranspose2d(32, 64, 3, stride=5, padding=1, dilation=2)"], (16, 32, 64, 128)),
    "82": (["Conv2d(64, 64, 3, groups=64)"], (16, 64, 512, 512)),
    "86": (["Conv2d(64, 64, 3, padding=1, groups=64)", "Conv2d(64, 128, 1)"], (16, 64, 512, 512)),
    "87": (["Conv2d(64, 128, 1)"], (16, 64, 1024, 1024)),
}


def problem_file(folder: Path, layers: list[str], shape: tuple) -> Path:
    """A problem applying `layers`, whose get_inputs() makes a small input (recognition).
    Without bias unless a layer says so, as in KernelBench's convolution problems."""
    small = shape[:2] + tuple(min(s, 16) for s in shape[2:])
    layers = [layer if "bias" in layer else layer[:-1] + ", bias=False)" for layer in layers]
    built = "\n".join(f"        self.l{i} = nn.{layer}" for i, layer in enumerate(layers))
    applied = "\n".join(f"        x = self.l{i}(x)" for i in range(len(layers)))
    path = folder / "conv.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def __init__(self):\n        super().__init__()\n{built}\n\n"
        f"    def forward(self, x):\n{applied}\n        return x\n\n\n"
        f"def get_inputs():\n    return [torch.randn(1, *{small[1:]})]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


def run_one(name: str, variant_names: list[str], folder: Path) -> list[str]:
    """One row per variant; eager and every variant timed in turn, the same input, in this
    process (so their figures compare)."""
    layers, shape = SHAPES[name]
    problem = problem_file(folder, layers, shape)
    recognised = recognise(problem)
    if recognised.family != "conv":
        return [f"| {name} | unsupported: {recognised.why} | | | | | |"]
    import triton.testing

    module = import_module(problem)
    with torch.device("cuda"):
        torch.manual_seed(0)
        reference = module.Model()
        x = torch.randn(*shape)
    with torch.no_grad():
        expected = reference(x)
    rows, timed = [], {"eager": lambda: reference(x)}
    for variant_name in variant_names:
        variant = next(v for v in CONV_GPU_VARIANTS if v.name == variant_name)
        source = backends.get("triton-cuda").offline_source(recognised, variant)
        candidate_path = folder / f"candidate_{variant_name}.py"
        candidate_path.write_text(source)
        namespace: dict = {}
        exec(compile(source, str(candidate_path), "exec"), namespace)
        with torch.device("cuda"):
            torch.manual_seed(0)
            candidate = namespace["ModelNew"]()
        with torch.no_grad():
            got = candidate(x)  # the first call autotunes
        tolerance = DEFAULT_TOLERANCE["float32"]
        result = compare_outputs(expected, got, tolerance, tolerance)
        error = (expected - got).abs().max().item()
        rows.append((variant_name, recognised.kind, result.kind, error))
        timed[variant_name] = lambda c=candidate: c(x)
        del got
    with torch.no_grad():
        ms = {label: triton.testing.do_bench(call) for label, call in timed.items()}
    lines = []
    for variant_name, kind, mismatch, error in rows:
        verdict = "correct" if mismatch is None else f"WRONG ({mismatch})"
        lines.append(
            f"| {name} | {kind} | {variant_name} | {verdict}, max err {error:.1e} | "
            f"{ms['eager']:.3f} | {ms[variant_name]:.3f} | {ms['eager'] / ms[variant_name]:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SHAPES), help="comma-separated numbers")
    parser.add_argument("--no-tf32", action="store_true", help="cudnn.allow_tf32 = False")
    parser.add_argument(
        "--variants",
        default="channels-last",
        help="comma-separated: channels-last (the default), autotune, single-config",
    )
    args = parser.parse_args()
    torch.backends.cudnn.allow_tf32 = not args.no_tf32
    print(
        f"# offline Triton conv, {torch.cuda.get_device_name()}, variants {args.variants}, "
        f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}\n"
    )
    print("| KernelBench | kind | variant | result | eager ms | triton ms | speedup |")
    print("|---|---|---|---|---:|---:|---:|", flush=True)
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as folder:
            try:
                lines = run_one(name, args.variants.split(","), Path(folder))
            except Exception as exc:  # one shape's failure is a row, not the end of the run
                lines = [f"| {name} | failed: {type(exc).__name__}: {str(exc)[:300]} | | | | | |"]
            print("\n".join(lines), flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
