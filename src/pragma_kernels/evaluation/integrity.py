"""Integrity checks the worker runs around the untrusted candidate (threat model:
tests/redteam/README.md).

The candidate is Python running in the worker's own process, so it can rebind anything
the harness looks up by name. Each check here is a small function the worker calls at a
stage boundary; a finding becomes a verdict kind of its own:

- `Harness` (tampering): the timers, synchronisation, comparison and Worker functions are
  captured by identity before the candidate is imported; `patched()` names any that were
  rebound since. The worker also calls the comparison through the captured references,
  not through names the candidate could rebind.
- `output_problem` (output_type): every output is exactly `torch.Tensor`, strided, on the
  reference's device; a subclass (whose `__torch_function__` could run during the
  comparison) is refused before comparing.
- `changed_inputs` (input_mutation): the candidate must leave its copy of the inputs as the
  reference leaves its own.
- `Activity` / `new_activity` (background_work): Python threads and child processes alive
  after a forward that were not before it.

Costs on the honest path: `patched()` is a few hundred identity comparisons (~0.1 ms);
`changed_inputs` one equality pass over the inputs per trial; `Activity.now()` one scan of
/proc (~1-3 ms); the post-timing re-check is one more reference and candidate call on a
fresh seed.
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
import time
from dataclasses import dataclass
from types import ModuleType

import torch

from pragma_kernels import compare, timing, timing_gpu

_MISSING = object()
# Packages whose sys.modules entries must stay the ones imported before the candidate.
_WATCHED_PACKAGES = frozenset({"pragma_kernels", "torch", "triton", "time", "threading", "os"})

# (label, owner, attribute): what the harness calls, looked up again at each check.
_TORCH_NAMES = (
    "manual_seed",
    "allclose",
    "equal",
    "isnan",
    "isfinite",
    "where",
    "abs",
    "no_grad",
    "device",
)
_TENSOR_NAMES = (
    "clone",
    "to",
    "float",
    "double",
    "abs",
    "sum",
    "mean",
    "max",
    "item",
    "isnan",
    "isfinite",
    "reshape",
    "flatten",
    "contiguous",
    "is_floating_point",
    "is_complex",
    "numel",
    "__sub__",
    "__eq__",
    "__ne__",
    "__gt__",
    "__le__",
    "as_subclass",
    "__torch_function__",
)
_BUILTIN_NAMES = (
    "isinstance",
    "issubclass",
    "type",
    "getattr",
    "len",
    "max",
    "min",
    "abs",
    "zip",
    "enumerate",
    "id",
    "set",
    "list",
    "tuple",
)


def _module_functions(module: ModuleType) -> list[tuple[str, object, str]]:
    """Every function and class a module defines or imports (its namespace, by identity)."""
    return [
        (f"{module.__name__}.{name}", module, name)
        for name, value in vars(module).items()
        if not name.startswith("__") and (callable(value) or isinstance(value, ModuleType))
    ]


def _class_functions(cls: type) -> list[tuple[str, object, str]]:
    """A class's own methods, read from its __dict__ (no descriptor can intercept)."""
    return [
        (f"{cls.__qualname__}.{name}", cls, name)
        for name, value in vars(cls).items()
        if callable(value) or isinstance(value, (staticmethod, classmethod))
    ]


