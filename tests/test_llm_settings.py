"""LLM settings from a config file, PRAGMA_LLM_* variables and flags (later wins), with a
price table for cost accounting; bad files are refused naming the file and the fix."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pragma_kernels.cli import app
from pragma_kernels.errors import PragmaError
from pragma_kernels.llm.scripted import ScriptedLLM
from pragma_kernels.llm.settings import llm_settings, parse_config, resolve

CONFIG = """
[llm]
model = "deepseek-chat"
base_url = "https://api.deepseek.com"
api_key_env = "DEEPSEEK_API_KEY"

[conductor]
model = "deepseek-reasoner"

[prices]
"deepseek-chat" = [0.27, 1.10]
"deepseek-reasoner" = [0.55, 2.19]
"""


def test_file_then_env_then_flags_and_prices_by_model():
    config = parse_config(CONFIG, "llm.toml")
    coder, conductor = resolve(config, {}, {})
    assert coder.model == "deepseek-chat" and coder.usd_per_mtok_out == 1.10
    assert conductor.model == "deepseek-reasoner" and conductor.usd_per_mtok_in == 0.55
    assert conductor.base_url == "https://api.deepseek.com"  # inherited from [llm]
    coder, conductor = resolve(config, {"model": "env-model", "base_url": None}, {})
    assert coder.model == "env-model" and coder.usd_per_mtok_in == 0.0  # no price known
    assert coder.base_url == "https://api.deepseek.com"
    coder, _ = resolve(config, {"model": "env-model"}, {"model": "deepseek-chat"})
    assert coder.model == "deepseek-chat" and coder.usd_per_mtok_in == 0.27
    _, conductor = resolve(config, {}, {}, {"model": "deepseek-chat"})
    assert conductor.model == "deepseek-chat"
    assert resolve(parse_config("", "empty.toml"), {}, {}) == (None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[llm\nmodel = 1", "not valid TOML"),
        ('[llm]\nmodle = "x"', "llm.modle: Extra inputs"),
        ('[prices]\n"m" = [1.0]', "prices.m"),
        ('[model]\nname = "x"', "model: Extra inputs"),
    ],
)
def test_bad_config_names_the_file_the_field_and_the_fix(text, message):
    with pytest.raises(PragmaError, match=message) as info:
        parse_config(text, "/home/u/.config/pragma-kernels/llm.toml")
    assert "llm.toml" in str(info.value) and "Fix:" in str(info.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(PragmaError, match="not found"):
        llm_settings(file=tmp_path / "nope.toml")


@pytest.mark.slow
def test_cli_optimize_reads_the_config_file_and_counts_cost(tmp_path, monkeypatch, verify_only):
    pytest.importorskip("openai")
    from pathlib import Path

    from .test_loop import FAST, PROBLEM, WRONG, advice, fenced

    monkeypatch.delenv("PRAGMA_LLM_MODEL", raising=False)
    server = ScriptedLLM([fenced(WRONG), advice(), fenced(FAST)])
    config = Path(tmp_path / "llm.toml")
    config.write_text(
        f'[llm]\nmodel = "scripted"\nbase_url = "{server.base_url}"\n'
        '[prices]\n"scripted" = [100000.0, 100000.0]\n'
    )
    try:
        result = CliRunner().invoke(
            app,
            ["optimize", str(PROBLEM), "--target", "cpu", "--attempts", "2", "--mode", "no-profile"]
            + ["--run-dir", str(tmp_path / "run"), "--llm-config", str(config)]
            + ["--replies-label", "scripted"],
        )
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    # three scripted replies of 10 input + 5 output tokens at $0.1 per token
    unfolded = "".join(result.stdout.split())  # rich folds long lines at the console width
    # attempt 2 is the result, or (slower than eager) the one kept for reading
    assert "$4.5000" in unfolded
    assert "Best:attempt2" in unfolded or "bestcorrectone(attempt2:" in unfolded
    # run.json says the replies were scripted, not a model's (hand-answered finding 13)
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["coder_model"] == "scripted" and saved["replies"] == "scripted"


def test_who_wrote_the_replies_defaults_to_a_model_and_is_checked():
    coder, conductor = resolve(parse_config(CONFIG, "llm.toml"), {}, {})
    assert coder.replies == conductor.replies == "model"
    hand = parse_config(
        CONFIG.replace("[conductor]", 'replies = "hand-answered"\n[conductor]'), "f"
    )
    coder, conductor = resolve(hand, {}, {})
    assert coder.replies == conductor.replies == "hand-answered"
    with pytest.raises(PragmaError, match="replies"):
        resolve(parse_config(CONFIG, "llm.toml"), {}, {"replies": "guessed"})
