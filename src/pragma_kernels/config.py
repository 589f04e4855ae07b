"""Settings read from the environment, in one place.

Every environment variable the tool honours is read here and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_DIR = "PRAGMA_CACHE_DIR"
ENV_CXX = "PRAGMA_CXX"


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
