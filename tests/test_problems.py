"""Loading KernelBench-format problems: structure checks, sizes, categories, directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels.categories import CATEGORIES, infer_category
from pragma_kernels.errors import ProblemError
from pragma_kernels.problems import import_module, load_problem, load_problems

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "problems"
EXAMPLES = ROOT / "examples" / "problems"


@pytest.mark.parametrize(
    ("name", "problem", "fix"),
    [
        ("syntax_error.py", "syntax error at line 5", "correct the Python syntax"),
        ("no_get_inputs.py", "defines no `get_inputs`", "def get_inputs()"),
        ("import_fails.py", "ModuleNotFoundError", "importable on its own"),
        ("missing.py", "no such file", "KernelBench-format"),
    ],
)
def test_malformed_files_get_one_clear_error_naming_file_and_fix(name, problem, fix):
    with pytest.raises(ProblemError) as info:
        load_problem(FIXTURES / name)
    assert info.value.path.endswith(name)
    assert problem in info.value.problem
    assert fix in info.value.fix


def test_directory_load_reports_bad_files_without_stopping():
    problems, errors = load_problems(FIXTURES)
    assert {p.name for p in problems} == {
        "tiny_relu",
        "relu_1m",
        "model_raises",
        "non_tensor_output",
        "qr_unsupported",
    }
    assert sorted(Path(e.path).name for e in errors) == [
        "import_fails.py",
        "no_get_inputs.py",
        "syntax_error.py",
    ]


def test_sizes_rebind_module_globals_only_when_asked():
    default = import_module(FIXTURES / "tiny_relu.py")
    big = import_module(FIXTURES / "tiny_relu.py", size="big")
    assert default.get_inputs()[0].shape == (4, 1024)
    assert big.get_inputs()[0].shape == (4, 4096)
    assert load_problem(FIXTURES / "tiny_relu.py", size="big").size == "big"
    assert load_problem(FIXTURES / "tiny_relu.py", size="gpu").size == "default"


def test_category_override_and_validation():
    assert load_problem(FIXTURES / "tiny_relu.py").category == "activation"
    overridden = load_problem(FIXTURES / "tiny_relu.py", category="others")
    assert (overridden.category, overridden.category_from) == ("others", "override")
    with pytest.raises(ProblemError, match="unknown category"):
        load_problem(FIXTURES / "tiny_relu.py", category="fancy")


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("1_Square_matrix_multiplication_", "matmul"),
        ("4_Matrix_vector_multiplication_", "matmul"),
        ("19_ReLU", "activation"),
        ("20_LeakyReLU", "activation"),
        ("88_MinGPTNewGelu", "activation"),
        ("23_Softmax", "activation"),
        ("36_RMSNorm_", "normalization"),
        ("37_FrobeniusNorm_", "normalization"),
        ("33_BatchNorm", "normalization"),
        ("41_Max_Pooling_1D", "pooling_reduction"),
        ("47_Sum_reduction_over_a_dimension", "pooling_reduction"),
        ("51_Argmax_over_a_dimension", "pooling_reduction"),
        ("63_conv_standard_2D__square_input__square_kernel", "conv"),
        ("89_cumsum", "others"),
        ("94_MSELoss", "others"),
        ("97_CosineSimilarityLoss", "others"),
        ("97_ScaledDotProductAttention", "others"),  # not "product": a reduction
    ],
)
def test_category_inferred_from_kernelbench_names(name, category):
    assert infer_category(name) == category


def test_category_falls_back_to_the_operators_in_the_source():
    assert infer_category("mystery", "return self.conv(x)  # nn.Conv2d") == "conv"
    assert infer_category("mystery", "return torch.matmul(a, b)") == "matmul"
    assert infer_category("mystery", "return x + 1") == "others"


def test_examples_cover_every_category_with_a_cpu_and_gpu_size():
    problems, errors = load_problems(EXAMPLES)
    assert not errors
    assert len(problems) >= 24
    for category in CATEGORIES:
        assert sum(p.category == category for p in problems) >= 4, category
    assert all("gpu" in p.sizes for p in problems)
