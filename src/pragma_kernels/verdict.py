"""What the Verifier says about a candidate: a kind, the evidence, a likely cause and a remedy.

Failures are data. The kinds are the failure taxonomy; `explain` turns a kind
plus the raw error text into plain words the Conductor (and a person) can act on.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field


class VerdictKind(StrEnum):
    OK = "ok"
    NO_CODE = "no_code"  # the model's reply held no usable candidate file
    SYNTAX = "syntax"
    BAD_FLAGS = "bad_flags"
    BUILD = "build"
    IMPORT = "import"
    MISSING_MODEL_NEW = "missing_model_new"
    SIGNATURE = "signature"
    BAD_CALL = "bad_call"
    RUNTIME_ERROR = "runtime_error"
    CRASH = "crash"
    TRITON_COMPILE = "triton_compile"
    OUT_OF_RESOURCES = "out_of_resources"  # shared memory / registers beyond the GPU's limit
    ILLEGAL_MEMORY_ACCESS = "illegal_memory_access"
    LAUNCH_ERROR = "launch_error"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    OUTPUT_TYPE = "output_type"
    SHAPE_MISMATCH = "shape_mismatch"
    DTYPE_MISMATCH = "dtype_mismatch"
    NUMERICAL_MISMATCH = "numerical_mismatch"
    NON_FINITE = "non_finite"
    # Integrity (evaluation/integrity.py): the candidate gamed the harness.
    TAMPERING = "tampering"  # rebound a timer, the comparison or the worker's functions
    INPUT_MUTATION = "input_mutation"  # wrote into its inputs
    BACKGROUND_WORK = "background_work"  # left a thread or process running after forward
    INCONSISTENT_RESULTS = "inconsistent_results"  # correct at first, wrong after timing
    RESULT_CHANNEL = "result_channel"  # no result, two results, or one not from the worker
    FORBIDDEN_CODE = "forbidden_code"  # the source breaks the backend's static policy
    NO_KERNEL = "no_kernel"  # forward returned without launching a kernel
    PROBLEM_ERROR = (
        "problem_error"  # the reference itself failed: the user's file, not the candidate
    )
    WORKER_ERROR = "worker_error"  # our own machinery failed


class Trial(BaseModel):
    """One comparison of candidate and reference on one fresh input set."""

    seed: int
    ok: bool
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    mismatch_fraction: float | None = None
    detail: str = ""


class Verdict(BaseModel):
    ok: bool
    kind: VerdictKind
    message: str = ""
    cause: str = ""
    remedy: str = ""
    location: str | None = None  # file:line in the candidate when known
    stage: str | None = None  # where it failed: import, construct, forward[trial 2], ...
    trials: list[Trial] = Field(default_factory=list)
    atol: float | None = None
    rtol: float | None = None
    # The dtype compared (compare.compared_dtype): the reference output's, or with a cast
    # (dtype_cast) the one asked for; "" when the worker stopped before knowing it.
    dtype: str = ""
    dtype_cast: bool = False  # --dtype cast the floating inputs and weights to it
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    mismatch_fraction: float | None = None
    stderr_tail: str = ""
    details: dict = Field(default_factory=dict)  # kind-specific facts, e.g. a resource limit
    # Static findings the policy only warns about (evaluation/static_checks.py), one line each:
    # here so that every caller of the Verifier sees them, not only JobResult's readers.
    warnings: list[str] = Field(default_factory=list)
    seconds: float | None = None  # wall time of the worker that judged it

    def dtype_text(self) -> str:
        return dtype_text(self.dtype, self.dtype_cast)

    def summary(self) -> str:
        if self.ok and self.trials:
            err = f"{self.max_abs_err:.3g}" if self.max_abs_err is not None else "n/a"
            return (
                f"ok: {len(self.trials)} input sets match (max abs err {err}, "
                f"atol={self.atol:g}, rtol={self.rtol:g})"
            )
        if self.ok:
            return "ok"
        where = f" at {self.location}" if self.location else ""
        return f"{self.kind.value}{where}: {self.message}".strip()


def dtype_text(dtype: str, cast: bool) -> str:
    """The dtype as reports and prompts name it: "float16 (the problem's own)" or
    "float32 (cast by --dtype)"."""
    if cast:
        return f"{dtype} (cast by --dtype)"
    return f"{dtype} (the problem's own)" if dtype else "the problem's own"


# Default cause and remedy per kind; `explain` refines them from the error text.
_DEFAULTS: dict[VerdictKind, tuple[str, str]] = {
    VerdictKind.SYNTAX: (
        "The Python file does not parse.",
        "Fix the Python syntax at the line shown; return only the code.",
    ),
    VerdictKind.BAD_FLAGS: (
        "A compiler flag outside the allow-list was requested.",
        "Use only the allowed flags, e.g. -O3 -march=native -fopenmp.",
    ),
    VerdictKind.BUILD: (
        "The C++ compiler rejected the source.",
        "Fix the first compiler error shown; include the standard headers you use.",
    ),
    VerdictKind.IMPORT: (
        "Importing the candidate raised an exception outside the C++ build.",
        "Import only torch, math and the provided loader; run top-level code only "
        "to build the kernel.",
    ),
    VerdictKind.NO_CODE: (
        "The reply contained no Python code block defining `ModelNew`.",
        "Answer with one complete Python file in a ```python fenced block that defines "
        "`class ModelNew(nn.Module)`.",
    ),
    VerdictKind.MISSING_MODEL_NEW: (
        "The file defines no `ModelNew` nn.Module class.",
        "Define `class ModelNew(nn.Module)` with Model's constructor and forward signatures.",
    ),
    VerdictKind.SIGNATURE: (
        "ModelNew's constructor or forward does not accept the arguments Model accepts.",
        "Copy Model's __init__ and forward parameter lists exactly.",
    ),
    VerdictKind.BAD_CALL: (
        "A compiled function was called with arguments that do not fit its C "
        "signature (caught before the call).",
        "Pass contiguous CPU tensors of the declared dtype for pointers and "
        "Python ints/floats for scalars, in the declared order.",
    ),
    VerdictKind.RUNTIME_ERROR: (
        "The candidate raised an exception while running.",
        "Read the error and the line it names; check shapes and dtypes.",
    ),
    VerdictKind.CRASH: (
        "The worker process died on a signal: usually an out-of-bounds read or "
        "write in the C++ code.",
        "Check loop bounds and index arithmetic against the tensor sizes; make "
        "sure every output element is written exactly once.",
    ),
    VerdictKind.TRITON_COMPILE: (
        "Triton could not compile a kernel: an unsupported construct or a type/shape error in "
        "the @triton.jit code.",
        "Fix the kernel line shown; block sizes given to tl.arange must be tl.constexpr powers "
        "of two, and only tl.* operations work inside a kernel.",
    ),
    VerdictKind.OUT_OF_RESOURCES: (
        "A kernel needs more shared memory or registers than the GPU provides (see the limit).",
        "Reduce BLOCK sizes or num_stages (shared memory), or num_warps/BLOCK (registers); "
        "prune the autotune configs that exceed the limit.",
    ),
    VerdictKind.ILLEGAL_MEMORY_ACCESS: (
        "A kernel read or wrote outside a tensor (the CUDA context was lost; the worker was "
        "discarded).",
        "Mask every tl.load/tl.store with the bounds (offs < n); use int64 offsets when "
        "index products can pass 2**31; check strides and the grid size.",
    ),
    VerdictKind.LAUNCH_ERROR: (
        "A kernel launch was rejected: the grid or block configuration is invalid for this GPU.",
        "Keep grid dimensions within limits (y and z < 65536), num_warps a power of two <= 32, "
        "and pass every kernel argument.",
    ),
    VerdictKind.TIMEOUT: (
        "The candidate did not finish within the time limit: an endless loop, "
        "a deadlock, or an algorithm far slower than the reference.",
        "Check loop termination and nested-loop trip counts; avoid O(n^2) work "
        "where the reference is O(n).",
    ),
    VerdictKind.OUT_OF_MEMORY: (
        "The candidate exceeded the memory limit.",
        "Avoid materialising large intermediates; write into one preallocated output.",
    ),
    VerdictKind.OUTPUT_TYPE: (
        "forward returned a different kind of value than the reference.",
        "Return the same structure (a tensor, or a tuple of tensors) as Model.forward.",
    ),
    VerdictKind.SHAPE_MISMATCH: (
        "The output shape differs from the reference.",
        "Check reduced dims, keepdim, and how the output is allocated.",
    ),
    VerdictKind.DTYPE_MISMATCH: (
        "The output dtype differs from the reference.",
        "Allocate the output with the reference's dtype (e.g. int64 for argmax).",
    ),
    VerdictKind.NUMERICAL_MISMATCH: (
        "The values differ from the reference beyond the tolerance.",
        "Check the formula, the reduction axis, the indexing "
        "(strides), and that every element is written.",
    ),
    VerdictKind.NON_FINITE: (
        "The output has NaN or Inf where the reference is finite.",
        "Guard divisions and exp (subtract the max before exp); initialise accumulators.",
    ),
    VerdictKind.TAMPERING: (
        "The candidate replaced a function the harness relies on (a timer, synchronisation, "
        "the output comparison or the worker itself); its results cannot be trusted.",
        "Do not patch or rebind anything outside your module: no monkeypatching of time, "
        "torch or pragma_kernels; compute the result in forward.",
    ),
    VerdictKind.INPUT_MUTATION: (
        "forward changed its input tensors, which the reference leaves as they are.",
        "Treat inputs as read-only: allocate the output (torch.empty_like) and write there; "
        "use scratch buffers of your own for intermediates.",
    ),
    VerdictKind.BACKGROUND_WORK: (
        "forward returned while a thread or child process it started was still running: the "
        "work would escape the timer.",
        "Finish all work before forward returns: join threads, wait for processes, or "
        "(better) use the kernel's own parallelism (OpenMP, the GPU grid).",
    ),
    VerdictKind.INCONSISTENT_RESULTS: (
        "The candidate matched the reference when verified but not when called again after "
        "timing: its results depend on how often or when it is called.",
        "Make forward a pure function of its inputs and weights: no call counters, no caches "
        "keyed by shape or address, no state that changes between calls.",
    ),
    VerdictKind.RESULT_CHANNEL: (
        "The worker's result did not arrive as the worker sends it: none (the process was "
        "ended from inside, e.g. os._exit or sys.exit), more than one, or one without this "
        "job's key. Candidate code ran in that process, so it is held responsible.",
        "Do not exit the process, write to file descriptors you did not open, or report "
        "results yourself: return the output from forward.",
    ),
    VerdictKind.FORBIDDEN_CODE: (
        "The candidate's source uses something the backend's static policy forbids: a way to "
        "game the harness (threads, patching, introspection), to bypass the kernel (torch "
        "compute in forward, the reference Model, torch.compile) or to lower the precision. "
        "It was refused before it ran.",
        "Remove what the message lists, at its line: compute the result in your kernel and "
        "use torch in forward only to allocate outputs and take views.",
    ),
    VerdictKind.NO_KERNEL: (
        "forward returned without launching a kernel: the result came from somewhere else "
        "(torch, a cache, a constant, another library).",
        "Launch your kernel in every forward call (lib.fn(...) for C++, kernel[grid](...) "
        "for Triton) and return what it wrote; cache nothing between calls.",
    ),
    VerdictKind.PROBLEM_ERROR: (
        "The reference problem itself failed, so the candidate could not be judged.",
        "Fix the problem file; run it on its own.",
    ),
    VerdictKind.WORKER_ERROR: (
        "The verifier's worker failed for a reason unrelated to the candidate.",
        "Re-run; if it repeats, report it with the stderr.",
    ),
}

# Refinements: (kind, pattern in the error text) -> (cause, remedy).
_REFINEMENTS: tuple[tuple[VerdictKind, str, str, str], ...] = (
    (
        VerdictKind.OUTPUT_TYPE,
        r"subclass|strided|on device",
        "forward returned a tensor subclass, a non-dense tensor, or a tensor on another "
        "device; only plain, materialised tensors are compared.",
        "Return plain torch.Tensor outputs (torch.empty_like on the inputs' device), not a "
        "subclass, view wrapper or lazy object.",
    ),
    (
        VerdictKind.BUILD,
        r"was not declared in this scope|has not been declared",
        "A name is used before it is declared, or a standard header is missing.",
        "Include the header that declares it (<cmath>, <cstdint>, <algorithm>, <immintrin.h>) or "
        "declare the helper before use.",
    ),
    (
        VerdictKind.BUILD,
        r"no such file or directory",
        "An #include names a header that is not available (torch headers are not used here).",
        "Use only standard C++ headers and <immintrin.h>/<omp.h>.",
    ),
    (
        VerdictKind.BUILD,
        r"cannot convert|invalid conversion",
        "A value has the wrong type for where it is used.",
        "Check pointer constness and types (const float* for inputs, float* for outputs).",
    ),
    (
        VerdictKind.RUNTIME_ERROR,
        # What torch says when CUDA is asked for where there is none (not any message that
        # names CUDA: a GPU's own launch errors do too).
        r"not compiled with CUDA|no NVIDIA driver|no CUDA GPUs|CUDA driver initiali[sz]ation"
        r"|cuda\S* is not available|Cannot access accelerator device",
        "The candidate tried to use CUDA on the CPU target.",
        "Keep every tensor on the CPU.",
    ),
    (
        VerdictKind.RUNTIME_ERROR,
        r"index .* out of (range|bounds)",
        "An index is outside a tensor's bounds.",
        "Check index arithmetic against the shapes.",
    ),
    (
        VerdictKind.RUNTIME_ERROR,
        r"(size|shape).*(mismatch|must match|invalid)",
        "Tensor shapes do not fit the operation.",
        "Print or assert the shapes you compute with.",
    ),
    (
        VerdictKind.NUMERICAL_MISMATCH,
        r"mismatch_fraction=1\)",
        "Every element differs: likely the wrong formula, the wrong axis, or an output never "
        "written.",
        "Compare the formula with Model.forward term by term; check the reduction dim.",
    ),
)


def explain(kind: VerdictKind, text: str = "") -> tuple[str, str]:
    """Likely cause and remedy for a failure of `kind` whose error text is `text`."""
    for refined_kind, pattern, cause, remedy in _REFINEMENTS:
        if refined_kind == kind and re.search(pattern, text, re.I):
            return cause, remedy
    return _DEFAULTS.get(kind, ("", ""))


def failure(kind: VerdictKind, message: str, **fields) -> Verdict:
    cause, remedy = explain(kind, message)
    return Verdict(ok=False, kind=kind, message=message, cause=cause, remedy=remedy, **fields)
