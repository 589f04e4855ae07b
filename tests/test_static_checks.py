"""The static checks (evaluation/static_checks.py) on small sources, in-process: every rule
caught and not caught, the policy's severities and overrides, and the backends' default
policies passing every shipped solution and every offline template output."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pragma_kernels import backends, config
from pragma_kernels.evaluation.static_checks import check_source, describe
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.static_policy import RULES, StaticPolicy, parse_allow

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl
from pragma_kernels.runtime import cpp

lib = cpp.load("")
"""


def candidate(forward: str = "return x", top: str = "", init: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(forward).strip(), " " * 8)
    setup = textwrap.indent(textwrap.dedent(init).strip(), " " * 8) if init else ""
    return (
        HEADER
        + textwrap.dedent(top)
        + "\n\nclass ModelNew(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        + (setup + "\n" if setup else "")
        + "\n    def forward(self, x):\n"
        + body
        + "\n"
    )


def rules(source: str, dtype: str = "float32") -> set[str]:
    return {f.rule for f in check_source(source, StaticPolicy(), dtype)}


# rule -> sources that break it (each must be found, with its rule among the findings).
CAUGHT: dict[str, list[str]] = {
    "concurrency": [
        candidate(top="import threading"),
        candidate(top="from concurrent.futures import ThreadPoolExecutor"),
        candidate(top="import multiprocessing as mp"),
        candidate("asyncio.run(None)\nreturn x", top="import asyncio"),
    ],
    "process-control": [
        candidate(top="import subprocess"),
        candidate("os.system('true')\nreturn x", top="import os"),
        candidate("os.fork()\nreturn x", top="import os"),
        candidate("os.kill(os.getpid(), 9)\nreturn x", top="import os"),
        candidate(top="import pty"),
        candidate("sys.exit(0)", top="import sys"),
        candidate("raise SystemExit(0)"),
    ],
    "introspection": [
        candidate("sys.modules['time'].perf_counter\nreturn x", top="import sys"),
        candidate(top="import gc"),
        candidate(top="import inspect"),
        candidate("f = sys._getframe(1)\nreturn x", top="import sys"),
        candidate(top="import importlib"),
        candidate(top="import builtins"),
        candidate("__builtins__['len'] = None\nreturn x"),
        candidate("return eval('x')"),
        candidate("g = forward.__globals__\nreturn x"),
        candidate("name = 're' + 'lu'\nreturn getattr(torch, name)(x)"),
    ],
    "monkeypatch": [
        candidate(top="torch.allclose = lambda *a, **k: True"),
        candidate("time.perf_counter = lambda: 0.0\nreturn x", top="import time"),
        candidate(top="setattr(torch, 'equal', None)"),
        candidate(top="torch.Tensor.__eq__ = None"),
        candidate(top="import os\nos.environ['OMP_NUM_THREADS'] = '64'"),
        candidate(top="del torch.cuda.synchronize"),
    ],
    "harness-access": [
        candidate(top="import pragma_kernels.compare"),
        candidate(top="from pragma_kernels.evaluation import worker"),
        candidate(top="from pragma_kernels.runtime import cpp_build"),
    ],
    "raw-ffi": [
        candidate(top="import ctypes"),
        candidate(top="from cffi import FFI"),
        candidate(top="torch.ops.load_library('x.so')"),
    ],
    "cpp-extension": [
        candidate(top="from torch.utils.cpp_extension import load_inline"),
        candidate(top="import torch.utils.cpp_extension as ext"),
    ],
    "torch-compiler": [
        candidate("return torch.compile(lambda v: v)(x)"),
        candidate(top="@torch.jit.script\ndef f(v):\n    return v\n"),
        candidate(top="import torch._dynamo"),
        candidate(top="from torch._inductor import config"),
    ],
    "tensor-subclass": [
        candidate(top="class Lazy(torch.Tensor):\n    pass\n"),
        candidate(
            top="class Mode:\n    def __torch_dispatch__(self, func, types, args, kwargs):\n"
            "        pass\n"
        ),
        candidate("return x.as_subclass(torch.Tensor)"),
        candidate(top="from torch.utils._python_dispatch import TorchDispatchMode"),
    ],
    "precision-drop": [
        candidate(top="torch.backends.cuda.matmul.allow_tf32 = True"),
        candidate(top="torch.backends.cudnn.allow_tf32 = True"),
        candidate(top="torch.set_float32_matmul_precision('high')"),
        candidate("out = torch.empty_like(x)\nlib.f(x.half(), out)\nreturn out"),
        candidate("out = torch.empty_like(x)\nlib.f(x.bfloat16(), out)\nreturn out"),
        candidate("y = x.to(torch.float16)\nlib.f(y)\nreturn y"),
        candidate("y = torch.empty(4, dtype=torch.bfloat16)\nlib.f(y)\nreturn y"),
        candidate("with torch.autocast('cuda'):\n    lib.f(x)\nreturn x"),
        candidate(
            top="@triton.jit\ndef k(p):\n    v = tl.load(p)\n    tl.store(p, v.to(tl.float16))\n"
        ),
        candidate(
            top="@triton.jit\ndef k(p):\n    tl.store(p, tl.cast(tl.load(p), tl.bfloat16))\n"
        ),
    ],
    "torch-compute": [
        candidate("return torch.relu(x)"),
        candidate("return F.gelu(x)"),
        candidate("return x.sum(dim=1)"),
        candidate("return x.clamp_(min=0)"),
        candidate("return x @ x.t()"),
        candidate("return x * (x > 0)"),
        candidate("out = torch.empty_like(x)\nout += x\nreturn out"),
        candidate("return -x"),
        candidate("return torch.matmul(x, x)"),
        candidate("return torch.ops.aten.relu(x)"),
        candidate("return self.act(x)", init="self.act = nn.ReLU()"),
        candidate("layer = self.conv\nreturn layer(x)", init="self.conv = nn.Conv1d(1, 1, 1)"),
        candidate("return x + self.w", init="self.w = nn.Parameter(torch.zeros(4))"),
        candidate("return self.conv.weight.sum() + x", init="self.conv = nn.Linear(2, 2)"),
        candidate("return np.exp(x.numpy())", top="import numpy as np"),
        candidate("return _helper(x)", top="def _helper(v):\n    return v.exp()\n"),
        candidate("return self._inner(x)", top=""),  # method defined below
        candidate("return getattr(torch, 'tanh')(x)"),
        candidate("return sum(x)"),
        candidate(
            "return x",
            init="self.register_forward_hook(lambda module, args, out: torch.relu(out))",
        ),
        candidate("try:\n    lib.f(x)\nexcept Exception:\n    return torch.relu(x)\nreturn x"),
    ],
    "reference-model": [
        candidate(top="from problem import Model").replace("(nn.Module)", "(Model)"),
        candidate("return Model()(x)"),
        candidate("return Model.forward(self, x)"),
    ],
    "cuda-stream": [
        candidate("with torch.cuda.stream(torch.cuda.Stream()):\n    lib.f(x)\nreturn x"),
    ],
    "tf32-dot": ["import triton.language as tl\ndef k(a, b):\n    return tl.dot(a, b)\n"],
}
CAUGHT["torch-compute"][16] += "\n    def _inner(self, v):\n        return v.softmax(-1)\n"

