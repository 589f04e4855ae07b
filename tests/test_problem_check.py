"""`pragma problems` runs each problem once: construction and one forward at its smallest
size, in a child process; broken problems are bad (exit 2), big or slow ones are not run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pragma_kernels.cli import EXIT_BAD_INPUT, EXIT_OK, app
from pragma_kernels.problem_check import CheckLimits, check_problems

runner = CliRunner()


def problem(init: str = "", forward: str = "return torch.relu(x)", inputs: str = "4, 8") -> str:
    return f"""import time
import torch

n = 4096
SIZES = {{"tiny": {{"n": 4}}}}


class Model(torch.nn.Module):
    def __init__(self, *args):
        super().__init__()
        {init or "pass"}

    def forward(self, x):
        print("problems may print; the checker's answers are not disturbed")
        {forward}


def get_inputs():
    return [torch.randn({inputs})]


def get_init_inputs():
    return [3]
"""


FILES = {
    "good": problem(inputs="n, n"),  # 64 MiB at its default size; run at `tiny`
    "init_raises": problem(init='raise ValueError("channels must be even, got 3")'),
    "returns_list": problem(forward="return x.tolist()"),
    "returns_tensor_list": problem(forward="return [x, x + 1]"),  # the Verifier takes it
    "huge": problem(inputs="1 << 20, 1 << 12"),  # 16 GiB in, 16 out; no smaller size
}


@pytest.fixture(scope="module")
def directory(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("problems")
    for name, source in FILES.items():
        (folder / f"{name}.py").write_text(source)
    return folder


def test_each_problem_gets_a_verdict_with_the_error_and_a_fix(directory):
    paths = [directory / f"{name}.py" for name in FILES]
    checks = dict(zip(FILES, check_problems(paths), strict=True))
    assert (checks["good"].status, checks["good"].size) == ("ok", "tiny")
    bad = checks["init_raises"]
    assert bad.status == "bad" and "Model(*get_init_inputs()) raised ValueError" in bad.detail
    assert "channels must be even, got 3 (line 11)" in bad.detail and "constructor" in bad.fix
    listed = checks["returns_list"]
    assert listed.status == "bad" and "forward returned a list of 4 items (list)" in listed.detail
    assert "tuple of tensors" in listed.fix
    assert checks["returns_tensor_list"].status == "ok"
    huge = checks["huge"]
    assert huge.status == "not run" and "32.00 GiB" in huge.detail and "SIZES" in huge.fix


def test_cli_adds_a_check_column_and_exits_2_on_a_bad_problem(directory):
    result = runner.invoke(app, ["problems", str(directory)], env={"COLUMNS": "200"})
    assert result.exit_code == EXIT_BAD_INPUT
    assert "check" in result.stdout and "ok (tiny)" in result.stdout
    assert "not run: huge: 32.00 GiB" in result.stdout
    assert "returns_list.py: forward returned a list" in result.stderr
    assert "Fix: return a tensor, or a tuple of tensors: `return (a, b)`" in result.stderr
    listing = runner.invoke(app, ["problems", str(directory / "good.py"), "--json"])
    assert listing.exit_code == EXIT_OK
    entry = json.loads(listing.stdout)["problems"][0]
    assert entry["check"] == {
        "status": "ok",
        "detail": "constructed and ran forward at size tiny",
        "fix": "",
        "size": "tiny",
    }


def test_no_check_only_imports_and_says_so(directory):
    result = runner.invoke(app, ["problems", str(directory), "--no-check"])
    assert result.exit_code == EXIT_OK and "not checked (--no-check)" in result.stdout
    listing = runner.invoke(app, ["problems", str(directory), "--no-check", "--json"])
    answer = json.loads(listing.stdout)
    assert answer["checked"] is False and answer["problems"][0]["check"] is None


@pytest.mark.slow
def test_a_hanging_forward_is_not_run_in_bounded_time_and_the_rest_still_checked(tmp_path):
    (tmp_path / "a_hangs.py").write_text(problem(forward="time.sleep(600)"))
    (tmp_path / "b_good.py").write_text(problem())
    start = time.monotonic()
    hangs, good = check_problems(sorted(tmp_path.glob("*.py")), CheckLimits(timeout_s=3.0))
    assert time.monotonic() - start < 30
    assert hangs.status == "not run" and "no answer within 3 s" in hangs.detail
    assert good.status == "ok"
