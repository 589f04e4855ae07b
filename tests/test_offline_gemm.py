"""The offline agent's gemm family: what recognition reads from the recorded operators for
every KernelBench level-1 matmul form (on small problems written here), the C++ candidates
against float64 products (in-process, and once through the worker), the blocking and the
Triton tiles chosen from the shapes, Triton candidates under the interpreter, and the forms
the templates refuse, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.evaluation.static_checks import check_source
from pragma_kernels.offline.gemm import Gemm, Operand
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.gemm_cpp import blocking
from pragma_kernels.offline.templates.gemm_triton import gemm_configs, matvec_configs, triton_gemm
from pragma_kernels.problems import import_module
from pragma_kernels.targets import Target

CPP = backends.get("cpp-cpu")
TRITON = backends.get("triton-interpreter")


def problem_file(tmp_path: Path, forward: str, inputs: str, name: str = "problem") -> Path:
    """A problem of inputs `a, b` (`inputs`: the expression get_inputs returns)."""
    path = tmp_path / f"{name}.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def forward(self, a, b):\n        return {forward}\n\n\n"
        f"def get_inputs():\n    return {inputs}\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


def rand(*shape: int) -> str:
    return f"torch.randn{shape}"


# name: (forward, inputs, kind, (M, N, K, batch), A transposed, B transposed, epilogue)
FORMS = {
    "square": ("torch.matmul(a, b)", [rand(40, 40), rand(40, 40)], "matmul", (40, 40, 40, 1)),
    "rectangular": ("a @ b", [rand(37, 70), rand(70, 45)], "matmul", (37, 45, 70, 1)),
    "batched": ("torch.bmm(a, b)", [rand(3, 20, 30), rand(3, 30, 25)], "matmul", (20, 25, 30, 3)),
    "matvec": ("torch.matmul(a, b)", [rand(33, 300), rand(300, 1)], "matvec", (33, 1, 300, 1)),
    "matvec_1d": ("torch.mv(a, b)", [rand(33, 300), rand(300)], "matvec", (33, 1, 300, 1)),
    "large_k": (
        "torch.matmul(a, b)",
        [rand(16, 5000), rand(5000, 16)],
        "matmul",
        (16, 16, 5000, 1),
    ),
    "small_k": ("torch.matmul(a, b)", [rand(300, 4), rand(4, 200)], "matmul", (300, 200, 4, 1)),
    "irregular": ("torch.matmul(a, b)", [rand(71, 29), rand(29, 53)], "matmul", (71, 53, 29, 1)),
    "tall_skinny": ("torch.matmul(a, b)", [rand(400, 8), rand(8, 400)], "matmul", (400, 400, 8, 1)),
    "tensor_3d": (
        "torch.matmul(a, b)",
        [rand(4, 30, 20), rand(20, 18)],
        "matmul",
        (120, 18, 20, 1),
    ),
    "tensor_4d": (
        'torch.einsum("bijl,lk->bijk", a, b)',
        [rand(2, 3, 10, 12), rand(12, 9)],
        "matmul",
        (60, 9, 12, 1),
    ),
    "symmetric": (
        "torch.matmul(a, b)",
        ["(a := torch.randn(30, 30)) + a.T", rand(30, 30)],
        "matmul",
        (30, 30, 30, 1),
    ),
    "triu": (
        "torch.triu(torch.matmul(a, b))",
        [rand(50, 50), rand(50, 50)],
        "matmul",
        (50, 50, 50, 1),
        "triu",
    ),
    "tril_offset": (
        "torch.tril(a @ b, -3)",
        [rand(50, 40), rand(40, 60)],
        "matmul",
        (50, 60, 40, 1),
        "tril",
    ),
    "transposed_a": (
        "torch.matmul(a.T, b)",
        [rand(40, 30), rand(40, 20)],
        "matmul",
        (30, 20, 40, 1),
        "",
        True,
    ),
    "transposed_b": (
        "torch.matmul(a, b.T)",
        [rand(30, 40), rand(20, 40)],
        "matmul",
        (30, 20, 40, 1),
        "",
        False,
        True,
    ),
    "transposed_both": (
        "torch.matmul(a.T, b.T)",
        [rand(40, 30), rand(20, 40)],
        "matmul",
        (30, 20, 40, 1),
        "",
        True,
        True,
    ),
    "batched_transposed": (
        "a.mT @ b",
        [rand(2, 40, 30), rand(2, 40, 20)],
        "matmul",
        (30, 20, 40, 2),
        "",
        True,
    ),
}


def form_problem(tmp_path: Path, name: str) -> Path:
    forward, inputs = FORMS[name][0], FORMS[name][1]
    return problem_file(tmp_path, forward, "[" + ", ".join(inputs) + "]", name)


@pytest.mark.parametrize("name", FORMS)
def test_each_matmul_form_is_recognised_with_its_parameters(name, tmp_path):
    forward, _, kind, (m, n, k, batch), *rest = FORMS[name]
    epilogue, trans_a, trans_b = (list(rest) + ["", False, False][len(rest) :])[:3]
    recognised = recognise(form_problem(tmp_path, name))
    spec = recognised.spec
    assert (recognised.family, recognised.kind) == ("gemm", kind), recognised.why
    assert (spec.m, spec.n, spec.k, spec.batch) == (m, n, k, batch)
    assert (spec.epilogue, spec.a.trans, spec.b.trans) == (epilogue, trans_a, trans_b)
    assert f"M={m} N={n} K={k}" in spec.describe()


def test_diagonal_and_scalar_forms(tmp_path):
    left = recognise(
        problem_file(tmp_path, "torch.diag(a) @ b", "[torch.randn(30), torch.randn(30, 20)]")
    )
    assert (left.kind, left.spec.side, left.shape) == ("diag", "left", (30, 20))
    right = recognise(
        problem_file(tmp_path, "b @ torch.diag(a)", "[torch.randn(20), torch.randn(30, 20)]")
    )
    assert (right.kind, right.spec.side) == ("diag", "right")
    broadcast = recognise(
        problem_file(tmp_path, "a.unsqueeze(1) * b", "[torch.randn(30), torch.randn(30, 20)]")
    )
    assert (broadcast.kind, broadcast.spec.side) == ("diag", "left")
    scalar = recognise(problem_file(tmp_path, "a * b", "[torch.randn(30, 20), 3.14]"))
    assert (scalar.family, scalar.kind, scalar.spec.b.input) == ("gemm", "scale", 1)
    assert "rows of a 30x20 matrix scaled" in left.spec.describe()


REFUSED = {
    "matmul_relu": ("torch.relu(a @ b)", "aten.relu"),
    "two_products": ("(a @ b) @ b", "2 matrix products"),
    "sliced_operand": ("a[:, :10] @ b[:10]", "not a whole input"),
    "computed_operand": ("(a * 2) @ b", "aten.mul"),
    "part_of_the_product": ("(a @ b)[2:]", "not returned as it is"),
    "transposed_product": ("(a @ b).T", "not returned as it is"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_other_products_are_unsupported_with_the_reason(case, tmp_path):
    forward, reason = REFUSED[case]
    recognised = recognise(
        problem_file(tmp_path, forward, "[torch.randn(20, 20), torch.randn(20, 20)]")
    )
    assert recognised.family == "unsupported" and reason in recognised.why, recognised.why


def test_a_plain_pointwise_product_is_not_taken_for_a_gemm(tmp_path):
    same_shape = recognise(
        problem_file(tmp_path, "a * b", "[torch.randn(9, 8), torch.randn(9, 8)]")
    )
    assert same_shape.family == "pointwise"


# -- C++ --------------------------------------------------------------------------------------


def check_cpp(problem: Path, variants=None) -> None:
    """Every (or the given) CPU variant against the reference run in float64."""
    module, recognised = import_module(problem), recognise(problem)
    for variant in variants or CPP.offline_variants(recognised):
        namespace: dict = {}
        exec(
            compile(CPP.offline_source(recognised, variant), f"{variant.name}.py", "exec"),
            namespace,
        )
        torch.manual_seed(0)
        inputs = module.get_inputs()
        wide = [x.double() if isinstance(x, torch.Tensor) else x for x in inputs]
        expected = module.Model()(*wide)
        got = namespace["ModelNew"]()(*inputs)
        assert got.shape == expected.shape and got.dtype == inputs[0].dtype
        torch.testing.assert_close(got.double(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", FORMS)
def test_cpp_candidates_match_a_float64_product(name, tmp_path):
    check_cpp(form_problem(tmp_path, name), CPP.offline_variants(Recognised("gemm"))[:1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rectangular", "batched", "triu", "transposed_both", "large_k"])
def test_every_cpp_variant_matches(name, tmp_path):
    check_cpp(form_problem(tmp_path, name))


@pytest.mark.parametrize(
    "forward, inputs",
    [
        ("torch.diag(a) @ b", "[torch.randn(30), torch.randn(30, 20)]"),
        ("b @ torch.diag(a)", "[torch.randn(20), torch.randn(30, 20)]"),
        ("a.unsqueeze(1) * b", "[torch.randn(30), torch.randn(30, 20)]"),
        ("a * b", "[torch.randn(30, 20), 3.14]"),
    ],
)
def test_cpp_streaming_candidates_match(forward, inputs, tmp_path):
    check_cpp(problem_file(tmp_path, forward, inputs))


def _spec(m, n, k, epilogue="", diagonal=0, trans=(False, False)) -> Gemm:
    a, b = Operand(0, trans[0]), Operand(1, trans[1])
    return Gemm("matmul", a, b, m, n, k, epilogue=epilogue, diagonal=diagonal)


@pytest.mark.parametrize(
    "m, n, k, epilogue, diagonal, trans",
    [
        (300, 517, 1000, "", 0, (True, False)),  # several MC, KC, NC blocks; edge tiles
        (9, 700, 20000, "", 0, (False, True)),  # one row chunk: K split across threads
        (300, 290, 70, "triu", 3, (False, False)),  # dead tiles skipped, then masked
        (300, 290, 70, "tril", -40, (True, True)),
        (64, 96, 8, "", 0, (False, True)),  # one K panel, aligned rows: tiles streamed
        (64, 96, 8, "triu", 1, (False, False)),
    ],
)
def test_cpp_blocked_paths_on_larger_shapes(m, n, k, epilogue, diagonal, trans):
    spec = _spec(m, n, k, epilogue, diagonal, trans)
    namespace: dict = {}
    source = CPP.offline_source(
        Recognised("gemm", kind="matmul", spec=spec), CPP.offline_variants(Recognised("gemm"))[0]
    )
    exec(compile(source, "candidate.py", "exec"), namespace)
    a = torch.randn(k, m) if trans[0] else torch.randn(m, k)
    b = torch.randn(n, k) if trans[1] else torch.randn(k, n)
    expected = (a.double().T if trans[0] else a.double()) @ (
        b.double().T if trans[1] else b.double()
    )
    expected = {"triu": torch.triu, "tril": torch.tril}.get(epilogue, lambda x, d: x)(
        expected, diagonal
    )
    torch.testing.assert_close(
        namespace["ModelNew"]()(a, b).double(), expected, atol=1e-3, rtol=1e-4
    )


@pytest.mark.slow
def test_a_cpp_candidate_verifies_through_the_worker(tmp_path):
    problem = form_problem(tmp_path, "transposed_both")
    candidate = tmp_path / "candidate.py"
    recognised = recognise(problem)
    candidate.write_text(CPP.offline_source(recognised, CPP.offline_variants(recognised)[0]))
    verdict = verify(problem, candidate, Target.cpu(threads=2), VerifyOptions(trials=2))
    assert verdict.ok, verdict.model_dump_json(indent=1)


def test_blocking_follows_the_caches_and_the_shape():
    caches = {"L1d": 48 * 1024, "L2": 1024 * 1024, "L3": 32 * 1024 * 1024}
    big = blocking(caches, 4096, 4096, 4096)
    assert big.kc * 32 * 4 <= caches["L1d"] // 2  # a B sliver in half of L1
    assert big.mc * big.kc * 4 <= caches["L2"] // 2  # an A block in half of L2
    assert big.kc * big.nc * 4 <= caches["L3"] // 2
    small = blocking(caches, 9, 40, 4)
    assert (small.mc, small.kc, small.nc) == (16, 16, 64)  # rounded up to MR, 16, NR
    assert blocking({"L1d": 32 * 1024}, 4096, 4096, 4096).kc < big.kc


# -- Triton -----------------------------------------------------------------------------------


def test_triton_tiles_fit_the_shape_and_split_long_k():
    square = gemm_configs(_spec(4096, 4096, 4096))
    assert all(t.split_k == 1 for t in square) and square[0].block_m == 128
    long_k = gemm_configs(_spec(256, 256, 131072))
    assert all(t.split_k > 1 for t in long_k) and all(131072 // t.split_k >= 256 for t in long_k)
    small_k = gemm_configs(_spec(16384, 16384, 32))
    assert all(t.block_k == 32 and t.num_stages == 2 for t in small_k)
    narrow = gemm_configs(_spec(16384, 16, 16384))
    assert all(t.block_n == 16 for t in narrow)
    assert all(t.split_k == 1 for t in gemm_configs(_spec(256, 256, 131072, "triu")))
    few_rows = Gemm("matvec", Operand(0, False), Operand(1, False), 256, 1, 131072)
    assert "'SPLIT_K': 1" not in matvec_configs(few_rows)[0]


def test_triton_candidates_are_float32_accurate_unless_tf32_is_allowed():
    recognised = Recognised("gemm", kind="matmul", spec=_spec(64, 64, 64))
    variant = TRITON.offline_variants(recognised)[0]
    exact = triton_gemm(recognised, variant, allow_tf32=False)
    assert 'input_precision="tf32x3"' in exact
    assert "tf32-dot" not in {f.rule for f in check_source(exact, TRITON.static_policy, "float32")}
    fast = triton_gemm(recognised, variant, allow_tf32=True)
    assert "tf32-dot" in {f.rule for f in check_source(fast, TRITON.static_policy, "float32")}


def test_three_tf32_products_are_about_as_accurate_as_float32():
    """The 3xTF32 scheme emulated on the CPU (the interpreter multiplies in float32 whatever
    the precision asked, so it cannot show this): TF32's 10-bit mantissa loses ~3 digits,
    the hi/lo split recovers float32's error."""
    torch.manual_seed(0)
    a, b = torch.randn(64, 2048), torch.randn(2048, 64)

    def tf32(x):  # round to nearest on the 13 dropped mantissa bits
        bits = x.view(torch.int32)
        return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)

    exact = a.double() @ b.double()
    a_hi, b_hi = tf32(a), tf32(b)
    a_lo, b_lo = tf32(a - a_hi), tf32(b - b_hi)
    three = a_hi @ b_hi + (a_hi @ b_lo + a_lo @ b_hi)
    errors = {
        name: (value.double() - exact).abs().max().item()
        for name, value in (("fp32", a @ b), ("tf32", a_hi @ b_hi), ("3xtf32", three))
    }
    assert errors["3xtf32"] < 4 * errors["fp32"] and errors["tf32"] > 50 * errors["3xtf32"]


