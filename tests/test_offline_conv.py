"""The offline agent's convolution family: recognition of each kind (standard 1/2/3-D,
transposed, grouped, depthwise, pointwise, dilated, strided, padded, a depthwise-separable
chain), the reasons for what it refuses, and the C++ and Triton (interpreter) candidates
against torch on small shapes, including through the Verifier's worker path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from pragma_kernels import backends
from pragma_kernels.compare import compare_outputs
from pragma_kernels.evaluation import DEFAULT_TOLERANCE, VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import CONV_GPU_VARIANTS, CPU_VARIANTS
from pragma_kernels.offline.templates.conv_cpp import blocking
from pragma_kernels.offline.templates.conv_triton import igemm_configs, tap_table
from pragma_kernels.problems import import_module
from pragma_kernels.targets import Target

CPP = backends.get("cpp-cpu")
TRITON = backends.get("triton-interpreter")

# name: (layers applied in turn, input shape, expected kind)
CASES = {
    "conv1d_strided_dilated": (["Conv1d(3, 5, 3, stride=3, dilation=4)"], (2, 3, 50), "conv1d"),
    "conv1d_padding_wider_than_input": (["Conv1d(3, 5, 3, padding=7)"], (2, 3, 4), "conv1d"),
    "conv2d_asymmetric": (
        ["Conv2d(4, 10, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(2, 1), bias=True)"],
        (2, 4, 13, 21),
        "conv2d",
    ),
    "conv3d_grouped_padded": (
        ["Conv3d(4, 12, (3, 2, 3), padding=1, groups=2)"],
        (2, 4, 5, 6, 9),
        "grouped_conv3d",
    ),
    "depthwise_bias": (
        ["Conv2d(6, 6, 3, groups=6, padding=1, bias=True)"],
        (2, 6, 10, 20),
        "depthwise_conv2d",
    ),
    "depthwise_multiplier": (["Conv2d(3, 6, (3, 1), groups=3)"], (2, 3, 8, 9), "depthwise_conv2d"),
    "pointwise": (["Conv2d(3, 17, 1)"], (2, 3, 6, 37), "pointwise_conv2d"),
    "pointwise3d_no_bias": (["Conv3d(5, 9, 1, bias=False)"], (2, 5, 3, 4, 7), "pointwise_conv3d"),
    "depthwise_separable": (
        ["Conv2d(6, 6, 3, groups=6)", "Conv2d(6, 20, 1, bias=False)"],
        (2, 6, 10, 20),
        "depthwise_conv2d+pointwise_conv2d",
    ),
    "transposed2d": (["ConvTranspose2d(4, 6, 3)"], (2, 4, 7, 10), "conv_transpose2d"),
    "transposed2d_grouped_strided_dilated": (
        [
            "ConvTranspose2d(8, 12, (3, 5), stride=(2, 3), padding=(1, 2), dilation=(2, 1), "
            "groups=4, bias=True)"
        ],
        (2, 8, 5, 7),
        "grouped_conv_transpose2d",
    ),
    "transposed1d_output_padding": (
        ["ConvTranspose1d(4, 3, 3, stride=2, padding=1, dilation=2, output_padding=1)"],
        (2, 4, 20),
        "conv_transpose1d",
    ),
    "transposed3d_grouped": (
        [
            "ConvTranspose3d(4, 8, (3, 2, 3), stride=2, padding=(1, 0, 1), output_padding=1, "
            "groups=2)"
        ],
        (1, 4, 3, 4, 5),
        "grouped_conv_transpose3d",
    ),
    "transposed2d_stride_above_kernel": (
        ["ConvTranspose2d(4, 6, 3, stride=5, padding=1, dilation=2)"],
        (2, 4, 4, 5),
        "conv_transpose2d",
    ),
    # rows shorter than a vector (KernelBench 59's input ends in a depth of 10): the
    # out-channels go in the vector lanes, 32 of them, a row of 9 in one exact tile
    "conv3d_narrow_rows": (
        ["Conv3d(3, 32, 3, padding=(0, 1, 1), bias=True)"],
        (2, 3, 4, 5, 9),
        "conv3d",
    ),
    "transposed2d_narrow_strided": (
        ["ConvTranspose2d(4, 16, 3, stride=2, padding=1)"],
        (1, 4, 5, 6),
        "conv_transpose2d",
    ),
    # wide rows: full 4 x 48 tiles, then a narrower whole-vector tile for the rest
    "conv2d_wide_rows": (["Conv2d(3, 6, 3)"], (1, 3, 4, 120), "conv2d"),
    # a row of 36, narrower than a 48 tile: 32 then 16 (KernelBench 69 ran 15x slower
    # when it took the scalar path)
    "conv2d_row_between_tiles": (["Conv2d(3, 6, 3, padding=(1, 0))"], (1, 3, 3, 38), "conv2d"),
    "transposed3d_wide_rows": (
        ["ConvTranspose3d(5, 6, (2, 3, 5), padding=(0, 1, 2))"],
        (1, 5, 2, 3, 101),
        "conv_transpose3d",
    ),
}
# The Triton interpreter runs a kernel per program in Python: its cases stay few and tiny.
TRITON_CASES = [
    "pointwise",  # with a bias: the implicit GEMM
    "pointwise3d_no_bias",  # the GEMM kernel
    "conv1d_strided_dilated",
    "conv2d_asymmetric",
    "conv3d_grouped_padded",
    "depthwise_separable",
    "transposed2d_grouped_strided_dilated",
    "transposed3d_grouped",
]


def conv_problem(tmp_path: Path, layers: list[str], shape: tuple, forward: str = "") -> Path:
    """A KernelBench-format problem applying `layers` in turn (or `forward`'s lines)."""
    built = "\n".join(f"        self.l{i} = nn.{layer}" for i, layer in enumerate(layers))
    applied = forward or "\n".join(f"        x = self.l{i}(x)" for i in range(len(layers)))
    path = tmp_path / "conv.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"{built or '        pass'}\n\n    def forward(self, x):\n{applied}\n        return x\n\n\n"
        f"def get_inputs():\n    return [torch.randn{shape}]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


def run_both(problem: Path, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference and candidate outputs, each model built after the same seed (as the
    Verifier builds them)."""
    namespace: dict = {}
    exec(compile(source, "candidate.py", "exec"), namespace)
    module = import_module(problem)
    torch.manual_seed(1)
    reference = module.Model()
    torch.manual_seed(1)
    candidate = namespace["ModelNew"]()
    torch.manual_seed(2)
    inputs = module.get_inputs()
    with torch.no_grad():
        return reference(*inputs), candidate(*inputs)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_kind_is_recognised_with_its_parameters(case, tmp_path):
    layers, shape, kind = CASES[case]
    recognised = recognise(conv_problem(tmp_path, layers, shape))
    assert (recognised.family, recognised.kind) == ("conv", kind), recognised.why
    convs = recognised.spec.convs
    assert len(convs) == len(layers)
    for conv, layer in zip(convs, layers, strict=True):
        reference = eval(f"torch.nn.{layer}")  # noqa: S307 - the test's own literal
        assert conv.transposed == ("Transpose" in layer)
        assert conv.groups == reference.groups
        assert conv.stride == reference.stride and conv.dilation == reference.dilation
        assert conv.padding == reference.padding and conv.kernel == reference.kernel_size
        assert conv.bias == (reference.bias is not None)
    described = recognised.spec.describe()
    assert f"groups {convs[0].groups}" in described and kind.split("+")[0] in described


@pytest.mark.parametrize(
    ("layers", "forward", "why"),
    [
        (["Conv2d(3, 4, 3, padding=1, padding_mode='reflect')"], "", "reflection_pad2d"),
        (["Conv2d(3, 4, 3)"], "        x = torch.relu(self.l0(x))", "relu"),
        ([], "        x = F.conv2d(x, torch.ones(4, 3, 3, 3))", "model parameter"),
        (["Conv2d(3, 4, 2, padding='same')"], "", "constant_pad_nd"),
    ],
    ids=["reflect-padding", "conv-then-relu", "functional-weight", "even-same-padding"],
)
def test_what_the_templates_do_not_cover_is_unsupported_with_the_reason(
    layers, forward, why, tmp_path
):
    recognised = recognise(conv_problem(tmp_path, layers, (2, 3, 8, 8), forward))
    assert recognised.family == "unsupported"
    assert why in recognised.why, recognised.why


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_cpp_candidate_matches_torch(case, tmp_path):
    layers, shape, _ = CASES[case]
    problem = conv_problem(tmp_path, layers, shape)
    source = CPP.offline_source(recognise(problem), CPU_VARIANTS[0])
    reference, candidate = run_both(problem, source)
    tolerance = DEFAULT_TOLERANCE["float32"]
    result = compare_outputs(reference, candidate, tolerance, tolerance)
    assert result.kind is None, result
    assert (reference - candidate).abs().max() < 1e-4  # far inside the tolerance


def test_every_cpu_variant_verifies_in_the_worker(tmp_path):
    layers, shape, _ = CASES["transposed2d_grouped_strided_dilated"]
    problem = conv_problem(tmp_path, layers, shape)
    recognised = recognise(problem)
    options = VerifyOptions(limits=Limits(timeout_s=120))
    for variant in CPP.offline_variants(recognised):
        candidate = tmp_path / f"{variant.name}.py"
        candidate.write_text(CPP.offline_source(recognised, variant))
        verdict = verify(problem, candidate, Target.cpu(threads=1), options)
        assert verdict.ok, verdict.model_dump_json(indent=1)


def test_a_candidate_refuses_an_input_of_other_channels(tmp_path):
    layers, shape, _ = CASES["pointwise"]
    problem = conv_problem(tmp_path, layers, shape)
    namespace: dict = {}
    exec(compile(CPP.offline_source(recognise(problem), CPU_VARIANTS[0]), "c", "exec"), namespace)
    with pytest.raises(ValueError, match="expected \\(N, 3"):
        namespace["ModelNew"]()(torch.randn(1, 4, 5, 5))


def test_transposed_tap_table_holds_only_the_taps_that_feed_each_residue(tmp_path):
    layers, shape, _ = CASES["transposed2d_stride_above_kernel"]
    conv = recognise(conv_problem(tmp_path, layers, shape)).spec.convs[0]
    table, counts = tap_table(conv)
    assert len(table) == 25 and sum(counts) == 9  # each of the 3x3 taps feeds one class
    # output row r is fed by tap k when (r + padding - k * dilation) % stride == 0
    assert counts[1 * 5 + 1] == 1 and table[1 * 5 + 1][0] == 4  # r = (1, 1): tap (1, 1)
    assert counts[0] == 0  # r = (0, 0): no tap


@pytest.mark.parametrize(
    ("case", "tile"),
    [
        ("conv3d_narrow_rows", (32, 12)),
        ("transposed2d_narrow_strided", (16, 12)),  # 7 outputs per residue class
        ("conv2d_wide_rows", (4, 48)),
        ("depthwise_bias", (1, 128)),
    ],
)
def test_cpp_tiles_follow_the_row_width_and_the_channels(case, tile, tmp_path):
    layers, shape, _ = CASES[case]
    conv = recognise(conv_problem(tmp_path, layers, shape)).spec.convs[0]
    assert blocking(conv) == tile


def test_tiles_fit_the_shapes(tmp_path):
    layers, shape, _ = CASES["transposed3d_grouped"]
    conv = recognise(conv_problem(tmp_path, layers, shape)).spec.convs[0]
    tiles = igemm_configs(conv)
    assert 1 < len(tiles) <= 12
    assert all(t.block_n == 16 and t.block_k in (16, 32) for t in tiles)  # 4 channels / group


def test_autotune_variant_lists_every_tile_and_the_single_one_its_first(tmp_path):
    layers, shape, _ = CASES["conv2d_asymmetric"]
    recognised = recognise(conv_problem(tmp_path, layers, shape))
    tuned, single = (TRITON.offline_source(recognised, v) for v in CONV_GPU_VARIANTS[1:])
    tiles = igemm_configs(recognised.spec.convs[0])
    assert len(re.findall(r"triton\.Config\(", tuned)) == len(tiles)
    assert len(re.findall(r"triton\.Config\(", single)) == 1
    assert "input_precision=PRECISION" in tuned and "cudnn.allow_tf32" in tuned


def test_a_1x1_convolution_without_bias_is_a_gemm_per_sample(tmp_path):
    for case, gemm in (("pointwise3d_no_bias", True), ("pointwise", False)):
        layers, shape, _ = CASES[case]
        source = TRITON.offline_source(
            recognise(conv_problem(tmp_path, layers, shape)), CONV_GPU_VARIANTS[0]
        )
        assert ("_conv_gemm_0[grid]" in source) is gemm
        assert ("_conv_igemm_0[grid]" in source) is not gemm
        cpp_source = CPP.offline_source(
            recognise(conv_problem(tmp_path, layers, shape)), CPU_VARIANTS[0]
        )
        assert ("lib.gemm(" in cpp_source) is gemm and ("lib.conv0(" in cpp_source) is not gemm
    layers, shape, _ = CASES["depthwise_separable"]
    source = TRITON.offline_source(
        recognise(conv_problem(tmp_path, layers, shape)), CONV_GPU_VARIANTS[0]
    )
    assert "_conv_depthwise_0[grid]" in source and "_conv_gemm_1[grid]" in source


# The channels-last variant's own offsets: forward padded, transposed strided, grouped 3-D.
CHANNELS_LAST_CASES = [
    "conv2d_asymmetric",
    "conv3d_grouped_padded",
    "transposed2d_grouped_strided_dilated",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "variant"),
    [(case, "single-config") for case in TRITON_CASES]
    + [(case, "channels-last") for case in CHANNELS_LAST_CASES],
)
def test_triton_candidate_verifies_under_the_interpreter(case, variant, monkeypatch, tmp_path):
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    layers, shape, _ = CASES[case]
    problem = conv_problem(tmp_path, layers, shape)
    candidate = tmp_path / "candidate.py"
    chosen = next(v for v in CONV_GPU_VARIANTS if v.name == variant)
    candidate.write_text(TRITON.offline_source(recognise(problem), chosen))
    options = VerifyOptions(trials=1, limits=Limits(timeout_s=120))
    verdict = verify(problem, candidate, Target.gpu(threads=1), options)
    assert verdict.ok, verdict.model_dump_json(indent=1)
