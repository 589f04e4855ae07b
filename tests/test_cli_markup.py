"""Brackets in help and messages are shown, not taken for rich markup: `[llm]`,
`return [torch.randn(...), ...]` and `pragma-kernels[llm]` vanished before they were escaped."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from pragma_kernels import cli
from pragma_kernels.cli import EXIT_BAD_INPUT, EXIT_FAILED, app

FIXTURES = Path(__file__).parent / "fixtures" / "problems"
WIDE = {"COLUMNS": "400"}  # no wrapping inside a bracketed word
runner = CliRunner()


def commands(group: click.Group, prefix: tuple[str, ...] = ()):
    """(argv prefix, click command) for every command and sub-command."""
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


def bracketed(text: str | None) -> list[str]:
    """The `[...]` words a help text means to show (rich's `\\[` escape removed)."""
    return re.findall(r"\[[^\]\n]*\]", (text or "").replace("\\[", "["))


def test_every_bracket_in_every_help_text_is_shown():
    root = typer.main.get_command(app)
    top = runner.invoke(app, ["--help"], env=WIDE)
    assert top.exit_code == 0 and "optimize" in top.stdout
    assert all(word in top.stdout for word in bracketed(root.help))
    checked = 0
    for argv, command in commands(root):
        texts = [command.help, *(getattr(p, "help", None) for p in command.params)]
        words = [word for text in texts for word in bracketed(text)]
        if not words:
            continue
        shown = runner.invoke(app, [*argv, "--help"], env=WIDE).stdout
        for word in words:
            assert word in shown, f"pragma {' '.join(argv)} --help lost {word}"
        checked += len(words)
    assert checked >= 3  # optimize's --llm-config: [llm], [conductor], [prices]


def test_optimize_help_shows_the_config_sections():
    shown = runner.invoke(app, ["optimize", "--help"], env=WIDE).stdout
    assert "TOML with [llm], [conductor] and [prices]" in shown


def test_a_problem_error_shows_the_fix_with_its_list():
    result = runner.invoke(app, ["problems", str(FIXTURES / "no_get_inputs.py")], env=WIDE)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "def get_inputs(): return [torch.randn(...), ...]" in result.stderr


@pytest.fixture
def captured(monkeypatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=300))
    return out


def test_a_verdicts_cause_and_remedy_keep_their_brackets(captured):
    from pragma_kernels.verdict import Verdict, VerdictKind

    verdict = Verdict(
        ok=False,
        kind=VerdictKind.OUTPUT_TYPE,
        message="forward returned [tensor, None]",
        cause="the output is a list [a, b] with a None",
        remedy="return (a, b), not [a, None]",
    )
    cli._print_verdict(verdict)
    text = captured.getvalue()
    assert "[tensor, None]" in text and "list [a, b] with" in text and "not [a, None]" in text


def test_profile_rows_and_gaps_keep_their_brackets(captured):
    from pragma_kernels.profilers.schema import (
        KernelProfile,
        Metric,
        Profile,
        Unavailable,
        UnavailableKind,
    )

    metric = Metric(name="ipc", value=1.5, profiler="perf", source="perf [user]")
    profile = Profile(
        tools=["perf"],
        target="cpu",
        kernels=[KernelProfile(name="relu[omp]", metrics=[metric])],
        unavailable=[
            Unavailable(
                what="top-down [perf]",
                why="no PMU [vm]",
                kind=UnavailableKind.NO_COUNTERS,
                profiler="perf",
            )
        ],
    )
    cli._print_profile(profile)
    text = captured.getvalue()
    for word in ("relu[omp]", "perf [user]", "top-down [perf]: no PMU [vm]"):
        assert word in text, word


def test_doctor_shows_the_extra_in_its_fix(monkeypatch):
    from pragma_kernels import doctor

    missing = doctor.Check("openai SDK", "missing", "not installed", doctor.LLM_EXTRA)
    monkeypatch.setattr(doctor, "run_checks", lambda *args: {"LLM": [missing]})
    result = runner.invoke(app, ["doctor"], env=WIDE)
    assert "pip install 'pragma-kernels[llm]'" in result.stdout


def test_optimize_stop_reason_keeps_its_brackets(monkeypatch, tmp_path):
    import pragma_kernels.api as api

    stopped = "stopped: the openai SDK is not installed. Fix: pip install 'pragma-kernels[llm]'"
    usage = SimpleNamespace(input_tokens=0, output_tokens=0, cost_usd=0.0, cached_calls=0)
    result = SimpleNamespace(
        unsupported=False, usage=usage, stopped=stopped, best=None, run_dir=tmp_path / "r[1]"
    )
    monkeypatch.setattr(api, "optimize", lambda problem, **kwargs: result)
    problem = FIXTURES / "tiny_relu.py"
    shown = runner.invoke(app, ["optimize", str(problem), "--mode", "offline"], env=WIDE)
    assert shown.exit_code == EXIT_FAILED
    assert "pip install 'pragma-kernels[llm]'." in shown.stdout and "r[1]" in shown.stdout
