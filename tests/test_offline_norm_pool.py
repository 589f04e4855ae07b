"""The offline agent's normalisation and pooling families: what recognition reads from the
recorded operators, generated candidates checked against the reference (C++ in-process,
Triton through the verifier under the interpreter, tiny shapes), and the cases the
templates do not cover reported as unsupported with a reason.

Every shipped example is also run end to end by `test_offline.py` (all CPU variants)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.norm import ChannelNorm, RowNorm
from pragma_kernels.offline.pool import Pool
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import CPU_VARIANTS, GPU_VARIANTS
from pragma_kernels.targets import Target

CPP = backends.get("cpp-cpu")
TRITON = backends.get("triton-interpreter")

PROBLEMS = Path(__file__).resolve().parent.parent / "examples" / "problems"


def problem_file(tmp_path: Path, init: str, forward: str, shape: tuple) -> Path:
    """A one-input problem: `init` in the constructor, `return forward` of x."""
    path = tmp_path / "problem.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def __init__(self):\n        super().__init__()\n        {init}\n\n"
        f"    def forward(self, x):\n        return {forward}\n\n\n"
        f"def get_inputs():\n    return [torch.randn{shape}]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


def load(source: str, tmp_path: Path, name: str = "candidate"):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"pragma_test_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check_cpu(problem: Path, tmp_path: Path, shape: tuple) -> None:
    """Every CPU variant against the reference, on an input of `shape` (not the recognised
    one: parameters are shaped from the input)."""
    spec = importlib.util.spec_from_file_location("pragma_test_problem", problem)
    reference_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference_module)
    recognised = recognise(problem)
    for variant in CPP.offline_variants(recognised):
        module = load(
            CPP.offline_source(recognised, variant), tmp_path, variant.name.replace("-", "_")
        )
        torch.manual_seed(0)
        reference, candidate = reference_module.Model(), module.ModelNew()
        x = torch.randn(shape)
        torch.testing.assert_close(candidate(x), reference(x), atol=1e-4, rtol=1e-4)


# -- the shipped examples -----------------------------------------------------------------


def test_layer_norm_reads_the_normalised_shape_and_the_modules_parameters():
    recognised = recognise(PROBLEMS / "layer_norm.py", "tiny")
    spec = recognised.spec
    assert (recognised.family, recognised.kind) == ("norm", "layer_norm")
    assert isinstance(spec, RowNorm) and spec.centred and (spec.first, spec.last) == (2, 2)
    assert (spec.weight.name, spec.weight.fill, spec.bias.name) == ("ln.weight", 1.0, "ln.bias")


def test_decomposed_rms_and_l2_chains_are_matched_structurally():
    rms = recognise(PROBLEMS / "rms_norm.py", "tiny")
    assert (rms.kind, rms.spec.first, rms.spec.mean, rms.spec.divide) == ("rms_norm", 1, True, True)
    assert rms.spec.scale.c() == "sqrtf((v0 + 1e-05f))" and rms.spec.weight is None
    l2 = recognise(PROBLEMS / "l2_norm.py", "tiny")
    assert (l2.kind, l2.spec.first, l2.spec.mean) == ("l2_norm", 1, False)
    assert l2.spec.scale.c() == "sqrtf(v0)"


def test_group_and_batch_norm_are_channel_norms():
    group = recognise(PROBLEMS / "group_norm.py", "tiny").spec
    assert isinstance(group, ChannelNorm) and (group.groups, group.eps) == (8, 1e-5)
    assert group.weight.name == "gn.weight" and group.batch_stats
    batch = recognise(PROBLEMS / "batch_norm.py", "tiny").spec
    # The example trains: batch statistics, the running ones are not read.
    assert batch.groups == 0 and batch.batch_stats and batch.running_mean is None


def test_pooling_parameters_are_read_from_the_operator():
    avg = recognise(PROBLEMS / "avg_pool1d.py", "tiny")
    assert avg.kind == "avg_pool1d" and avg.spec == Pool("avg", (1, 8), (1, 1), (0, 4), True, True)
    pool = recognise(PROBLEMS / "max_pool2d.py", "tiny")
    assert pool.kind == "max_pool2d" and pool.spec == Pool("max", (3, 3), (2, 2), (1, 1))


@pytest.fixture
def interpreter(monkeypatch) -> Target:
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    return Target.gpu(threads=1)


# Both Triton paths of a row norm: R = 300 fits a 1024 block, loops over 256 blocks.
TRITON_CASES = [
    ("layer_norm", GPU_VARIANTS[0]),
    ("layer_norm", GPU_VARIANTS[2]),
    ("rms_norm", GPU_VARIANTS[0]),  # normalised over dim 1: the strided kernel
    ("l2_norm", GPU_VARIANTS[0]),
    ("group_norm", GPU_VARIANTS[3]),
    ("batch_norm", GPU_VARIANTS[3]),
    ("avg_pool1d", GPU_VARIANTS[0]),
    ("max_pool2d", GPU_VARIANTS[0]),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "variant"), TRITON_CASES, ids=[f"{n}-{v.name}" for n, v in TRITON_CASES]
)
def test_triton_candidates_verify_under_the_interpreter(name, variant, interpreter, tmp_path):
    problem = PROBLEMS / f"{name}.py"
    candidate = tmp_path / "candidate.py"
    candidate.write_text(TRITON.offline_source(recognise(problem, "tiny"), variant))
    options = VerifyOptions(size="tiny", trials=1, limits=Limits(timeout_s=120))
    verdict = verify(problem, candidate, interpreter, options)
    assert verdict.ok, verdict.model_dump_json(indent=1)


# -- beyond the examples ------------------------------------------------------------------

GENERAL = {
    "rms_norm_module": ("self.n = nn.RMSNorm(33)", "self.n(x)", (4, 7, 33), (2, 3, 33)),
    "llama_rms": (
        "self.weight = nn.Parameter(torch.ones(33))",
        "self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))",
        (4, 7, 33),
        (5, 2, 33),
    ),
    "normalize": ("pass", "nn.functional.normalize(x, dim=1)", (3, 5, 6, 7), (2, 9, 4, 3)),
    # More than 64 values along the normalised dim: the strided kernel's two-read loop.
    "normalize_wide": ("pass", "nn.functional.normalize(x, dim=1)", (2, 70, 3, 5), None),
    "rms_over_two_dims": (
        "pass",
        "x / torch.sqrt((x * x).mean(dim=(1, 2), keepdim=True) + 1e-5)",
        (3, 4, 5, 6),
        (2, 3, 4, 7),
    ),
    "layer_norm_two_dims": (
        "self.n = nn.LayerNorm([6, 7], elementwise_affine=False)",
        "self.n(x)",
        (3, 5, 6, 7),
        (2, 3, 6, 7),
    ),
    # Few long rows: the Triton split-row path (partials, finish, apply over the row's blocks).
    "layer_norm_long_rows": (
        "self.n = nn.LayerNorm(20000, elementwise_affine=False)",
        "self.n(x)",
        (2, 20000),
        None,
    ),
    "batch_norm_eval": ("self.n = nn.BatchNorm2d(5); self.eval()", "self.n(x)", (3, 5, 6, 7), None),
    "batch_norm_1d": ("self.n = nn.BatchNorm1d(5)", "self.n(x)", (9, 5), (4, 5)),
    "group_norm_plain": (
        "self.n = nn.GroupNorm(2, 6, affine=False, eps=1e-3)",
        "self.n(x)",
        (3, 6, 10),
        (2, 6, 5, 4),
    ),
    "avg_pool2d_no_pad_count": (
        "self.p = nn.AvgPool2d(3, stride=(2, 1), padding=1, count_include_pad=False)",
        "self.p(x)",
        (2, 3, 9, 10),
        (1, 2, 12, 7),
    ),
    "max_pool1d": ("self.p = nn.MaxPool1d(4, 3, 2)", "self.p(x)", (2, 3, 29), (4, 2, 40)),
    "max_pool2d_unbatched": (
        "self.p = nn.MaxPool2d((2, 3), (1, 2))",
        "self.p(x)",
        (3, 9, 10),
        None,
    ),
}


@pytest.mark.parametrize("case", GENERAL, ids=list(GENERAL))
def test_generalised_cases_verify_on_the_cpu(case, tmp_path):
    init, forward, shape, other_shape = GENERAL[case]
    problem = problem_file(tmp_path, init, forward, shape)
    assert recognise(problem).family in ("norm", "pool")
    check_cpu(problem, tmp_path, other_shape or shape)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        "llama_rms",
        "normalize",
        "normalize_wide",
        "layer_norm_long_rows",
        "batch_norm_eval",
        "avg_pool2d_no_pad_count",
    ],
)
def test_generalised_cases_verify_under_the_interpreter(case, interpreter, tmp_path):
    init, forward, shape, _ = GENERAL[case]
    problem = problem_file(tmp_path, init, forward, shape)
    candidate = tmp_path / "candidate.py"
    candidate.write_text(TRITON.offline_source(recognise(problem), GPU_VARIANTS[2]))
    options = VerifyOptions(trials=1, limits=Limits(timeout_s=120))
    verdict = verify(problem, candidate, interpreter, options)
    assert verdict.ok, verdict.model_dump_json(indent=1)


def test_parameters_load_from_the_references_state_dict(tmp_path):
    """The lazy parameters carry the reference's names: trained weights load into them."""
    recognised = recognise(PROBLEMS / "layer_norm.py", "tiny")
    module = load(CPP.offline_source(recognised, CPU_VARIANTS[0]), tmp_path)
    reference = torch.nn.LayerNorm(300)
    torch.nn.init.normal_(reference.weight)
    torch.nn.init.normal_(reference.bias)
    candidate = module.ModelNew(300)
    candidate.load_state_dict({"ln.weight": reference.weight, "ln.bias": reference.bias})
    x = torch.randn(2, 5, 300)
    torch.testing.assert_close(candidate(x), reference(x), atol=1e-4, rtol=1e-4)


