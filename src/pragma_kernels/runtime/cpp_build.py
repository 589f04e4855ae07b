"""Compile C++ source into a shared library, with a content-hashed cache.

A build is keyed by everything that changes the binary: source, flags, the
compiler's identity and this module's base flags. A cache hit costs a hash and
a stat, so importing a candidate twice (verify, then time) builds once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pragma_kernels import config
from pragma_kernels.errors import BuildError, Diagnostic, PragmaError
from pragma_kernels.runtime.cpp_flags import BASE_FLAGS, check_flags

BUILD_TIMEOUT_S = 120
_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>fatal error|error|warning|note): "
    r"(?P<msg>.*)$",
    re.M,
)


@dataclass(frozen=True)
class Origin:
    """Where the C++ text lives in the user's file: line 1 of the source is `first_line`."""

    file: str
    first_line: int


def find_origin(source: str, file: str | None) -> Origin | None:
    """Locate `source` verbatim inside `file` (a raw string literal in a .py file)."""
    if not file or not os.path.isfile(file):
        return None
    try:
        text = Path(file).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    at = text.find(source)
    if at < 0:
        return None
    return Origin(file=file, first_line=text.count("\n", 0, at) + 1)


def parse_diagnostics(log: str, cpp_path: str, origin: Origin | None) -> list[Diagnostic]:
    """Compiler messages, with lines in the generated .cpp mapped back to the user's file."""
    found = []
    for m in _DIAGNOSTIC.finditer(log):
        file, line = m.group("file"), int(m.group("line"))
        if origin and os.path.basename(file) == os.path.basename(cpp_path):
            file, line = origin.file, origin.first_line + line - 1
        severity = "error" if m.group("sev") == "fatal error" else m.group("sev")
        found.append(Diagnostic(file, line, int(m.group("col")), severity, m.group("msg")))
    return found


@functools.cache
def compiler_identity(compiler: str) -> str:
    """Path and version line of the compiler; part of the cache key."""
    path = shutil.which(compiler)
    if path is None:
        raise PragmaError(
            f"C++ compiler {compiler!r} not found. Fix: install g++ (e.g. "
            f"`apt-get install g++`) or set {config.ENV_CXX} to a compiler"
        )
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    return f"{path}\n{version.stdout.splitlines()[0] if version.stdout else ''}"


def build_key(source: str, flags: tuple[str, ...], compiler: str) -> str:
    blob = "\0".join([source, *flags, *BASE_FLAGS, compiler_identity(compiler)])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def build_shared_library(
    source: str, flags: tuple[str, ...], name: str = "kernel", origin: Origin | None = None
) -> Path:
    """Return the path of the built library, compiling only on a cache miss."""
    flags = check_flags(flags)
    compiler = config.cxx_compiler()
    key = build_key(source, flags, compiler)
    out_dir = config.cache_dir() / "cpp" / key
    library = out_dir / f"{name}.so"
    if library.exists():
        return library
    out_dir.mkdir(parents=True, exist_ok=True)
    cpp_path = out_dir / f"{name}.cpp"
    cpp_path.write_text(source)
    # Build to a temporary name, then rename: concurrent builders never see a half file.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
    os.close(fd)
    command = [compiler, *BASE_FLAGS, *flags, str(cpp_path), "-o", tmp]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.unlink(tmp)
        raise BuildError(
            " ".join(command), f"compiler timed out after {BUILD_TIMEOUT_S} s", []
        ) from None
    if done.returncode != 0:
        os.unlink(tmp)
        log = done.stderr + done.stdout
        raise BuildError(" ".join(command), log, parse_diagnostics(log, str(cpp_path), origin))
    os.replace(tmp, library)
    return library
