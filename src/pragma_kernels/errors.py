"""Errors a caller can act on.

    PragmaError                    base; every message says what went wrong and the fix
    ├── ProblemError               a problem file is malformed (names the file)
    ├── FlagError                  a C++ compiler flag is not on the allow-list
    ├── BuildError                 the C++ compiler rejected a candidate (diagnostics attached)
    └── CppCallError               a compiled function was called with the wrong arguments

Candidate failures during verification are *not* raised to the caller: they
become a `Verdict` (see verify.py). These classes are raised inside the worker
and classified there, or raised to the user for their own bad input.
Constructors never log; all fields pickle.
"""

from __future__ import annotations

from dataclasses import dataclass


class PragmaError(Exception):
    """Base class for the tool's own errors."""


class ProblemError(PragmaError):
    def __init__(self, path: str, problem: str, fix: str):
        self.path, self.problem, self.fix = path, problem, fix
        super().__init__(f"{path}: {problem}. Fix: {fix}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.fix))


class FlagError(PragmaError):
    def __init__(self, flag: str, allowed: tuple[str, ...]):
        self.flag, self.allowed = flag, allowed
        super().__init__(
            f"compiler flag {flag!r} is not allowed. "
            f"Fix: use only these flags: {', '.join(allowed)}"
        )

    def __reduce__(self):
        return (type(self), (self.flag, self.allowed))


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message, mapped back to the file the user wrote when possible."""

    file: str
    line: int
    column: int
    severity: str  # "error" | "warning" | "note"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class BuildError(PragmaError):
    def __init__(self, command: str, log: str, diagnostics: list[Diagnostic]):
        self.command, self.log, self.diagnostics = command, log, diagnostics
        errors = [d for d in diagnostics if d.severity == "error"] or diagnostics
        head = "\n".join(str(d) for d in errors[:5]) or log.strip()[-2000:]
        super().__init__(f"C++ build failed:\n{head}")

    def __reduce__(self):
        return (type(self), (self.command, self.log, self.diagnostics))


class CppCallError(PragmaError, TypeError):
    """Wrong argument to a compiled function: caught before the call, so no segfault."""