# -- not covered: unsupported, with the reason --------------------------------------------

UNSUPPORTED = {
    "pool_ceil_mode": ("self.p = nn.AvgPool2d(3, 2, ceil_mode=True)", "self.p(x)", "ceil_mode"),
    "max_pool_ceil_mode": (
        "self.p = nn.MaxPool2d(3, 2, dilation=2, ceil_mode=True)",
        "self.p(x)",
        "ceil_mode",
    ),
    "pool_divisor": ("self.p = nn.AvgPool2d(3, 1, divisor_override=2)", "self.p(x)", "divisor"),
    "pool_adaptive": ("self.p = nn.AdaptiveAvgPool2d(2)", "self.p(x)", "no offline template"),
    "pool_then_relu": ("self.p = nn.MaxPool2d(2)", "torch.relu(self.p(x))", "other operators"),
    "norm_custom_weight": (
        "self.n = nn.LayerNorm(10); nn.init.normal_(self.n.weight)",
        "self.n(x)",
        "not torch's default",
    ),
    "norm_instance_affine": (
        "self.n = nn.InstanceNorm2d(3, affine=True)",
        "self.n(x)",
        "other operators",
    ),
    "norm_order_3": ("pass", "x / x.norm(p=3, dim=-1, keepdim=True)", "order 3"),
    "norm_without_keepdim": ("pass", "x / x.norm(dim=-1).unsqueeze(-1)", "keepdim"),
    "norm_non_adjacent": ("pass", "x / x.norm(dim=(1, 3), keepdim=True)", "non-adjacent"),
    "norm_residual": ("pass", "x + x / x.norm(dim=-1, keepdim=True)", "used again"),
}


