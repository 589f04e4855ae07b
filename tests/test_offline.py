"""The offline agent (no LLM): recognition, templates, and `optimize --mode offline` on every
shipped example on the CPU (tiny sizes, so CI runs them all)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from pragma_kernels import backends, optimize
from pragma_kernels.agents.offline_coder import OfflineCoder
from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import CPU_VARIANTS
from pragma_kernels.verdict import Verdict, VerdictKind

CPP = backends.get("cpp-cpu")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "problems").glob("*.py"))
SUPPORTED = {
    "relu": "pointwise",
    "gelu": "pointwise",
    "softsign": "pointwise",
    "swish": "pointwise",
    "softmax": "softmax",
    "sum_reduction_dim": "reduction",
    "argmax_dim": "reduction",
    "max_reduction_dim": "reduction",
    "layer_norm": "norm",
    "rms_norm": "norm",
    "l2_norm": "norm",
    "group_norm": "norm",
    "batch_norm": "norm",
    "avg_pool1d": "pool",
    "max_pool2d": "pool",
    "mse_loss": "pointwise_total",
    "huber_loss": "pointwise_total",
    "cumsum": "scan",
    "reverse_cumsum": "scan",
    "cosine_similarity_loss": "row_loss",
    "gemm_square": "gemm",
    "gemm_rectangular": "gemm",
    "gemm_transposed_b": "gemm",
    "batched_gemm": "gemm",
    "matvec": "gemm",
    "conv1d": "conv",
    "conv2d": "conv",
    "conv2d_depthwise": "conv",
    "conv2d_pointwise": "conv",
    "conv_transpose2d": "conv",
}


@pytest.mark.parametrize("problem", EXAMPLES, ids=lambda p: p.stem)
def test_recognised_family(problem):
    recognised = recognise(problem, "tiny")
    assert recognised.family == SUPPORTED.get(problem.stem, "unsupported"), recognised.why
    if recognised.family == "unsupported":
        assert recognised.why and recognised.ops


def test_pointwise_chain_with_scalars_and_two_inputs(tmp_path):
    problem = tmp_path / "chain.py"
    problem.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        "    def forward(self, a, b):\n"
        "        return torch.clamp(torch.tanh(a) * 2.5 - b / 3, -1.0, 1.5) + torch.exp(-b)\n\n\n"
        "def get_inputs():\n    return [torch.randn(7, 33), torch.randn(7, 33)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    recognised = recognise(problem)
    assert recognised.family == "pointwise" and recognised.inputs == 2
    namespace: dict = {}
    exec(compile(CPP.offline_source(recognised, CPU_VARIANTS[0]), "candidate", "exec"), namespace)
    a, b = torch.randn(7, 33), torch.randn(7, 33)
    expected = torch.clamp(torch.tanh(a) * 2.5 - b / 3, -1.0, 1.5) + torch.exp(-b)
    torch.testing.assert_close(namespace["ModelNew"]()(a, b), expected)


def test_recognition_runs_the_reference_on_fake_tensors(tmp_path):
    """Inputs of 2 TB: recognising for real would exhaust memory; on fake tensors it
    takes their shapes only, and a reduction needing real values would still be found."""
    problem = tmp_path / "huge.py"
    problem.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        "    def forward(self, x):\n        return torch.sum(torch.relu(x), dim=1)\n\n\n"
        "def get_inputs():\n    return [torch.randn(1 << 20, 1 << 19)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    recognised = recognise(problem)
    assert recognised.family == "unsupported" or recognised.shape == (1 << 20, 1 << 19)
    assert recognised.ops and all(not op.startswith("prim.") for op in recognised.ops)


def _slow_if_supported(problem: Path):
    """An unsupported example stops before any worker runs: quick."""
    marks = [pytest.mark.slow] if problem.stem in SUPPORTED else []
    return pytest.param(problem, marks=marks, id=problem.stem)


@pytest.mark.parametrize("problem", [_slow_if_supported(p) for p in EXAMPLES])
def test_optimize_offline_runs_every_example_to_completion(problem, tmp_path, verify_only):
    """Every template variant of every example through the loop and the real Verifier; the
    time is fixed and nothing is profiled (conftest.VerifyOnly), so the variants come in
    order. The timer and the profiler in the loop: the softsign run below."""
    result = optimize(problem, target="cpu", mode="offline", size="tiny", run_dir=tmp_path / "run")
    if problem.stem not in SUPPORTED:
        assert result.best is None and result.stopped.startswith("unsupported offline")
        return
    assert result.best is not None and result.best.verdict.ok, result.stopped
    tried = CPP.offline_variants(recognise(problem, "tiny"))
    assert len(result.attempts) == len(tried)  # every variant, then a clean stop
    assert all(attempt.correct for attempt in result.attempts)  # no template variant is wrong
    assert "every template variant has been tried" in result.stopped
    assert (tmp_path / "run" / "best.py").read_text() == result.best_source


@pytest.mark.slow
def test_offline_run_times_profiles_and_diagnoses_every_attempt(tmp_path, brief_timing):
    problem = ROOT / "examples" / "problems" / "softsign.py"
    run_dir = tmp_path / "run"
    # one attempt: the diagnosis choosing the next variant is test_a_memory_bound_diagnosis...
    result = optimize(
        problem, target="cpu", mode="offline", size="tiny", attempts=1, run_dir=run_dir
    )
    assert result.best is not None and len(result.attempts) == 1
    for attempt in result.attempts:
        assert attempt.correct and 0 < attempt.speedup < float("inf"), attempt.outcome("eager")
        assert attempt.profile is not None, attempt.profile_error
        assert attempt.diagnosis is not None and attempt.advice is not None


def test_streaming_variant_writes_unaligned_outputs_and_ragged_tails():
    # an output 4 bytes past alignment: 3 plain stores, then streamed blocks of 64, a tail
    recognised = recognise(ROOT / "examples" / "problems" / "swish.py", "tiny")
    namespace: dict = {}
    streaming = CPP.offline_variants(recognised)[-1]
    assert streaming.stream
    exec(compile(CPP.offline_source(recognised, streaming), "candidate", "exec"), namespace)
    x = torch.randn(1000)
    buffer = torch.full((1001,), float("nan"))
    namespace["lib"].pointwise(x, buffer[1:], 1000)
    torch.testing.assert_close(buffer[1:], x * torch.sigmoid(x))
    assert buffer[0].isnan()  # nothing written before the output


def test_a_memory_bound_diagnosis_picks_streaming_stores_next():
    recognised = recognise(ROOT / "examples" / "problems" / "relu.py", "tiny")
    coder = OfflineCoder(recognised, CPP)
    first = coder.propose([])
    assert first is not None and first.variant == "omp-simd" and first.why == "the default"
    assert "omp-simd (the default)" in first.decision  # the decision in words, for the trace
    record = AttemptRecord(
        number=1,
        coder_prompt=first.decision,
        coder_reply="",
        code=first.source,
        verdict=Verdict(ok=True, kind=VerdictKind.OK),
        diagnosis=Diagnosis(bottleneck=B.MEMORY_BANDWIDTH, confidence=0.8),
        variant=first.variant,
    )
    name, why = coder.choose([record])
    assert name == "omp-simd-stream" and "memory_bandwidth_bound" in why


def test_what_was_tried_is_read_from_the_records_variant_never_from_prompt_text():
    coder = OfflineCoder(recognise(ROOT / "examples" / "problems" / "relu.py", "tiny"), CPP)

    def record(number: int, prompt: str, variant: str | None) -> AttemptRecord:
        ok = Verdict(ok=True, kind=VerdictKind.OK)
        return AttemptRecord(
            number=number,
            coder_prompt=prompt,
            coder_reply="",
            code="x",
            verdict=ok,
            variant=variant,
        )

    # Variants as data with no decision text: tried. Decision text with no variant: not.
    records = [record(1, "", "omp-simd"), record(2, "anything", "serial-simd")]
    records.append(record(3, "offline agent: ...; offline variant: omp-simd-stream (x)", None))
    assert coder.tried(records) == ["omp-simd", "serial-simd"]
    proposal = coder.propose(records)
    assert proposal is not None and proposal.variant == "omp-simd-fast-math"
    records.append(record(4, "", "omp-simd-fast-math"))
    assert coder.propose(records) is not None  # omp-simd-stream: only its text was there
    records.append(record(5, "", "omp-simd-stream"))
    assert coder.propose(records) is None


def one_input_candidate(tmp_path, call: str):
    """A problem whose forward returns `call` (of its one input `a`): what recognition
    made of it, and its offline C++ candidate's source and ModelNew."""
    problem = tmp_path / "one_input.py"
    problem.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def forward(self, a):\n        return {call}\n\n\n"
        "def get_inputs():\n    return [torch.randn(5, 40) * 4]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    recognised = recognise(problem)
    source = CPP.offline_source(recognised, CPU_VARIANTS[0])
    namespace: dict = {}
    exec(compile(source, "candidate", "exec"), namespace)
    return recognised, source, namespace["ModelNew"]


