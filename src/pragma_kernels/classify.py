"""Turn an exception raised by a candidate into a verdict kind, a message and a location.

Pure code (no CUDA, no Triton import): exceptions are recognised by class name
and text, so the CPU path never imports Triton and a Triton version change in
module layout does not break classification.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.errors import BuildError, CppCallError, FlagError, PragmaError
from pragma_kernels.verdict import VerdictKind

_ILLEGAL_ACCESS = re.compile(
    r"illegal memory access|misaligned address|illegal instruction"
    r"|unspecified launch failure|device-side assert",
    re.I,
)
_LAUNCH = re.compile(
    r"invalid configuration argument|too many resources requested for launch"
    r"|invalid grid|grid dim|CUDA error: invalid argument|\[CUDA\]: invalid argument"
    r"|launch timed out",
    re.I,
)
_OOM = re.compile(r"out of memory|can't allocate memory|cannot allocate memory", re.I)


@dataclass
class Classified:
    kind: VerdictKind
    message: str
    location: str | None = None
    fields: dict = field(default_factory=dict)


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def traceback_location(exc: BaseException, solution: str | None) -> str | None:
    """The innermost frame of the candidate file in the exception's traceback."""
    if solution is None:
        return None
    target = Path(solution).resolve()
    lines = [
        f.lineno
        for f in traceback.extract_tb(exc.__traceback__)
        if Path(f.filename).resolve() == target
    ]
    return f"{solution}:{lines[-1]}" if lines else None


def triton_compile_location(exc: BaseException, solution: str | None) -> str | None:
    """Map a Triton CompilationError (line relative to the kernel's `def`) to the file."""
    src, node = getattr(exc, "src", None), getattr(exc, "node", None)
    if not (solution and src and hasattr(node, "lineno")):
        return None
    def_line = src.split("\n", 1)[0].strip()
    try:
        file_lines = Path(solution).read_text().splitlines()
    except OSError:
        return None
    for number, text in enumerate(file_lines, 1):
        if text.strip() == def_line:
            return f"{solution}:{number + node.lineno - 1}"
    return None


def classify_import_error(exc: BaseException, solution: str | None) -> Classified:
    """An exception while importing the candidate (which builds C++ or defines kernels)."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        location = f"{solution}:{exc.lineno}" if solution else None
        return Classified(VerdictKind.SYNTAX, f"line {exc.lineno}: {exc.msg}", location)
    if isinstance(exc, FlagError):
        return Classified(VerdictKind.BAD_FLAGS, message)
    if isinstance(exc, BuildError):
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        location = f"{errors[0].file}:{errors[0].line}" if errors else None
        return Classified(VerdictKind.BUILD, str(exc), location, {"stderr_tail": exc.log[-4000:]})
    if isinstance(exc, CppCallError):
        return Classified(VerdictKind.BAD_CALL, message, traceback_location(exc, solution))
    if isinstance(exc, PragmaError):
        return Classified(VerdictKind.BUILD, message)
    if isinstance(exc, MemoryError):
        return Classified(VerdictKind.OUT_OF_MEMORY, message)
    return Classified(VerdictKind.IMPORT, message, traceback_location(exc, solution))


def classify_run_error(exc: BaseException, solution: str | None) -> Classified:
    """An exception while constructing or running the candidate (CPU or GPU)."""
    text, names = str(exc), _class_names(exc)
    message = f"{type(exc).__name__}: {text}"
    location = traceback_location(exc, solution)
    if isinstance(exc, CppCallError):
        return Classified(VerdictKind.BAD_CALL, message, location)
    if "OutOfResources" in names:
        fields = {
            "resource": getattr(exc, "name", None),
            "required": getattr(exc, "required", None),
            "limit": getattr(exc, "limit", None),
        }
        return Classified(
            VerdictKind.OUT_OF_RESOURCES,
            message,
            location,
            {"details": {k: v for k, v in fields.items() if v is not None}},
        )
    if "CompilationError" in names or "PTXASError" in names:
        return Classified(
            VerdictKind.TRITON_COMPILE, message, triton_compile_location(exc, solution) or location
        )
    if isinstance(exc, MemoryError) or _OOM.search(text):
        return Classified(VerdictKind.OUT_OF_MEMORY, message, location)
    if _ILLEGAL_ACCESS.search(text):
        return Classified(VerdictKind.ILLEGAL_MEMORY_ACCESS, message, location)
    if _LAUNCH.search(text):
        return Classified(VerdictKind.LAUNCH_ERROR, message, location)
    if isinstance(exc, TypeError) and ("positional argument" in text or "keyword argument" in text):
        return Classified(VerdictKind.SIGNATURE, message, location)
    return Classified(VerdictKind.RUNTIME_ERROR, message, location)
