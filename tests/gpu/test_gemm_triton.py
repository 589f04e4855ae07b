"""The offline Triton gemm candidates on a real GPU: every form correct (autotuned, the
variant the offline agent tries first), 3xTF32 about as accurate as torch's float32 product
and far more than TF32, half-precision operands, and the whole loop once through the
Verifier. Timings: benchmarks/gemm_gpu.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.gemm import Gemm, Operand
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.gemm_triton import GEMM_GPU_VARIANTS, triton_gemm
from pragma_kernels.problems import import_source
from pragma_kernels.targets import Target


def candidate(spec: Gemm, allow_tf32: bool = False):
    recognised = Recognised("gemm", kind=spec.kind, spec=spec)
    source = triton_gemm(recognised, GEMM_GPU_VARIANTS[0], allow_tf32=allow_tf32)
    return import_source(source).ModelNew()


def matmul(m, n, k, ta=False, tb=False, epilogue="", batch=1, diagonal=0) -> Gemm:
    return Gemm(
        "matmul", Operand(0, ta), Operand(1, tb), m, n, k, batch, batch > 1, epilogue, diagonal
    )


def operands(spec: Gemm, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    lead = (spec.batch,) if spec.batched else ()
    a = torch.randn(
        *lead, *((spec.k, spec.m) if spec.a.trans else (spec.m, spec.k)), device="cuda", dtype=dtype
    )
    b = torch.randn(
        *lead, *((spec.n, spec.k) if spec.b.trans else (spec.k, spec.n)), device="cuda", dtype=dtype
    )
    return a, b


def exact(spec: Gemm, a, b) -> torch.Tensor:
    c = (a.double().mT if spec.a.trans else a.double()) @ (
        b.double().mT if spec.b.trans else b.double()
    )
    return getattr(torch, spec.epilogue)(c, spec.diagonal) if spec.epilogue else c


FORMS = {
    "square": matmul(1024, 1024, 1024),
    "irregular": matmul(1000, 777, 523),
    "large_k": matmul(256, 256, 131072),  # split-K
    "small_k": matmul(4096, 4096, 32),
    "tall_skinny": matmul(8192, 16, 8192),
    "batched": matmul(128, 256, 512, batch=16),
    "transposed_both": matmul(1024, 768, 2048, ta=True, tb=True),
    "triu": matmul(2048, 2048, 1024, epilogue="triu"),
    "tril_offset": matmul(2048, 2048, 1024, epilogue="tril", diagonal=-7),
}


@pytest.mark.parametrize("name", FORMS)
def test_every_form_is_correct_and_float32_accurate(name):
    spec = FORMS[name]
    torch.manual_seed(0)
    a, b = operands(spec)
    got = candidate(spec)(a, b)
    wanted = exact(spec, a, b)
    reference = (a.mT if spec.a.trans else a) @ (b.mT if spec.b.trans else b)
    if spec.epilogue:
        reference = getattr(torch, spec.epilogue)(reference, spec.diagonal)
    scale = wanted.abs().max()
    error = ((got.double() - wanted).abs().max() / scale).item()
    torch_error = ((reference.double() - wanted).abs().max() / scale).item()
    assert got.shape == reference.shape
    assert error <= max(4 * torch_error, 1e-6), (error, torch_error)


def test_tf32_is_used_only_when_allowed_and_is_less_accurate():
    spec = matmul(1024, 1024, 4096)
    a, b = operands(spec)
    wanted = exact(spec, a, b)
    scale = wanted.abs().max()
    three = ((candidate(spec)(a, b).double() - wanted).abs().max() / scale).item()
    tf32 = ((candidate(spec, allow_tf32=True)(a, b).double() - wanted).abs().max() / scale).item()
    assert tf32 > 20 * three, (tf32, three)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_operands(dtype):
    spec = matmul(512, 384, 1024, tb=True)
    a, b = operands(spec, dtype)
    got = candidate(spec)(a, b)
    assert got.dtype == dtype
    torch.testing.assert_close(got, a @ b.T, atol=1e-2 * 32, rtol=1e-2)


def test_matvec_diag_and_scale():
    a, x = torch.randn(2048, 65536, device="cuda"), torch.randn(65536, 1, device="cuda")
    matvec = Gemm("matvec", Operand(0, False), Operand(1, False), 2048, 1, 65536)
    torch.testing.assert_close(
        candidate(matvec)(a, x).double(), a.double() @ x.double(), atol=1e-3, rtol=1e-4
    )
    d, m = torch.randn(4096, device="cuda"), torch.randn(4096, 4096, device="cuda")
    diag = Gemm("diag", Operand(0, False), Operand(1, False), 4096, 4096, 1)
    torch.testing.assert_close(candidate(diag)(d, m), d.unsqueeze(1) * m)
    scale = Gemm("scale", Operand(0, False), Operand(1, False), 0, 0, 0)
    torch.testing.assert_close(candidate(scale)(m, 3.14), m * 3.14)


def test_a_candidate_verifies_through_the_gpu_worker(tmp_path: Path):
    problem = tmp_path / "problem.py"
    problem.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        "    def forward(self, a, b):\n        return torch.triu(torch.matmul(a.T, b))\n\n\n"
        "def get_inputs():\n    return [torch.randn(512, 1024), torch.randn(512, 768)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    from pragma_kernels.offline.recognise import recognise

    recognised = recognise(problem)
    path = tmp_path / "candidate.py"
    path.write_text(triton_gemm(recognised, GEMM_GPU_VARIANTS[0], allow_tf32=False))
    verdict = verify(problem, path, Target.gpu(), VerifyOptions(limits=Limits(timeout_s=300)))
    assert verdict.ok, verdict.model_dump_json(indent=1)