@pytest.mark.parametrize(
    ("call", "reference"),
    [
        ("torch.selu(a)", lambda a: torch.selu(a)),
        ("nn.functional.hardsigmoid(a)", lambda a: nn.functional.hardsigmoid(a)),
    ],
)
def test_selu_and_hardsigmoid_are_pointwise(tmp_path, call, reference):
    """KernelBench's 27_SELU_ and 28_HardSigmoid: elu with a scale, relu6(x + 3) / 6."""
    recognised, _, model_new = one_input_candidate(tmp_path, call)
    assert recognised.family == "pointwise"
    a = torch.randn(7, 33) * 4
    torch.testing.assert_close(model_new()(a), reference(a))


def test_pointwise_max_and_min_propagate_nan_as_torch_does(tmp_path):
    """relu and clamp are selects (fmaxf would call libm per element and drop NaN)."""
    _, source, model_new = one_input_candidate(tmp_path, "torch.clamp(torch.relu(a) - 1, max=2.0)")
    assert "fmaxf" not in source and "fminf" not in source
    a = torch.randn(5, 40) * 4
    a[0, :3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    expected = torch.clamp(torch.relu(a) - 1, max=2.0)
    torch.testing.assert_close(model_new()(a), expected, equal_nan=True)


def test_erf_and_gelu_are_vectorisable_and_match_torch(tmp_path):
    """libm's erff is a scalar call per element without -ffast-math (v0 GELU 0.54x of
    eager); the templates inline a polynomial erf instead, as exact as the tolerance needs
    many times over, with NaN, +-inf and -0 as torch gives them."""
    call = "torch.nn.functional.gelu(a) + torch.erf(a)"
    _, source, model_new = one_input_candidate(tmp_path, call)
    assert "erff(" not in source and "pk_erf(" in source
    a = torch.cat([torch.linspace(-8, 8, 200_001), torch.tensor([0.0, -0.0, 0.5, -0.5])])
    a = torch.cat([a, torch.tensor([float("nan"), float("inf"), -float("inf")])])
    got = model_new()(a).double()
    x = a.double()
    expected = torch.nn.functional.gelu(x) + torch.erf(x)
    # against float64 torch (float32 torch's GELU gives NaN for +inf, the old erff path inf)
    torch.testing.assert_close(got, expected, atol=2e-6, rtol=2e-6, equal_nan=True)
    assert got[-2] == float("inf") and got[-3].isnan() and got[-1].isnan()
    assert torch.equal(torch.signbit(got[-6:-5]), torch.signbit(expected[-6:-5]))  # -0