def harness_names(*extra_classes: type, extra_modules: tuple = ()) -> list[tuple[str, object, str]]:
    """What the worker relies on after the candidate is imported."""
    names: list[tuple[str, object, str]] = [
        ("time.perf_counter", time, "perf_counter"),
        ("time.monotonic", time, "monotonic"),
        ("time.perf_counter_ns", time, "perf_counter_ns"),
        ("threading.enumerate", threading, "enumerate"),
        ("sys._current_frames", sys, "_current_frames"),
        ("os.getpid", os, "getpid"),
        ("os.listdir", os, "listdir"),
        ("torch.cuda.synchronize", torch.cuda, "synchronize"),
        ("torch.cuda.Event", torch.cuda, "Event"),
        ("torch.cuda.Event.record", torch.cuda.Event, "record"),
        ("torch.cuda.Event.elapsed_time", torch.cuda.Event, "elapsed_time"),
        ("torch.cuda.Event.synchronize", torch.cuda.Event, "synchronize"),
        ("torch.Tensor", torch, "Tensor"),
    ]
    names += [(f"torch.{n}", torch, n) for n in _TORCH_NAMES]
    names += [(f"torch.Tensor.{n}", torch.Tensor, n) for n in _TENSOR_NAMES]
    names += [(f"builtins.{n}", builtins, n) for n in _BUILTIN_NAMES]
    for module in (compare, timing, timing_gpu, sys.modules[__name__], *extra_modules):
        names += _module_functions(module)
    for cls in (Harness, *extra_classes):
        names += _class_functions(cls)
    return names


class Harness:
    """The harness's functions, captured by identity before the candidate runs."""

    def __init__(self, names: list[tuple[str, object, str]]):
        self._entries = [(label, owner, attr, _lookup(owner, attr)) for label, owner, attr in names]
        self._modules = {
            name: module
            for name, module in list(sys.modules.items())
            if name.split(".")[0] in _WATCHED_PACKAGES
        }
        # The worker calls these, never the module attributes a candidate can rebind.
        self.compare_outputs = compare.compare_outputs
        self.perf_counter = time.perf_counter
        self.tensor_type = torch.Tensor

    def patched(self) -> list[str]:
        """Labels of the captured functions, and of the harness's modules in sys.modules (a
        lazy import would pick up a stand-in), that are no longer what they were."""
        functions = [
            label
            for label, owner, attr, value in self._entries
            if _lookup(owner, attr) is not value
        ]
        modules = [
            f"sys.modules[{name!r}]"
            for name, module in self._modules.items()
            if sys.modules.get(name) is not module
        ]
        return functions + modules


def _lookup(owner: object, attr: str) -> object:
    # A class's own entries come from its __dict__: getattr would bind methods anew.
    if isinstance(owner, type) and attr in vars(owner):
        return vars(owner)[attr]
    return getattr(owner, attr, _MISSING)


# -- outputs and inputs ----------------------------------------------------------------
def output_problem(reference, candidate) -> str | None:
    """Why the candidate's output is not plain, materialised tensors like the reference's,
    or None. Structure and dtype are left to compare.py (they have kinds of their own)."""
    if isinstance(candidate, (tuple, list)) and type(candidate) not in (tuple, list):
        return f"a {type(candidate).__qualname__}, a subclass of {type(candidate).__mro__[1]}"
    outs = list(candidate) if type(candidate) in (tuple, list) else [candidate]
    refs = list(reference) if type(reference) in (tuple, list) else [reference]
    for index, out in enumerate(outs):
        where = f"output {index}: " if len(outs) > 1 else ""
        if not isinstance(out, torch.Tensor):
            continue  # not a tensor at all: compare.py reports the structure
        if type(out) is not torch.Tensor:
            return (
                f"{where}a {type(out).__module__}.{type(out).__qualname__}, a subclass of "
                "torch.Tensor (not a plain tensor); subclasses are refused before comparison"
            )
        if out.layout != torch.strided:
            return f"{where}a {out.layout} tensor; expected a dense (strided) tensor"
        ref = refs[index] if index < len(refs) else None
        if isinstance(ref, torch.Tensor) and out.device != ref.device:
            return f"{where}on device {out.device}; the reference's output is on {ref.device}"
    return None