@pytest.fixture
def interpreter(monkeypatch) -> Target:
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    return Target.gpu(threads=1)


# Forms whose tiles take the kernel's other paths: several tiles in GROUP_M groups (A read
# transposed), split-K (two tiles, K = 8192), triangles with tiles skipped as all zero.
TRITON_PATHS = {
    "tiles_and_groups": ("a.T @ b", "[torch.randn(70, 300), torch.randn(70, 200)]"),
    "split_k": ("a @ b.T", "[torch.randn(32, 8192), torch.randn(32, 8192)]"),
    "triu_dead_tiles": ("torch.triu(a @ b, 2)", "[torch.randn(300, 40), torch.randn(40, 300)]"),
    "tril_dead_tiles": ("torch.tril(a @ b, -5)", "[torch.randn(300, 40), torch.randn(40, 300)]"),
}


def test_the_interpreter_cases_take_the_paths_they_name(tmp_path):
    configs = {
        name: gemm_configs(recognise(problem_file(tmp_path, *TRITON_PATHS[name], name)).spec)[0]
        for name in TRITON_PATHS
    }
    assert configs["tiles_and_groups"].block_m < 300 and configs["split_k"].split_k > 1
    assert configs["triu_dead_tiles"].block_m < 300 and configs["tril_dead_tiles"].block_n < 300


