"""Which candidate rules fail a job, warn, or are off: a StaticPolicy per backend.

The rules are checked by evaluation/static_checks.py (the candidate's AST, before it runs)
and by the worker (`no-kernel`: a forward that launched no kernel). They are named here,
below the backends, so that each backend can declare its defaults and a user can relax a
rule (`--allow RULE`, PRAGMA_ALLOW) without importing the checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

Severity = Literal["error", "warn", "off"]
SEVERITIES: tuple[str, ...] = get_args(Severity)


@dataclass(frozen=True)
class Rule:
    """What a rule forbids and what the candidate should do instead (shown in findings)."""

    summary: str
    remedy: str


_KERNEL = "compute the result in your kernel"
RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "concurrency": Rule(
            "threads, processes or event loops (threading, multiprocessing, "
            "concurrent.futures, asyncio)",
            "finish all work inside forward with the kernel's own parallelism (OpenMP, the "
            "GPU grid)",
        ),
        "process-control": Rule(
            "subprocess, pty, signal, os.system/popen/fork/kill/_exit/exec*; sys.exit in forward",
            "start no processes and never exit or signal the worker",
        ),
        "introspection": Rule(
            "sys.modules, gc, inspect, sys._getframe, importlib, __import__, builtins, "
            "frame and closure attributes, getattr on modules with computed names",
            "use only the names your file imports; do not reach into the interpreter",
        ),
        "monkeypatch": Rule(
            "assigning to, setattr or delattr on an imported module or its classes",
            "change nothing outside your own module",
        ),
        "harness-access": Rule(
            "importing pragma_kernels beyond the C++ loader (pragma_kernels.runtime.cpp)",
            "import only torch, triton, math and the C++ loader",
        ),
        "raw-ffi": Rule(
            "ctypes, cffi, torch.ops.load_library: native code outside the loader",
            "build C++ with pragma_kernels.runtime.cpp.load (CPU) or write a Triton kernel (GPU)",
        ),
        "cpp-extension": Rule(
            "torch.utils.cpp_extension (load_inline: another build path)",
            "build C++ with pragma_kernels.runtime.cpp.load",
        ),
        "torch-compiler": Rule(
            "torch.compile, torch.jit, torch._dynamo, torch._inductor, torch.export",
            f"{_KERNEL}; the compiler is a baseline, not a candidate",
        ),
        "tensor-subclass": Rule(
            "torch.Tensor subclasses, __torch_function__ / __torch_dispatch__, as_subclass",
            "return plain tensors allocated with torch.empty / empty_like",
        ),
        "precision-drop": Rule(
            "TF32 or reduced-precision switches, autocast, casts to float16/bfloat16/fp8 "
            "when the job's dtype is float32 (fp8 always)",
            "keep the job's dtype: accumulate in float32 and cast back only to the input dtype",
        ),
        "tf32-dot": Rule(
            'tl.dot on float32 operands without input_precision="ieee" or "tf32x3": Triton\'s '
            "default is TF32 (a 10-bit mantissa); a warning, since a hand-written 3xTF32 split "
            "is as exact as float32",
            'pass input_precision="ieee", or "tf32x3" (3xTF32: float32 accuracy on tensor cores)',
        ),
        "torch-compute": Rule(
            "torch (or numpy) computing in forward and the functions it calls: torch.* "
            "functions beyond allocation, torch.nn.functional, tensor math methods, "
            "arithmetic on tensors, torch layers",
            f"{_KERNEL}; use torch only for allocation and views (torch.empty, "
            ".contiguous(), .view, .shape)",
        ),
        "reference-model": Rule(
            "inheriting, constructing or calling the reference Model",
            f"{_KERNEL}; ModelNew must not use Model",
        ),
        "cuda-stream": Rule(
            "torch.cuda.Stream, torch.cuda.stream(...): work off the current stream "
            "escapes the timer's events",
            "launch on the current stream",
        ),
        "no-kernel": Rule(
            "a forward that returned without launching a kernel (checked at run time)",
            "launch your kernel in every forward call: lib.fn(...) for C++, "
            "kernel[grid](...) for Triton",
        ),
    }
)


@dataclass(frozen=True)
class StaticPolicy:
    """Severity per rule: `error` fails the job (a verdict), `warn` is recorded in the
    result, `off` is not checked. Rules not named default to `error`."""

    severities: Mapping[str, Severity] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule, severity in self.severities.items():
            _check_rule(rule)
            if severity not in SEVERITIES:
                raise ValueError(
                    f"unknown severity {severity!r} for {rule}. Fix: use {', '.join(SEVERITIES)}"
                )
        object.__setattr__(self, "severities", MappingProxyType(dict(self.severities)))

    def severity(self, rule: str) -> Severity:
        return self.severities.get(rule, "error")

    def relaxed(self, allow: Iterable[str]) -> StaticPolicy:
        """This policy with the user's overrides: `RULE` (warn), `RULE=off|warn|error`, or
        `all` / `all=off` for every rule."""
        severities = {rule: self.severity(rule) for rule in RULES}
        for item in allow:
            rule, _, severity = item.strip().partition("=")
            severity = severity.strip() or "warn"
            if severity not in SEVERITIES:
                raise ValueError(
                    f"--allow {item!r}: unknown severity. Fix: RULE, RULE=warn, RULE=off or "
                    "RULE=error"
                )
            for name in RULES if rule.strip() == "all" else [_check_rule(rule.strip())]:
                severities[name] = severity  # type: ignore[assignment]
        return StaticPolicy(severities)

    def describe(self) -> str:
        return ", ".join(f"{rule}={self.severity(rule)}" for rule in RULES)


def _check_rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"unknown static rule {rule!r}. Fix: use one of {', '.join(RULES)}, all")
    return rule


def parse_allow(text: str) -> tuple[str, ...]:
    """`"torch-compute, precision-drop=off"` -> the items, checked (ValueError names the fix)."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    StaticPolicy().relaxed(items)
    return items