def same_tensor(a, b) -> bool:
    """Equal values, shape and dtype; NaN equals NaN in the same place."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return a is b or a == b
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    if torch.equal(a, b):
        return True
    if not (a.is_floating_point() or a.is_complex()):
        return False
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    return torch.equal(nan_a, nan_b) and torch.equal(a[~nan_a], b[~nan_b])


def changed_inputs(expected: list, got: list) -> list[int]:
    """Positions where the candidate left its inputs otherwise than the reference left its
    own copy (a problem whose reference works in place may be matched in place)."""
    return [i for i, (e, g) in enumerate(zip(expected, got, strict=True)) if not same_tensor(e, g)]


# -- background work --------------------------------------------------------------------
@dataclass(frozen=True)
class Activity:
    """Python threads and child processes of this process at one moment."""

    threads: frozenset[int]
    children: frozenset[int]

    @classmethod
    def now(cls) -> Activity:
        # sys._current_frames also lists threads started with _thread, which
        # threading.enumerate misses.
        threads = {t.ident for t in threading.enumerate() if t.is_alive()}
        threads |= set(sys._current_frames())
        return cls(frozenset(threads), frozenset(child_pids(os.getpid())))


def child_pids(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`, read from /proc."""
    children = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.add(int(entry))
    return children


class ThreadStarts:
    """Within a `with` block, the Python threads started with none of the candidate's code
    on the starting stack. The timing window runs the baselines too, and torch.compile's
    starts threads of its own (on the H200, 3 of 100 KernelBench problems failed
    `background_work` for them): those are not the candidate's. A thread that started
    unseen (through `_thread`) stays the candidate's."""

    def __init__(self, candidate_file: str | None):
        self.candidate_file = os.path.realpath(candidate_file) if candidate_file else None
        self.not_candidates: set[int] = set()

    def started_by_candidate(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            if os.path.realpath(frame.f_code.co_filename) == self.candidate_file:
                return True
            frame = frame.f_back
        return False

    def __enter__(self) -> ThreadStarts:
        start = self._start = threading.Thread.start
        starts = self

        def recorded_start(thread):
            by_candidate = starts.started_by_candidate()
            start(thread)
            if not by_candidate:
                starts.not_candidates.add(thread.ident)

        threading.Thread.start = recorded_start
        return self

    def __exit__(self, *exc) -> None:
        threading.Thread.start = self._start


def new_activity(
    before: Activity, after: Activity, not_candidates: frozenset[int] | set[int] = frozenset()
) -> str | None:
    """What was left running, or None; threads in `not_candidates` were started by others."""
    threads = after.threads - before.threads - not_candidates
    children = after.children - before.children
    parts = []
    if threads:
        parts.append(f"{len(threads)} new Python thread(s) still alive")
    if children:
        parts.append(f"{len(children)} new child process(es) (pids {sorted(children)})")
    return "; ".join(parts) or None


def recheck_seed(seeds: list[int]) -> int:
    """A seed the verification trials did not use."""
    return max(seeds, default=0) + 7919


# -- timing that depends on repeated inputs -----------------------------------------------
CACHE_PROBE_CALLS = 7
CACHE_RATIO = 0.5  # unchanged inputs this much faster than refilled ones: a cache...
CACHE_MIN_GAIN_S = 1e-4  # ...saving this much per call (below it, first-touch noise)


def caches_outputs(unchanged: list[float], refilled: list[float]) -> str | None:
    """Why single-call times (seconds) on unchanged and on refilled inputs show an output
    cache, or None. Honest kernels take the same time on both: the refill leaves the new
    values as hot in cache as the old ones."""
    if not unchanged or not refilled:
        return None
    # The fastest call of each side: waits on a loaded machine only add time and come in
    # phases that can shift a whole side's median (at load 6 on 2 cores a full-loop test's
    # honest kernel was failed `inconsistent_results`); a cache makes every unchanged call fast.
    same, fresh = min(unchanged), min(refilled)
    if fresh <= 0 or same >= CACHE_RATIO * fresh or fresh - same < CACHE_MIN_GAIN_S:
        return None
    return (
        f"forward takes {same * 1e3:.3g} ms on inputs it has just seen and {fresh * 1e3:.3g} ms "
        f"when their values change (fastest of {len(unchanged)} calls each): it reuses "
        "earlier results, so timing on repeated inputs would not measure the kernel"
    )