@pytest.mark.slow
@pytest.mark.parametrize(
    "forward, inputs",
    [
        *TRITON_PATHS.values(),
        ("torch.bmm(a, b)", "[torch.randn(3, 20, 30), torch.randn(3, 30, 25)]"),
        ('torch.einsum("bijl,lk->bijk", a, b)', "[torch.randn(2, 3, 10, 12), torch.randn(12, 9)]"),
        ("torch.matmul(a, b)", "[torch.randn(33, 3000), torch.randn(3000, 1)]"),
        ("torch.diag(a) @ b", "[torch.randn(30), torch.randn(30, 20)]"),
        ("b @ torch.diag(a)", "[torch.randn(20), torch.randn(30, 20)]"),
        ("a * b", "[torch.randn(30, 20), 3.14]"),
    ],
)
def test_triton_candidates_verify_under_the_interpreter(forward, inputs, interpreter, tmp_path):
    problem = problem_file(tmp_path, forward, inputs)
    recognised = recognise(problem)
    candidate = tmp_path / "candidate.py"
    candidate.write_text(TRITON.offline_source(recognised, TRITON.offline_variants(recognised)[1]))
    verdict = verify(
        problem, candidate, interpreter, VerifyOptions(trials=1, limits=Limits(timeout_s=120))
    )
    assert verdict.ok, verdict.model_dump_json(indent=1)
