"""Runs a user starts: a new run never overwrites an earlier one, an unsupported problem
exits with its own code and writes nothing, a missing LLM extra names its install line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pragma_kernels.api import choose_run_dir
from pragma_kernels.cli import EXIT_BAD_INPUT, EXIT_UNSUPPORTED, app
from pragma_kernels.errors import PragmaError

ROOT = Path(__file__).resolve().parent.parent


def started(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{}")
    return folder


def test_a_new_run_gets_a_new_directory_and_resume_takes_the_latest(tmp_path):
    default = tmp_path / "runs" / "relu-cpu-offline"
    assert choose_run_dir(None, default, resume=False) == default
    started(default)
    assert choose_run_dir(None, default, resume=False) == default.with_name("relu-cpu-offline-2")
    started(default.with_name("relu-cpu-offline-2"))
    assert choose_run_dir(None, default, resume=True) == default.with_name("relu-cpu-offline-2")
    assert choose_run_dir(None, default, resume=False) == default.with_name("relu-cpu-offline-3")


def test_a_named_directory_holding_a_run_needs_resume(tmp_path):
    folder = started(tmp_path / "mine")
    with pytest.raises(PragmaError, match="holds an earlier run. Fix: pass --resume"):
        choose_run_dir(folder, tmp_path / "unused", resume=False)
    assert choose_run_dir(folder, tmp_path / "unused", resume=True) == folder
    assert (
        choose_run_dir(tmp_path / "fresh", tmp_path / "unused", resume=False) == tmp_path / "fresh"
    )


def test_an_unsupported_problem_exits_with_its_own_code_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    problem = tmp_path / "qr.py"  # no template family computes a QR decomposition
    problem.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        "    def forward(self, x):\n        return torch.linalg.qr(x)[0]\n\n\n"
        "def get_inputs():\n    return [torch.randn(8, 8)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    result = CliRunner().invoke(
        app, ["optimize", str(problem), "--mode", "offline", "--target", "cpu"]
    )
    assert result.exit_code == EXIT_UNSUPPORTED, result.output
    assert "unsupported offline" in result.output and "Nothing was run" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_missing_llm_sdk_names_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if the extra were not installed
    monkeypatch.chdir(tmp_path)
    problem = ROOT / "examples" / "problems" / "relu.py"
    result = CliRunner().invoke(
        app, ["optimize", str(problem), "--target", "cpu", "--model", "m", "--base-url", "http://x"]
    )
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "pip install 'pragma-kernels[llm]'" in " ".join(result.output.split())
