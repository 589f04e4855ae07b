"""Kernel launches are counted where every launch goes through (runtime/launches.py): the
worker's no_kernel check reads this count around each forward."""

from __future__ import annotations

import pytest

from pragma_kernels import backends
from pragma_kernels.runtime import launches

from . import triton_candidates


def test_a_wrapped_method_counts_its_calls_once_and_only_launches():
    class Launcher:
        def run(self, *args, warmup=False):
            return args

    label, owner, attr = launches.count_calls(Launcher, "run", lambda kw: not kw.get("warmup"))
    launches.count_calls(Launcher, "run")  # a second worker in this process: no second wrap
    assert (owner, attr) == (Launcher, "run") and label.endswith("Launcher.run")
    before = launches.COUNTER.count
    assert Launcher().run(1, 2) == (1, 2)
    Launcher().run(warmup=True)
    assert launches.COUNTER.count == before + 1


def test_cpp_calls_are_counted():
    from pragma_kernels.runtime import cpp

    counter, watched = backends.get("cpp-cpu").count_launches()
    assert watched == [(watched[0][0], cpp.CppFunction, "__call__")]
    lib = cpp.load('extern "C" int one() { return 1; }', flags=["-O0"])
    before = counter.count
    assert lib.one() == 1 and lib.one() == 1
    assert counter.count == before + 2


def test_triton_launches_are_counted_under_the_interpreter(monkeypatch):
    pytest.importorskip("triton")
    import torch

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    counter, watched = backends.get("triton-interpreter").count_launches()
    assert {attr for _, _, attr in watched} == {"run", "set_grid_dim"} and len(watched) == 3
    namespace: dict = {}
    exec(compile(triton_candidates.RELU, "candidate", "exec"), namespace)
    before = counter.count
    x = torch.randn(3, 300)
    assert torch.equal(namespace["ModelNew"]()(x), torch.relu(x))
    assert counter.count == before + 1


def test_the_interpreter_refuses_a_grid_cuda_refuses(monkeypatch):
    """A grid the GPU rejects ("invalid argument") fails under the interpreter too, as a
    launch error, instead of looping over it."""
    pytest.importorskip("triton")
    import torch
    import triton
    import triton.language as tl

    from pragma_kernels.classify import classify_run_error
    from pragma_kernels.verdict import VerdictKind

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    backends.get("triton-interpreter").count_launches()

    @triton.jit
    def noop(p, BLOCK: tl.constexpr):
        pass

    x = torch.empty(4)
    noop[(70_000, 1)](x, BLOCK=4)  # axis 0 may be long...
    with pytest.raises(RuntimeError, match="70000 programs on axis 1") as refused:
        noop[(1, 70_000)](x, BLOCK=4)  # ...axis 1 may not
    assert classify_run_error(refused.value, None).kind == VerdictKind.LAUNCH_ERROR


def test_triton_launches_are_counted_on_the_cuda_path_and_warm_ups_are_not(monkeypatch):
    """`kernel[grid](...)` on a JITFunction goes through JITFunction.run(warmup=False); without
    a GPU the launch then fails for want of a driver, after it was counted."""
    pytest.importorskip("triton")
    import torch
    import triton
    import triton.language as tl

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    counter, _ = backends.get("triton-cuda").count_launches()

    @triton.jit
    def noop(p, BLOCK: tl.constexpr):
        pass

    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.empty(4, device=device)

    def attempt(call) -> None:
        try:
            call()
        except RuntimeError:
            assert device == "cpu"  # no driver: refused after the count

    before = counter.count
    attempt(lambda: noop[(1,)](x, BLOCK=4))
    assert counter.count == before + 1
    attempt(lambda: noop.warmup(x, BLOCK=4, grid=(1,)))
    assert counter.count == before + 1