CASES = [(rule, i) for rule, sources in CAUGHT.items() for i in range(len(sources))]


@pytest.mark.parametrize(("rule", "index"), CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_each_rule_finds_what_it_forbids(rule, index):
    found = check_source(CAUGHT[rule][index], StaticPolicy())
    assert rule in {f.rule for f in found}, [f.render() for f in found]
    finding = next(f for f in found if f.rule == rule)
    assert finding.line > 0 and finding.snippet and finding.remedy == RULES[rule].remedy


def test_every_static_rule_has_a_case():
    assert set(CAUGHT) == set(RULES) - {"no-kernel"}  # no-kernel is checked at run time


# Glue an honest candidate writes: none of it is a finding.
CLEAN = {
    "launch": "x = x.contiguous()\nout = torch.empty_like(x)\nlib.relu(x, out, x.numel())\n"
    "return out",
    "shapes": "n, m = x.shape\nout = x.new_empty(n * 2, m)\nlib.f(x, out, n * m // 2)\n"
    "return out.view(-1)[: x.numel()].reshape(x.shape)",
    "views": "y = x.t().contiguous().movedim(0, -1).unsqueeze(0).squeeze(0)\n"
    "out = torch.zeros(y.shape, dtype=y.dtype, device=y.device)\nlib.f(y, out)\n"
    "return out.to(x.dtype).zero_()",
    "scalars": "scale = math.exp(2.0) * x.shape[0] / x.size(1)\nif x.numel() == 0 or x.dim() != 2:"
    "\n    return x\nlib.f(x, scale, -scale, max(1, x.numel() // 4))\nreturn x",
    "grid": "n = x.numel()\ngrid = lambda meta: (triton.cdiv(n, meta['BLOCK']),)\n"
    "out = torch.empty_like(x)\nkernel[grid](x, out, n)\nreturn out",
    "containers": "dims = [3, 1]\ndims.sort()\nseen = set()\nseen.add(1)\nname = 'a.b'.split('.')\n"
    "lib.f(x)\nreturn x",
    "weights": "w = self.lin.weight.detach().contiguous()\nb = self.lin.bias\nlib.f(x, w, b)\n"
    "return x",
    "casts up": "y = x.float()\nlib.f(y)\nreturn y.to(x.dtype)",
    "checks": "if x.dtype == torch.float32 and x.device.type == 'cuda' and x is not None:\n"
    "    lib.f(x)\nreturn x",
}


@pytest.mark.parametrize("name", list(CLEAN))
def test_glue_is_not_a_finding(name):
    kernel = "\n@triton.jit\ndef kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr = 256):\n    pass\n"
    init = "self.lin = nn.Linear(4, 4)"
    source = candidate(CLEAN[name], top=kernel, init=init)
    assert check_source(source, StaticPolicy()) == []


def test_kernels_and_init_are_not_forward():
    source = candidate(
        top="@triton.jit\ndef k(p, n):\n    v = tl.load(p)\n    tl.store(p, tl.exp(v) * 2 + v)\n",
        init="self.w = nn.Parameter(torch.randn(4, 4) * 0.1)",
    )
    assert check_source(source, StaticPolicy()) == []


def test_half_casts_are_allowed_on_a_half_job_and_fp8_never():
    half = candidate("y = x.to(torch.float16)\nlib.f(y)\nreturn y")
    assert "precision-drop" in rules(half, "float32")
    assert rules(half, "float16") == set() and rules(half, "bfloat16") == set()
    fp8 = candidate("y = x.to(torch.float8_e4m3fn)\nlib.f(y)\nreturn y")
    assert "precision-drop" in rules(fp8, "float16")
    restored = candidate(top="torch.backends.cuda.matmul.allow_tf32 = False")
    assert rules(restored) == set()


def test_a_file_that_does_not_parse_has_no_findings():
    assert check_source("def broken(:\n", StaticPolicy()) == []


def test_severities_come_from_the_policy():
    source = candidate("return torch.relu(x)", top="import threading")
    policy = StaticPolicy({"torch-compute": "warn", "concurrency": "off"})
    found = check_source(source, policy)
    assert [(f.rule, f.severity) for f in found] == [("torch-compute", "warn")]
    assert "calls torch.relu in forward" in found[0].render()
    assert "torch-compute" in describe(found) and "Fix:" in describe(found)


def test_overrides_relax_a_policy_and_unknown_rules_are_refused():
    base = StaticPolicy({"cuda-stream": "off"})
    relaxed = base.relaxed(["torch-compute", "precision-drop=off", "cuda-stream=error"])
    assert relaxed.severity("torch-compute") == "warn"
    assert relaxed.severity("precision-drop") == "off"
    assert relaxed.severity("cuda-stream") == "error"
    assert relaxed.severity("concurrency") == "error" and base.severity("torch-compute") == "error"
    assert {base.relaxed(["all=off"]).severity(r) for r in RULES} == {"off"}
    with pytest.raises(ValueError, match="unknown static rule 'torch'"):
        base.relaxed(["torch"])
    with pytest.raises(ValueError, match="severity"):
        parse_allow("torch-compute=maybe")
    assert parse_allow(" torch-compute, no-kernel=off ,") == ("torch-compute", "no-kernel=off")


def test_the_allow_switch_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(config.ENV_ALLOW, "torch-compute, precision-drop=off")
    assert config.static_allow() == ("torch-compute", "precision-drop=off")
    monkeypatch.delenv(config.ENV_ALLOW)
    assert config.static_allow() == ()


def test_backend_defaults():
    cpu, gpu = backends.get("cpp-cpu"), backends.get("triton-cuda")
    assert cpu.static_policy.severity("cuda-stream") == "off"
    assert gpu.static_policy.severity("cuda-stream") == "error"
    assert backends.get("triton-interpreter").static_policy == gpu.static_policy
    assert gpu.static_policy.severity("tf32-dot") == "warn"
    for rule in set(RULES) - {"cuda-stream", "tf32-dot"}:
        assert cpu.static_policy.severity(rule) == gpu.static_policy.severity(rule) == "error"


# -- what ships must pass its backend's defaults -------------------------------------------
SOLUTIONS = sorted((ROOT / "examples" / "solutions").glob("*/*.py"))
BACKEND_OF = {"cpu": "cpp-cpu", "gpu": "triton-cuda"}


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_example_solution_passes_its_backend_policy(solution):
    policy = backends.get(BACKEND_OF[solution.parent.name]).static_policy
    found = check_source(solution.read_text(), policy)
    assert not [f for f in found if f.severity == "error"], [f.render() for f in found]


def test_every_offline_template_output_passes_its_backend_policy():
    checked = 0
    for problem in sorted((ROOT / "examples" / "problems").glob("*.py")):
        recognised = recognise(problem, "tiny")
        if recognised.family == "unsupported":
            continue
        for name in ("cpp-cpu", "triton-cuda"):
            backend = backends.get(name)
            for variant in backend.offline_variants(recognised):
                source = backend.offline_source(recognised, variant)
                found = check_source(source, backend.static_policy)
                errors = [f.render() for f in found if f.severity == "error"]
                assert not errors, (problem.stem, name, variant.name, errors)
                checked += 1
    assert checked > 100


def test_tl_dot_on_float32_must_ask_for_ieee_or_tf32x3():
    from pragma_kernels.evaluation.static_checks import check_source

    policy = backends.get("triton-cuda").static_policy
    source = "import triton.language as tl\n@triton.jit\ndef k(a, b):\n    c = tl.dot(a, b{})\n"
    rules = lambda extra, dtype="float32": [  # noqa: E731
        f.rule for f in check_source(source.format(extra), policy, dtype)
    ]
    assert "tf32-dot" in rules("")
    assert "tf32-dot" in rules(', input_precision="tf32"')
    assert "tf32-dot" not in rules(', input_precision="ieee"')
    assert "tf32-dot" not in rules(', input_precision="tf32x3"')  # 3xTF32: float32-accurate
    assert "tf32-dot" in rules(", input_precision=PRECISION")  # unknown until run time
    assert "tf32-dot" not in rules(", allow_tf32=False")
    assert "tf32-dot" not in rules("", dtype="float16")
