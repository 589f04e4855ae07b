"""The offline Triton convolution template on a real GPU, through the Verifier: the
autotuned implicit GEMM (standard, grouped transposed with stride) and the direct
depthwise kernel, at shapes big enough for several programs per axis, with cuDNN's
TF32 on (PyTorch's default) and off (the template's float32-accurate tf32x3 path)."""

from __future__ import annotations

import pytest

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import CONV_GPU_VARIANTS
from pragma_kernels.targets import Target

CASES = {
    "conv2d": (["Conv2d(16, 64, 3, padding=1, bias=True)"], (4, 16, 96, 80)),
    "conv_transpose3d_grouped": (
        [
            "ConvTranspose3d(32, 32, (3, 5, 7), stride=2, padding=(1, 2, 3), "
            "output_padding=1, groups=4)"
        ],
        (2, 32, 6, 12, 24),
    ),
    "depthwise_separable": (
        ["Conv2d(32, 32, 3, padding=1, groups=32)", "Conv2d(32, 64, 1)"],
        (4, 32, 64, 64),
    ),
    "conv1d_strided_dilated": (["Conv1d(8, 64, 3, stride=3, dilation=4)"], (8, 8, 4096)),
}


def conv_problem(tmp_path, layers: list[str], shape: tuple, tf32: bool):
    built = "\n".join(f"        self.l{i} = nn.{layer}" for i, layer in enumerate(layers))
    applied = "\n".join(f"        x = self.l{i}(x)" for i in range(len(layers)))
    path = tmp_path / "conv.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n"
        f"torch.backends.cudnn.allow_tf32 = {tf32}\n\n\n"
        "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"{built}\n\n    def forward(self, x):\n{applied}\n        return x\n\n\n"
        f"def get_inputs():\n    return [torch.randn{shape}]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


@pytest.mark.parametrize("tf32", [True, False], ids=["tf32", "no-tf32"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_triton_conv_verifies_on_the_gpu(case, tf32, tmp_path):
    problem = conv_problem(tmp_path, *CASES[case], tf32)
    recognised = recognise(problem)
    assert recognised.family == "conv", recognised.why
    candidate = tmp_path / "candidate.py"
    candidate.write_text(
        backends.get("triton-cuda").offline_source(recognised, CONV_GPU_VARIANTS[0])
    )
    verdict = verify(problem, candidate, Target.gpu(), VerifyOptions(limits=Limits(timeout_s=300)))
    assert verdict.ok, verdict.model_dump_json(indent=1)
