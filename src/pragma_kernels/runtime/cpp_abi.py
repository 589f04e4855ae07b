"""Read the `extern "C"` functions of a C++ source and check calls against them.

Pure code: no compiler, no ctypes. The loader (cpp.py) uses it so that a wrong
call from Python (non-contiguous tensor, wrong dtype, a tensor where an int is
expected) raises a clear `CppCallError` instead of segfaulting in C++.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import torch

from pragma_kernels.errors import CppCallError

# C element type of a pointer parameter -> the torch dtypes it accepts.
POINTER_DTYPES: dict[str, tuple[torch.dtype, ...]] = {
    "float": (torch.float32,),
    "double": (torch.float64,),
    "int8_t": (torch.int8,),
    "int16_t": (torch.int16,),
    "int": (torch.int32,),
    "int32_t": (torch.int32,),
    "int64_t": (torch.int64,),
    "long": (torch.int64,),
    "long long": (torch.int64,),
    "uint8_t": (torch.uint8, torch.bool),
    "unsigned char": (torch.uint8, torch.bool),
    "bool": (torch.bool,),
    "uint16_t": (torch.float16, torch.bfloat16),  # raw half-precision bits
    "void": (),  # any dtype
}

INTEGER_SCALARS = {
    "int",
    "int32_t",
    "int64_t",
    "long",
    "long long",
    "size_t",
    "unsigned",
    "unsigned int",
    "uint32_t",
    "uint64_t",
    "int16_t",
    "int8_t",
    "uint8_t",
    "ptrdiff_t",
}
FLOAT_SCALARS = {"float", "double"}
SCALAR_TYPES = INTEGER_SCALARS | FLOAT_SCALARS | {"bool"}

_QUALIFIERS = {"const", "volatile", "__restrict__", "__restrict", "restrict"}


@dataclass(frozen=True)
class CParam:
    name: str
    base: str  # element type for pointers, the type itself for scalars
    pointer: bool
    const: bool

    def describe(self) -> str:
        return (
            f"{'const ' if self.const else ''}{self.base}{'*' if self.pointer else ''} {self.name}"
        )


@dataclass(frozen=True)
class CFunction:
    name: str
    returns: str  # "void" or a scalar type
    params: tuple[CParam, ...]
    line: int  # 1-based line in the source

    def signature(self) -> str:
        return f"{self.returns} {self.name}({', '.join(p.describe() for p in self.params)})"

    @functools.cached_property
    def plan(self) -> tuple[tuple[bool, tuple[torch.dtype, ...], bool, bool], ...]:
        """Per parameter, what the common case needs (check_call's fast path): pointer,
        its dtypes (empty: any), written through (not const), integer scalar."""
        return tuple(
            (
                p.pointer,
                POINTER_DTYPES[p.base] if p.pointer else (),
                p.pointer and not p.const,
                not p.pointer and p.base not in FLOAT_SCALARS,
            )
            for p in self.params
        )


def strip_comments(source: str) -> str:
    """Blank out comments but keep line numbers and string literals intact."""

    def blank(match: re.Match[str]) -> str:
        text = match.group(0)
        return re.sub(r"[^\n]", " ", text) if text.startswith("/") else text

    return re.sub(
        r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', blank, source, flags=re.S
    )


def _normalise_type(text: str) -> str:
    return " ".join(text.split())


def parse_param(text: str, index: int) -> CParam:
    text = _normalise_type(text.replace("*", " * "))
    if "&" in text or "[" in text:
        raise ValueError(
            f"parameter {index + 1} ({text!r}): references and arrays are not "
            "supported; use a pointer"
        )
    pointers = text.count("*")
    if pointers > 1:
        raise ValueError(
            f"parameter {index + 1} ({text!r}): pointers to pointers are not supported"
        )
    const = pointers == 1 and "const" in text.split("*")[0].split()
    words = [w for w in text.replace("*", " ").split() if w not in _QUALIFIERS]
    known = POINTER_DTYPES if pointers else SCALAR_TYPES
    for n in (len(words), len(words) - 1):
        base = " ".join(words[:n])
        if n > 0 and base in known:
            name = words[n] if n < len(words) else f"arg{index}"
            return CParam(name=name, base=base, pointer=bool(pointers), const=const)
    kinds = "pointer element" if pointers else "scalar"
    raise ValueError(
        f"parameter {index + 1} ({text!r}): unsupported {kinds} type; "
        f"use one of: {', '.join(sorted(known))}"
    )


_BLOCK = re.compile(r'extern\s+"C"\s*\{')
_FUNCTION = re.compile(
    r'(?P<prefix>extern\s+"C"\s+)?(?:(?:static|inline|__attribute__\s*\(\(.*?\)\))\s+)*'
    r"(?P<ret>[A-Za-z_][\w\s]*?)\s+(?P<name>[A-Za-z_]\w*)\s*\((?P<params>[^()]*)\)\s*\{",
    re.S,
)


def _matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _top_level_definitions(text: str, start: int, end: int, need_prefix: bool):
    """Yield (match) for function definitions at brace depth 0 of text[start:end]."""
    pos = start
    while pos < end:
        match = _FUNCTION.search(text, pos, end)
        if match is None:
            return
        body_open = match.end() - 1
        if match.group("prefix") or not need_prefix:
            yield match
        pos = _matching_brace(text, body_open) + 1


def parse_exports(source: str) -> list[CFunction]:
    """The functions the source exports with C linkage, in source order.

    Both `extern "C" void f(...) {...}` and `extern "C" { void f(...) {...} }`
    are read. Raises ValueError naming the line for a type we cannot check.
    """
    text = strip_comments(source)
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    for block in _BLOCK.finditer(text):
        spans.append((pos, block.start(), True))
        close = _matching_brace(text, block.end() - 1)
        spans.append((block.end(), close, False))
        pos = close + 1
    spans.append((pos, len(text), True))

    functions: list[CFunction] = []
    for start, end, need_prefix in spans:
        for match in _top_level_definitions(text, start, end, need_prefix):
            line = text.count("\n", 0, match.start("name")) + 1
            returns = " ".join(w for w in match.group("ret").split() if w not in _QUALIFIERS)
            if returns != "void" and returns not in SCALAR_TYPES:
                raise ValueError(
                    f"line {line}: function {match.group('name')} returns "
                    f"{returns!r}; return void (write results into an output tensor) "
                    "or a scalar"
                )
            raw = match.group("params").strip()
            pieces = [] if raw in ("", "void") else raw.split(",")
            try:
                params = tuple(parse_param(p, i) for i, p in enumerate(pieces))
            except ValueError as exc:
                raise ValueError(f"line {line}: function {match.group('name')}: {exc}") from None
            functions.append(CFunction(match.group("name"), returns, params, line))
    return functions


def _describe_value(value: object) -> str:
    if isinstance(value, torch.Tensor):
        layout = "contiguous" if value.is_contiguous() else "non-contiguous"
        return (
            f"a {layout} {str(value.dtype).removeprefix('torch.')} tensor on "
            f"{value.device} of shape {tuple(value.shape)}"
        )
    return f"{type(value).__name__} {value!r}"[:120]


def check_call(function: CFunction, args: tuple[object, ...]) -> list[int | float]:
    """Validate `args` against the C signature; return the raw values to pass. On the hot
    path (every forward), so the error texts are only built for an error."""
    if len(args) != len(function.params):
        raise CppCallError(
            f"{function.signature()}: called with {len(args)} arguments, expects "
            f"{len(function.params)}"
        )
    raw: list[int | float] = []
    # The common cases inline, from the precomputed plan (1.1 -> 0.7 us for three
    # arguments): each Python call or lookup costs ~0.1 us on every forward.
    for (pointer, dtypes, written, integer), value in zip(function.plan, args, strict=True):
        if pointer:
            if (
                type(value) is torch.Tensor
                and value.is_cpu
                and (not dtypes or value.dtype in dtypes)
                and value.is_contiguous()
                and not (written and value.requires_grad)
            ):
                raw.append(value.data_ptr())
                continue
        elif integer and type(value) is int:
            raw.append(value)
            continue
        return _checked(function, args)
    return raw


def _checked(function: CFunction, args: tuple[object, ...]) -> list[int | float]:
    """check_call's general path: every argument checked, the first misfit named."""
    raw: list[int | float] = []
    for position, (param, value) in enumerate(zip(function.params, args, strict=True), 1):
        check = _check_pointer if param.pointer else _check_scalar
        result = check(param, value)
        if isinstance(result, _Refusal):
            where = f"{function.name}(): argument {position} '{param.describe()}'"
            raise CppCallError(f"{where} {result.text}")
        raw.append(result)
    return raw


class _Refusal:
    """Why an argument does not fit, without the call's name (added by check_call)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _check_pointer(param: CParam, value: object) -> int | _Refusal:
    dtypes = POINTER_DTYPES[param.base]
    wanted = "/".join(str(d).removeprefix("torch.") for d in dtypes) or "any-dtype"
    if not isinstance(value, torch.Tensor):
        return _Refusal(f"expects a contiguous {wanted} CPU tensor, got {_describe_value(value)}")
    problem = None
    if value.device.type != "cpu":
        problem = "move it to the CPU"
    elif dtypes and value.dtype not in dtypes:
        problem = f"convert it with .to(torch.{wanted.split('/')[0]}) or change the C type"
    elif not value.is_contiguous():
        problem = "call .contiguous() on it first"
    elif not param.const and value.requires_grad:
        problem = "write into a tensor that does not require grad (use torch.empty)"
    if problem:
        return _Refusal(
            f"expects a contiguous {wanted} CPU tensor, got "
            f"{_describe_value(value)}. Fix: {problem}"
        )
    return value.data_ptr()


def _check_scalar(param: CParam, value: object) -> int | float | _Refusal:
    if isinstance(value, torch.Tensor):
        return _Refusal(
            f"expects a Python {'float' if param.base in FLOAT_SCALARS else 'int'}"
            f", got {_describe_value(value)}. Fix: pass .item() or a size such as "
            "x.numel()"
        )
    if param.base in FLOAT_SCALARS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, int):
        return int(value)
    kind = "float" if param.base in FLOAT_SCALARS else "int"
    return _Refusal(f"expects a Python {kind}, got {_describe_value(value)}")
