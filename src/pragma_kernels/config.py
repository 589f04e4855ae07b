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


def triton_interpreter() -> bool:
    """Triton's own switch: kernels run on the CPU by its interpreter."""
    return os.environ.get(ENV_TRITON_INTERPRET, "") not in ("", "0")


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
