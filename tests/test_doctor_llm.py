"""`pragma doctor`'s LLM checks: the settings it reports come from the same file and
variables as `pragma optimize`, the key is never shown, and `--llm-ping` answers in bounded
time through the real openai SDK (a scripted server on 127.0.0.1, then a closed port)."""

from __future__ import annotations

import socket
import time

import pytest
from typer.testing import CliRunner

from pragma_kernels import doctor
from pragma_kernels.cli import app
from pragma_kernels.llm import LLMSettings
from pragma_kernels.llm.scripted import ScriptedLLM

pytest.importorskip("openai")
SECRET = "sk-do-not-print-me"
VARIABLES = (
    "PRAGMA_LLM_MODEL",
    "PRAGMA_LLM_PROVIDER",
    "PRAGMA_LLM_BASE_URL",
    "PRAGMA_LLM_API_KEY_ENV",
    "PRAGMA_LLM_CONFIG",
)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No user config file, no PRAGMA_LLM_* from the machine running the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def by_name(checks) -> dict:
    return {check.name: check for check in checks}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nobody listens once it is closed


def test_no_model_is_a_warning_that_says_how_to_set_one(env):
    checks = by_name(doctor.check_llm(ping=True))
    settings = checks["LLM settings"]
    assert settings.status == "warn" and "PRAGMA_LLM_MODEL" in settings.fix
    assert "no config file" in settings.detail
    assert checks["LLM ping"].status == "warn" and "nothing to ping" in checks["LLM ping"].detail


def test_settings_come_from_the_file_and_variables_and_the_key_is_never_shown(env, tmp_path):
    config = tmp_path / "llm.toml"
    config.write_text(
        '[llm]\nmodel = "deepseek-chat"\nbase_url = "https://api.deepseek.com"\n'
        'api_key_env = "DEEPSEEK_API_KEY"\n[conductor]\nmodel = "deepseek-reasoner"\n'
    )
    env.setenv("PRAGMA_LLM_CONFIG", str(config))
    env.setenv("DEEPSEEK_API_KEY", SECRET)
    checks = by_name(doctor.check_llm())
    detail = checks["LLM settings"].detail
    assert checks["LLM settings"].status == "ok" and "deepseek-chat (openai)" in detail
    assert "Conductor: deepseek-reasoner" in detail and str(config) in detail
    assert checks["openai SDK"].status == "ok" and "LLM ping" not in checks
    key = checks["API key"]
    assert key.status == "ok" and "$DEEPSEEK_API_KEY is set" in key.detail
    assert all(SECRET not in f"{c.detail} {c.fix}" for c in checks.values())
    env.delenv("DEEPSEEK_API_KEY")
    key = by_name(doctor.check_llm())["API key"]
    assert key.status == "missing" and "export DEEPSEEK_API_KEY=" in key.fix


def test_a_missing_sdk_names_the_extra(env, monkeypatch):
    from importlib import metadata

    def version(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", version)
    env.setenv("PRAGMA_LLM_MODEL", "claude-x")
    env.setenv("PRAGMA_LLM_PROVIDER", "anthropic")
    sdk = by_name(doctor.check_llm())["anthropic SDK"]
    assert sdk.status == "missing" and "pip install 'pragma-kernels[llm]'" in sdk.fix


def test_a_broken_config_file_is_reported_not_raised(env, tmp_path):
    config = tmp_path / "llm.toml"
    config.write_text("[llm]\nmodle = 'typo'\n")
    checks = doctor.check_llm(config)
    assert checks[0].status == "missing" and "llm.modle" in checks[0].detail
    assert "sections are [llm]" in checks[0].fix


def test_cli_ping_reports_latency_from_a_local_endpoint(env):
    server = ScriptedLLM([{"content": "ready", "out": 1}])
    env.setenv("PRAGMA_LLM_MODEL", "local-model")
    env.setenv("PRAGMA_LLM_BASE_URL", server.base_url)
    env.setenv("TEST_KEY", SECRET)
    env.setenv("PRAGMA_LLM_API_KEY_ENV", "TEST_KEY")
    try:
        result = CliRunner().invoke(app, ["doctor", "--llm-ping"], env={"COLUMNS": "250"})
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    assert "answered in" in result.stdout and "by local-model" in result.stdout
    assert "$TEST_KEY is set" in result.stdout and SECRET not in result.stdout
    request = server.requests[0]
    assert request["max_tokens"] == 1 and request["model"] == "local-model"


def test_ping_to_a_closed_port_fails_quickly_in_one_line(env):
    env.setenv("PRAGMA_LLM_MODEL", "m")
    env.setenv("PRAGMA_LLM_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    start = time.monotonic()
    ping = by_name(doctor.check_llm(ping=True))["LLM ping (m)"]
    assert time.monotonic() - start < doctor.PING_TIMEOUT_S
    assert ping.status == "missing" and ping.detail.startswith("no answer after")
    assert "Connection" in ping.detail and "\n" not in ping.detail
    assert "check the model and base URL" in ping.fix


def test_ping_of_a_silent_endpoint_is_bounded_by_its_timeout(env):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepted by the kernel, never answered
    env.setenv("PRAGMA_LLM_MODEL", "m")
    try:
        settings = LLMSettings(
            model="m", base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        )
        start = time.monotonic()
        ping = doctor.ping_llm(settings, timeout_s=0.5)
    finally:
        listener.close()
    assert time.monotonic() - start < 5 and ping.status == "missing"
    assert "timed out" in ping.detail.lower()
