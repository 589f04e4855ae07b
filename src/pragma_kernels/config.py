"""Settings read from the environment, in one place.

Every environment variable the tool honours is read here and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_DIR = "PRAGMA_CACHE_DIR"
ENV_CXX = "PRAGMA_CXX"
ENV_TRITON_INTERPRET = "TRITON_INTERPRET"
ENV_HARDWARE_SPEC = "PRAGMA_HARDWARE_SPEC"
ENV_LLM_MODEL = "PRAGMA_LLM_MODEL"
ENV_LLM_PROVIDER = "PRAGMA_LLM_PROVIDER"  # openai (any OpenAI-compatible endpoint) | anthropic
ENV_LLM_BASE_URL = "PRAGMA_LLM_BASE_URL"
ENV_LLM_API_KEY_ENV = "PRAGMA_LLM_API_KEY_ENV"  # the name of the variable holding the key
ENV_LLM_CONFIG = "PRAGMA_LLM_CONFIG"  # a TOML file: models, endpoints, prices
ENV_FORKSERVER = "PRAGMA_FORKSERVER"  # 0: every job in a fresh worker process
ENV_ALLOW = "PRAGMA_ALLOW"  # static-policy overrides for every job: "torch-compute,cuda-stream"


def triton_interpreter() -> bool:
    """Triton's own switch: kernels run on the CPU by its interpreter."""
    return os.environ.get(ENV_TRITON_INTERPRET, "") not in ("", "0")


def forkserver_enabled() -> bool:
    """Jobs are forked from a warm worker server (evaluation/forkserver.py) unless
    PRAGMA_FORKSERVER=0; read per job, so a test or a caller can switch it."""
    return os.environ.get(ENV_FORKSERVER, "1").strip().lower() not in ("0", "false", "no", "off")


def static_allow() -> tuple[str, ...]:
    """The user's overrides of the backends' static policies (static_policy.py), for every
    job: PRAGMA_ALLOW, comma-separated `RULE` (warn) or `RULE=off|warn|error`."""
    return tuple(item.strip() for item in os.environ.get(ENV_ALLOW, "").split(",") if item.strip())


def hardware_spec_file() -> Path | None:
    """A user TOML overriding the built-in peak figures (see hardware.py)."""
    explicit = os.environ.get(ENV_HARDWARE_SPEC)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    default = Path(base) / "pragma-kernels" / "hardware.toml"
    return default if default.exists() else None


def cache_dir() -> Path:
    """Where built C++ candidates are cached (content-hashed, safe to delete)."""
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pragma-kernels"


def cxx_compiler() -> str:
    """The C++ compiler used for CPU candidates: PRAGMA_CXX, else CXX, else g++."""
    return os.environ.get(ENV_CXX) or os.environ.get("CXX") or "g++"


def llm_config_file() -> Path | None:
    """The LLM config file (llm/settings.py shows its format), if there is one."""
    explicit = os.environ.get(ENV_LLM_CONFIG)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    default = Path(base) / "pragma-kernels" / "llm.toml"
    return default if default.exists() else None


def variable_set(name: str) -> bool:
    """Whether a variable (e.g. the one holding an API key) is set and not empty: `pragma
    doctor` says so without ever reading the value out."""
    return bool(os.environ.get(name))


def llm_environment() -> dict[str, str | None]:
    """The PRAGMA_LLM_* variables, by the LLM setting each one sets."""
    return {
        "provider": os.environ.get(ENV_LLM_PROVIDER),
        "model": os.environ.get(ENV_LLM_MODEL),
        "base_url": os.environ.get(ENV_LLM_BASE_URL),
        "api_key_env": os.environ.get(ENV_LLM_API_KEY_ENV),
    }
