"""The `pragma` command: output and exit codes scripts rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pragma_kernels.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "problems"
runner = CliRunner()

IDENTITY = """
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        return x
"""


def test_problems_lists_categories_and_reports_bad_files():
    result = runner.invoke(app, ["problems", str(FIXTURES), "--json"])
    assert result.exit_code == EXIT_BAD_INPUT  # bad files are listed, and the exit says so
    listing = json.loads(result.stdout)
    assert {p["name"]: p["category"] for p in listing["problems"]}["tiny_relu"] == "activation"
    assert len(listing["errors"]) == 3 and any("syntax_error.py" in e for e in listing["errors"])
    checks = {p["name"]: p["check"] for p in listing["problems"]}
    assert checks["tiny_relu"]["status"] == "ok" and checks["relu_1m"]["status"] == "ok"
    assert checks["model_raises"]["status"] == "bad"
    assert (
        "forward(*get_inputs()) raised ValueError: reference is broken"
        in (checks["model_raises"]["detail"])
    )
    assert checks["non_tensor_output"]["status"] == "bad"
    assert "forward returned a str" in checks["non_tensor_output"]["detail"]


def test_problems_on_a_kernelbench_shaped_directory(tmp_path):
    level1 = tmp_path / "KernelBench" / "level1"
    level1.mkdir(parents=True)
    source = (FIXTURES / "tiny_relu.py").read_text()
    for name in [
        "1_Square_matrix_multiplication_",
        "19_ReLU",
        "23_Softmax",
        "36_RMSNorm_",
        "41_Max_Pooling_1D",
        "54_conv_standard_3D__square_input__square_kernel",
        "89_cumsum",
        "100_HingeLoss",
    ]:
        (level1 / f"{name}.py").write_text(source)
    result = runner.invoke(app, ["problems", str(level1)])
    assert result.exit_code == EXIT_OK
    for text in ["matmul", "activation", "normalization", "pooling_reduction", "conv", "others"]:
        assert text in result.stdout
    # Natural order: 1, 19, 23, ..., 100.
    assert (
        result.stdout.index("1_Square")
        < result.stdout.index("19_ReLU")
        < result.stdout.index("100_HingeLoss")
    )


@pytest.mark.slow
def test_verify_exit_codes(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text(IDENTITY)
    problem = str(FIXTURES / "tiny_relu.py")
    result = runner.invoke(app, ["verify", problem, str(wrong), "--threads", "1"])
    assert result.exit_code == EXIT_FAILED
    assert "no_kernel" in result.stdout and "remedy" in result.stdout
    allowed = ["verify", problem, str(wrong), "--threads", "1", "--allow", "no-kernel"]
    result = runner.invoke(app, allowed)
    assert result.exit_code == EXIT_FAILED
    assert "numerical_mismatch" in result.stdout and "warning:" in result.stdout
    unknown = runner.invoke(app, ["verify", problem, str(wrong), "--allow", "kernels"])
    assert unknown.exit_code == EXIT_BAD_INPUT and "unknown static rule" in unknown.stderr
    missing = runner.invoke(app, ["verify", problem, str(tmp_path / "nope.py")])
    assert missing.exit_code == EXIT_BAD_INPUT and "no such solution" in missing.stderr
    broken = runner.invoke(app, ["verify", str(FIXTURES / "model_raises.py"), str(wrong)])
    assert broken.exit_code == EXIT_BAD_INPUT


def test_time_reports_baselines_as_json():
    result = runner.invoke(
        app,
        [
            "time",
            str(FIXTURES / "tiny_relu.py"),
            "--baseline",
            "eager",
            "--budget",
            "0.2",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == EXIT_OK, result.stdout
    report = json.loads(result.stdout)
    eager = report["timings"]["eager"]
    assert eager["median_ms"] > 0 and eager["threads"] == 1 and eager["samples"] >= 10
    assert "candidate" not in report["timings"]


def test_time_refuses_to_time_a_wrong_candidate(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text(IDENTITY)
    result = runner.invoke(
        app,
        [
            "time",
            str(FIXTURES / "tiny_relu.py"),
            str(wrong),
            "--baseline",
            "eager",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == EXIT_FAILED and "not timed" in result.stdout


def test_unknown_baseline_is_bad_input():
    result = runner.invoke(app, ["time", str(FIXTURES / "tiny_relu.py"), "--baseline", "jit"])
    assert result.exit_code == EXIT_BAD_INPUT and "unknown baseline" in result.stderr


def test_doctor_reports_the_compiler():
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == EXIT_OK
    assert "C++ compiler" in result.stdout and "torch" in result.stdout


def test_problems_category_overrides_from_a_toml_file(tmp_path):
    overrides = tmp_path / "categories.toml"
    overrides.write_text('tiny_relu = "others"\n')
    result = runner.invoke(
        app, ["problems", str(FIXTURES), "--categories", str(overrides), "--json", "--no-check"]
    )
    listing = {p["name"]: p for p in json.loads(result.stdout)["problems"]}
    assert (listing["tiny_relu"]["category"], listing["tiny_relu"]["category_from"]) == (
        "others",
        "override",
    )
    overrides.write_text('tiny_relu = "fancy"\n')
    bad = runner.invoke(app, ["problems", str(FIXTURES), "--categories", str(overrides)])
    assert bad.exit_code == 2 and "is not a category" in bad.stderr


def test_optimize_no_ncu_reaches_the_loop(monkeypatch):
    import pragma_kernels.api as api
    from pragma_kernels.errors import PragmaError

    seen = {}

    def fake_optimize(problem, **kwargs):
        seen.update(kwargs)
        raise PragmaError("stop here")

    monkeypatch.setattr(api, "optimize", fake_optimize)
    problem = str(ROOT / "examples" / "problems" / "softsign.py")
    result = runner.invoke(app, ["optimize", problem, "--mode", "offline", "--no-ncu"])
    assert result.exit_code == EXIT_BAD_INPUT and seen["use_ncu"] is False


def test_an_unexpected_exception_exits_3_not_1(monkeypatch, capsys):
    """1 means "the candidate failed": a bug in the tool must not read as that."""
    import pragma_kernels.cli as cli
    from pragma_kernels.cli import EXIT_INTERNAL

    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == EXIT_INTERNAL
    assert "RuntimeError: a bug" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("speedup", "said"),
    [
        (0.4, "No faster kernel found"),
        (1.02, "No faster kernel found"),  # within the noise of eager: not a result either
        (1.5, "Best: attempt 2, 1.50x vs eager"),
    ],
)
def test_optimize_never_presents_a_slower_kernel_as_the_result(
    monkeypatch, tmp_path, speedup, said
):
    import pragma_kernels.api as api
    from pragma_kernels.agents.records import AttemptRecord
    from pragma_kernels.verdict import Verdict, VerdictKind

    best = AttemptRecord(
        number=2, coder_prompt="", coder_reply="", code="x", speedup=speedup,
        candidate_ms=1.0, baseline_ms=speedup, baselines_ms={"eager": speedup},
        verdict=Verdict(ok=True, kind=VerdictKind.OK),
    )  # fmt: skip
    monkeypatch.setattr(
        api, "optimize", lambda problem, **kw: api.OptimizeResult(best, [best], "done", tmp_path)
    )
    problem = str(ROOT / "examples" / "problems" / "softsign.py")
    result = runner.invoke(app, ["optimize", problem, "--mode", "offline"])
    assert result.exit_code == EXIT_OK and said in " ".join(result.output.split())
