"""Classifying candidate exceptions, GPU ones included (by class name: no Triton needed)."""

from __future__ import annotations

import ast

from pragma_kernels.classify import classify_run_error, triton_compile_location
from pragma_kernels.verdict import VerdictKind, explain


class OutOfResources(Exception):  # same name and fields as triton.runtime.errors'
    def __init__(self, required, limit, name):
        self.required, self.limit, self.name = required, limit, name
        super().__init__(f"out of resource: {name}, Required: {required}, Hardware limit: {limit}")


class CompilationError(Exception):  # same fields as triton.compiler.errors'
    def __init__(self, src, node, error_message):
        self.src, self.node, self.error_message = src, node, error_message
        super().__init__(f"at {node.lineno}:{node.col_offset}: {error_message}")


def test_out_of_resources_carries_the_limit():
    result = classify_run_error(OutOfResources(262144, 232448, "shared memory"), None)
    assert result.kind == VerdictKind.OUT_OF_RESOURCES
    assert result.fields["details"] == {
        "resource": "shared memory",
        "required": 262144,
        "limit": 232448,
    }


def test_cuda_faults_and_launch_errors_by_message():
    illegal = RuntimeError("CUDA error: an illegal memory access was encountered")
    assert classify_run_error(illegal, None).kind == VerdictKind.ILLEGAL_MEMORY_ACCESS
    launch = RuntimeError("Triton Error [CUDA]: invalid configuration argument")
    assert classify_run_error(launch, None).kind == VerdictKind.LAUNCH_ERROR
    oom = RuntimeError("CUDA out of memory. Tried to allocate 80.00 GiB")
    assert classify_run_error(oom, None).kind == VerdictKind.OUT_OF_MEMORY
    assert classify_run_error(ValueError("x"), None).kind == VerdictKind.RUNTIME_ERROR


def test_a_grid_cuda_rejects_is_a_launch_error_not_cuda_on_the_cpu():
    # What the H200 said for 458,752 blocks on grid axis 1 (KernelBench 37 at main sizes).
    rejected = RuntimeError("Triton Error [CUDA]: invalid argument")
    assert classify_run_error(rejected, None).kind == VerdictKind.LAUNCH_ERROR
    cause, _ = explain(VerdictKind.RUNTIME_ERROR, "RuntimeError: CUDA kernel failed")
    assert "CPU target" not in cause
    cause, remedy = explain(VerdictKind.RUNTIME_ERROR, "Torch not compiled with CUDA enabled")
    assert "CPU target" in cause and "CPU" in remedy


def test_triton_compile_error_is_mapped_to_the_candidate_line(tmp_path):
    candidate = tmp_path / "candidate.py"
    candidate.write_text(
        "import triton\n\n\n@triton.jit\ndef kernel(x_ptr, BLOCK: tl.constexpr):\n"
        "    offs = tl.arange(0, BLOCK)\n    bad = tl.nonexistent(offs)\n"
    )
    src = (
        "def kernel(x_ptr, BLOCK: tl.constexpr):\n    offs = tl.arange(0, BLOCK)\n"
        "    bad = tl.nonexistent(offs)\n"
    )
    node = ast.parse("x").body[0]
    node.lineno, node.col_offset = 3, 10
    error = CompilationError(src, node, "module has no attribute 'nonexistent'")
    assert triton_compile_location(error, str(candidate)) == f"{candidate}:7"
    result = classify_run_error(error, str(candidate))
    assert result.kind == VerdictKind.TRITON_COMPILE and result.location == f"{candidate}:7"
