"""Forms that KernelBench's main level 1 writes differently from v0, on fixture problems
(tests/fixtures/offline): an exclusive cumsum with the zeros after the scan of a slice, a
loss of inputs that broadcast against each other, and scaled dot-product attention; each
recognised with its parameters, checked on every CPU variant and on the Triton
interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import GPU_VARIANTS
from pragma_kernels.problems import import_module
from pragma_kernels.targets import Target

from .offline_variants import check_every_cpu_variant

TRITON = backends.get("triton-interpreter")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "offline"

# name: (fixture file, size, family, kind)
CASES = {
    "exclusive_after": ("scan_exclusive_after", None, "scan", "exclusive_cumsum"),
    "exclusive_after_strided": ("scan_exclusive_after", "strided", "scan", "exclusive_cumsum"),
    "sliced_masked": ("scan_sliced_masked", None, "scan", "exclusive_cumsum"),
    "hinge_rows": ("hinge_broadcast", None, "pointwise_total", "mean"),
    "hinge_column": ("hinge_broadcast", "column", "pointwise_total", "mean"),
    "hinge_middle": ("hinge_broadcast", "middle", "pointwise_total", "mean"),
    "hinge_alternating": ("hinge_broadcast", "alternating", "pointwise_total", "mean"),
    "three_shapes": ("total_broadcast_sum", None, "pointwise_total", "sum"),
    "attention": ("sdpa", None, "attention", "sdpa"),
    "attention_scaled": ("sdpa", "scaled", "attention", "sdpa"),
    "attention_wide_head": ("sdpa", "wide_head", "attention", "sdpa"),
}


def _sized(name: str, tmp_path: Path) -> Path:
    """The fixture with its size applied as the default (the verifier runs a file's own)."""
    stem, size, _, _ = CASES[name]
    path = FIXTURES / f"{stem}.py"
    if size is None:
        return path
    sizes = import_module(path).SIZES[size]
    text = path.read_text()
    copy = tmp_path / f"{stem}_{size}.py"
    overrides = "".join(f"{key} = {value!r}\n" for key, value in sizes.items())
    copy.write_text(text.replace("\ndef get_inputs", f"\n{overrides}\n\ndef get_inputs", 1))
    return copy


@pytest.mark.parametrize("name", CASES)
def test_recognised_with_the_family_and_kind(name, tmp_path):
    _, _, family, kind = CASES[name]
    recognised = recognise(_sized(name, tmp_path))
    assert (recognised.family, recognised.kind) == (family, kind), recognised.describe()


def test_the_slice_before_the_scan_becomes_the_inputs_slice():
    spec = recognise(FIXTURES / "scan_exclusive_after.py").spec
    assert spec.exclusive and spec.narrow == (1, 0, 300, 1) and spec.prefix is None
    masked = recognise(FIXTURES / "scan_sliced_masked.py").spec
    assert masked.narrow == (1, 2, -3, 1) and masked.prefix.c() == "(v0 * v1)"


def test_attention_keeps_its_inputs_and_scale(tmp_path):
    spec = recognise(_sized("attention_scaled", tmp_path)).spec
    assert (spec.query, spec.key, spec.value, spec.scale) == (0, 1, 2, 0.3)
    assert recognise(FIXTURES / "sdpa.py").spec.scale is None


@pytest.mark.parametrize(
    "call",
    [
        "F.scaled_dot_product_attention(q, k, v, is_causal=True)",
        "F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(8, 8).bool())",
        "F.scaled_dot_product_attention(q * 2, k, v)",
    ],
)
def test_other_attention_stays_unsupported(call, tmp_path):
    path = tmp_path / "sdpa.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class Model(nn.Module):\n"
        f"    def forward(self, q, k, v):\n        return {call}\n\n\n"
        "def get_inputs():\n    return [torch.randn(1, 2, 8, 16) for _ in range(3)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    assert recognise(path).family == "unsupported"


def test_a_total_of_broadcast_inputs_says_so():
    recognised = recognise(FIXTURES / "hinge_broadcast.py")
    assert recognised.broadcast and recognised.shape == (37, 91)
    assert "inputs broadcast" in recognised.describe()


@pytest.mark.parametrize(
    "expression",
    [
        "(a * b)",  # broadcast, but not summed: the pointwise family reads same shapes only
        "(a * b).sum(0).sum()",  # a reduction along a dim first
        "torch.nn.functional.mse_loss(a, b)",  # a fused loss: it expands first
    ],
)
@pytest.mark.filterwarnings("ignore:Using a target size")
def test_broadcasts_outside_a_total_stay_unsupported(expression, tmp_path):
    path = tmp_path / "loss.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def forward(self, a, b):\n        return {expression}\n\n\n"
        "def get_inputs():\n    return [torch.randn(4, 9), torch.randn(9)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    recognised = recognise(path)
    assert recognised.family == "unsupported", recognised.describe()


@pytest.mark.parametrize(
    "expression",
    [
        "torch.cat((torch.ones_like(x[:, :1]), torch.cumsum(x[:, :-1], 1)), 1)",  # ones
        "torch.cat((torch.zeros_like(x[:1]), torch.cumsum(x[:-1], 1)), 0)",  # another dim
        "torch.cat((torch.zeros_like(x[:, :2]), torch.cumsum(x[:, :-2], 1)), 1)",  # 2 zeros
        "torch.cat((torch.zeros_like(x[:, :1]), torch.cumsum(x[:, :-1].flip(1), 1)), 1)",
    ],
)
def test_other_cats_after_a_scan_are_unsupported_with_the_reason(expression, tmp_path):
    path = tmp_path / "scan.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def forward(self, x):\n        return {expression}\n\n\n"
        "def get_inputs():\n    return [torch.randn(4, 9)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    recognised = recognise(path)
    assert recognised.family == "unsupported" and recognised.why, recognised.describe()


@pytest.mark.parametrize("name", CASES)
def test_every_cpu_variant_matches_the_reference(name, tmp_path):
    check_every_cpu_variant(_sized(name, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_triton_candidate_verifies_under_the_interpreter(name, monkeypatch, tmp_path):
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    problem = _sized(name, tmp_path)
    candidate = tmp_path / "candidate.py"
    candidate.write_text(TRITON.offline_source(recognise(problem), GPU_VARIANTS[2]))
    options = VerifyOptions(trials=1, limits=Limits(timeout_s=300))
    verdict = verify(problem, candidate, Target.gpu(threads=1), options)
    assert verdict.ok, verdict.model_dump_json(indent=1)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_every_scale_tile_is_correct_under_the_interpreter(mode, monkeypatch):
    """The gemm family's streaming scale (diag(a) @ b as `a.unsqueeze(1) * b`): each
    [BLOCK_M, BLOCK_N] config of its 2-D tiling on ragged rows and columns."""
    import torch

    from pragma_kernels.offline.gemm import Gemm, Operand
    from pragma_kernels.offline.recorded import Recognised
    from pragma_kernels.offline.templates.gemm_triton import (
        GEMM_GPU_VARIANTS,
        SCALE_CONFIGS,
        triton_gemm,
    )

    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    kind, side = ("scale", "") if mode == 0 else ("diag", "left" if mode == 1 else "right")
    spec = Gemm(kind, Operand(0, False), Operand(1, False), 37, 300, 1, side=side or "left")
    namespace: dict = {}
    source = triton_gemm(Recognised("gemm", kind=kind, spec=spec), GEMM_GPU_VARIANTS[1])
    exec(compile(source, "candidate", "exec"), namespace)
    x = torch.randn(37, 300)
    d = torch.randn({1: 37, 2: 300}.get(mode, 1))
    wanted = x * 2.5 if mode == 0 else (d[:, None] * x if mode == 1 else x * d[None, :])
    kernel = namespace["_scale"].fn  # past the autotuner: one config at a time
    for block_m, block_n, warps in SCALE_CONFIGS:
        m, n = (1, x.numel()) if mode == 0 else x.shape
        out = torch.empty_like(x)
        grid = (-(-m // block_m) * -(-n // block_n),)
        kernel[grid](
            x,
            d if mode else x,
            out,
            m,
            n,
            2.5,
            MODE=mode,
            BLOCK_M=block_m,
            BLOCK_N=block_n,
            num_warps=warps,
        )
        torch.testing.assert_close(out, wanted, msg=f"{block_m}x{block_n}")
    model = namespace["ModelNew"]()  # the candidate's own launch (its first config)
    torch.testing.assert_close(model(d, x) if mode else model(x, 2.5), wanted)