@pytest.mark.parametrize("case", UNSUPPORTED, ids=list(UNSUPPORTED))
def test_uncovered_cases_are_unsupported_with_the_reason(case, tmp_path):
    init, forward, reason = UNSUPPORTED[case]
    recognised = recognise(problem_file(tmp_path, init, forward, (2, 3, 9, 10)))
    assert recognised.family == "unsupported"
    assert reason in recognised.why and recognised.ops


def test_group_norm_statistics_hold_for_a_mean_far_from_zero(tmp_path):
    """One pass for both moments: shifted by a sample, or E[x^2] - E[x]^2 cancels."""
    recognised = recognise(PROBLEMS / "group_norm.py", "tiny")
    spec = importlib.util.spec_from_file_location("pragma_test_gn", PROBLEMS / "group_norm.py")
    reference_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference_module)
    reference = reference_module.Model(*reference_module.get_init_inputs())
    for variant in CPU_VARIANTS:
        module = load(CPP.offline_source(recognised, variant), tmp_path, f"gn_{variant.parallel}")
        candidate = module.ModelNew(*reference_module.get_init_inputs())
        x = torch.randn(2, 64, 9, 11) * 0.5 + 300.0
        torch.testing.assert_close(candidate(x), reference(x), atol=2e-3, rtol=2e-3)
