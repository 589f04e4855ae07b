"""Static checks: the candidate's source, read as an AST before any of it runs.

A candidate that imports `threading`, patches `time.perf_counter` or returns
`torch.relu(x)` can be refused from its text, with the line, before it gets a chance to
game the run-time checks (integrity.py). Pure: the caller passes the source, the
backend's policy (static_policy.py) and the job's dtype; each finding carries its rule,
line, snippet and the policy's severity (`error` fails the job with `forbidden_code`,
`warn` travels in the result). The rules, by id (the ids `--allow` takes):

  rule              flags
  concurrency       threading, _thread, multiprocessing, concurrent.futures, asyncio
  process-control   subprocess, pty, signal, os.system/popen/fork/kill/_exit/exec*/spawn*;
                    sys.exit, exit(), raise SystemExit in forward
  introspection     sys.modules, sys._getframe, gc, inspect, importlib, builtins,
                    __builtins__, __import__, eval/exec/compile, frame and closure
                    attributes (f_back, __globals__, ...), getattr(module, <computed>)
  monkeypatch       assigning to, setattr or delattr on anything imported
                    (torch.allclose = ..., time.perf_counter = ..., os.environ[...] = ...),
                    global module hooks
  harness-access    importing pragma_kernels beyond pragma_kernels.runtime.cpp
  raw-ffi           ctypes, cffi, torch.ops.load_library
  cpp-extension     torch.utils.cpp_extension (load_inline)
  torch-compiler    torch.compile, torch.jit, torch._dynamo, torch._inductor, torch.export
  tensor-subclass   subclasses of torch.Tensor, __torch_function__ / __torch_dispatch__,
                    as_subclass, torch.overrides
  precision-drop    on a float32 job: TF32 / reduced-precision switches,
                    set_float32_matmul_precision, autocast, .half(), .bfloat16(),
                    .to(float16/bfloat16), dtype= or tl.cast to a 16-bit float
                    (tl.float16 too); fp8 on any job
  torch-compute     torch or numpy computing in forward (static_compute.py says what is glue)
  reference-model   inheriting, constructing or calling Model
  cuda-stream       torch.cuda.Stream, torch.cuda.stream(...), set_stream
  no-kernel         (run time, the worker) a forward that launched no kernel
"""

from __future__ import annotations

import ast

from pydantic import BaseModel

from pragma_kernels.evaluation.static_ast import Hit, Imports, dotted, last_name, root_name, snippet
from pragma_kernels.evaluation.static_compute import compute_hits
from pragma_kernels.static_policy import RULES, Severity, StaticPolicy

_ROOTS = {
    "threading": "concurrency",
    "_thread": "concurrency",
    "multiprocessing": "concurrency",
    "concurrent": "concurrency",
    "asyncio": "concurrency",
    "subprocess": "process-control",
    "pty": "process-control",
    "signal": "process-control",
    "gc": "introspection",
    "inspect": "introspection",
    "importlib": "introspection",
    "builtins": "introspection",
    "ctypes": "raw-ffi",
    "_ctypes": "raw-ffi",
    "cffi": "raw-ffi",
}
_PREFIXES = (
    ("torch.multiprocessing", "concurrency"),
    ("torch.utils.cpp_extension", "cpp-extension"),
    ("torch.ops.load_library", "raw-ffi"),
    ("torch.classes.load_library", "raw-ffi"),
    ("torch.compile", "torch-compiler"),
    ("torch.jit", "torch-compiler"),
    ("torch._dynamo", "torch-compiler"),
    ("torch._inductor", "torch-compiler"),
    ("torch.export", "torch-compiler"),
    ("torch.compiler", "torch-compiler"),
    ("torch.overrides", "tensor-subclass"),
    ("torch.utils._python_dispatch", "tensor-subclass"),
    ("torch.Tensor._make_subclass", "tensor-subclass"),
    ("torch.Tensor._make_wrapper_subclass", "tensor-subclass"),
    ("torch.cuda.Stream", "cuda-stream"),
    ("torch.cuda.ExternalStream", "cuda-stream"),
    ("torch.cuda.stream", "cuda-stream"),
    ("torch.cuda.set_stream", "cuda-stream"),
    ("torch.Stream", "cuda-stream"),
    ("torch.nn.modules.module.register_module_", "monkeypatch"),
    ("sys.modules", "introspection"),
    ("sys._getframe", "introspection"),
    ("sys._current_frames", "introspection"),
    ("sys.settrace", "introspection"),
    ("sys.setprofile", "introspection"),
    ("sys.meta_path", "introspection"),
    ("sys.addaudithook", "introspection"),
)
_OS_PROCESS = ("system", "popen", "fork", "forkpty", "kill", "killpg", "_exit", "abort")
_OS_PROCESS_PREFIXES = ("exec", "spawn", "posix_spawn")
_HIDDEN_CODE = {"eval", "exec", "compile", "__import__", "__builtins__", "breakpoint"}
_FRAME_ATTRIBUTES = {
    "f_back",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_code",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "__closure__",
    "__globals__",
    "__code__",
    "__subclasses__",
    "__builtins__",
}
_SUBCLASS_ATTRIBUTES = {"as_subclass", "_make_subclass", "_make_wrapper_subclass"}
_EXITS = {"sys.exit", "exit", "quit", "os._exit"}
_CPP_LOADER = "pragma_kernels.runtime.cpp"
_HALF = {"float16", "half", "bfloat16"}
_PRECISION_SWITCHES = ("allow_tf32", "reduced_precision", "fp32_precision")


class Finding(BaseModel):
    """One rule broken at one line, judged by the policy."""

    rule: str
    severity: Severity
    line: int  # 0: not from the source (the run-time no-kernel check)
    snippet: str
    message: str
    remedy: str
    kind: str = "forbidden_code"  # the verdict kind an error becomes

    def render(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        code = f": `{self.snippet}`" if self.snippet else ""
        return f"{where}{self.message} [{self.rule}]{code}"


def check_source(source: str, policy: StaticPolicy, dtype: str = "float32") -> list[Finding]:
    """Every finding the policy does not turn off, in line order. A file that does not
    parse has none: the import reports the syntax error with its line."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    imports = Imports.of(tree)
    compute, scanned = compute_hits(tree, imports)
    in_forward = {id(node) for function in scanned for node in ast.walk(function)}
    scanner = _Scanner(imports, in_forward, dtype)
    scanner.visit(tree)
    lines = source.splitlines()
    findings, seen = [], set()
    for hit in sorted([*scanner.hits, *compute], key=lambda h: getattr(h.node, "lineno", 0)):
        severity = policy.severity(hit.rule)
        line = getattr(hit.node, "lineno", 0)
        if severity == "off" or (hit.rule, line) in seen:
            continue
        seen.add((hit.rule, line))
        findings.append(
            Finding(
                rule=hit.rule,
                severity=severity,
                line=line,
                snippet=snippet(lines, hit.node),
                message=hit.message,
                remedy=RULES[hit.rule].remedy,
            )
        )
    return findings


def run_time_finding(rule: str, message: str) -> Finding:
    """A warning found while the candidate ran (no source line), e.g. `no-kernel`."""
    return Finding(
        rule=rule,
        severity="warn",
        line=0,
        snippet="",
        message=message,
        remedy=RULES[rule].remedy,
        kind="no_kernel" if rule == "no-kernel" else "forbidden_code",
    )


def describe(findings: list[Finding], limit: int = 8) -> str:
    """A verdict message: the findings, then each rule's remedy once."""
    shown = "; ".join(f.render() for f in findings[:limit])
    more = f"; and {len(findings) - limit} more" if len(findings) > limit else ""
    fixes = dict.fromkeys(f"{f.rule}: {f.remedy}" for f in findings)
    return f"{shown}{more}. Fix: " + "; ".join(fixes)


def _forbidden(path: str) -> str | None:
    """The rule a dotted name breaks wherever it appears, or None."""
    root, _, rest = path.partition(".")
    if root in _ROOTS:
        return _ROOTS[root]
    if root == "os" and (rest in _OS_PROCESS or rest.startswith(_OS_PROCESS_PREFIXES)):
        return "process-control"
    if root == "pragma_kernels":
        on_the_way = path in ("pragma_kernels", "pragma_kernels.runtime")
        loader = path == _CPP_LOADER or path.startswith(_CPP_LOADER + ".")
        return None if on_the_way or loader else "harness-access"
    for prefix, rule in _PREFIXES:
        if path == prefix or path.startswith(prefix if prefix.endswith("_") else prefix + "."):
            return rule
    return None


# input_precision values with float32's accuracy: plain float32 products, or 3xTF32 (each
# operand split into a TF32 high part and a TF32 remainder, three tensor-core products).
_FP32_ACCURATE_DOTS = ("ieee", "tf32x3")


def _ieee_dot(node: ast.Call) -> bool:
    """tl.dot asked for float32-accurate products (Triton's default for float32 is TF32)."""
    for keyword in node.keywords:
        if keyword.arg == "input_precision":
            value = keyword.value
            return isinstance(value, ast.Constant) and value.value in _FP32_ACCURATE_DOTS
        if keyword.arg == "allow_tf32":
            return isinstance(keyword.value, ast.Constant) and keyword.value.value is False
    return False


def _low_precision(path: str | None, dtype: str) -> bool:
    """A dtype below the job's: fp8 always, a 16-bit float on a float32 job."""
    if path is None or path.split(".")[0] not in ("torch", "triton"):
        return False
    leaf = path.rsplit(".", 1)[-1]
    return leaf.startswith("float8") or (dtype == "float32" and leaf in _HALF | {"fp16", "bf16"})


class _Scanner(ast.NodeVisitor):
    """The rules that look at the whole file (torch-compute is static_compute.py's)."""

    def __init__(self, imports: Imports, in_forward: set[int], dtype: str):
        self.imports, self.in_forward, self.dtype = imports, in_forward, dtype
        self.hits: list[Hit] = []

    def hit(self, rule: str, node: ast.AST, message: str) -> None:
        self.hits.append(Hit(rule, node, message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            self.imported(node, f"{module}.{alias.name}" if module else alias.name)

    def imported(self, node: ast.AST, path: str) -> None:
        rule = _forbidden(path)
        if rule:
            self.hit(rule, node, f"imports {path}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in _HIDDEN_CODE:
            self.hit("introspection", node, f"uses {node.id}: code the static check cannot read")
        elif node.id in ("exit", "quit") and id(node) in self.in_forward:
            self.hit("process-control", node, f"{node.id}() in forward")
        self.resolved(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _FRAME_ATTRIBUTES:
            self.hit("introspection", node, f"reads .{node.attr}")
        elif node.attr in _SUBCLASS_ATTRIBUTES:
            self.hit("tensor-subclass", node, f"uses .{node.attr}")
        elif node.attr == "forward" and last_name(node.value) == "Model":
            self.hit("reference-model", node, "calls the reference Model's forward")
        if not self.resolved(node):
            self.generic_visit(node)

    def resolved(self, node: ast.AST) -> bool:
        """Judge the longest imported name at this node; True when it was one."""
        path = self.imports.resolve(node)
        if path is None:
            return False
        rule = _forbidden(path)
        if rule:
            self.hit(rule, node, f"uses {path}")
        elif path.startswith("torch.") and path.endswith("autocast") and self.dtype == "float32":
            self.hit("precision-drop", node, f"uses {path}")
        if path in _EXITS and id(node) in self.in_forward:
            self.hit("process-control", node, f"{path}() in forward")
        return True

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            path = self.imports.resolve(base) or ""
            if path in ("torch.Tensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                self.hit("tensor-subclass", node, f"class {node.name} subclasses {path}")
            if last_name(base) == "Model":
                self.hit("reference-model", node, f"class {node.name} inherits the reference Model")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name in ("__torch_function__", "__torch_dispatch__"):
            self.hit("tensor-subclass", node, f"defines {node.name}")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Raise(self, node: ast.Raise) -> None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if last_name(raised) in ("SystemExit", "KeyboardInterrupt") and id(node) in self.in_forward:
            self.hit("process-control", node, f"raises {last_name(raised)} in forward")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = dotted(node.func) or ""
        if last_name(node.func) == "Model":
            self.hit("reference-model", node, f"constructs the reference `{name or 'Model'}`")
        if name in ("setattr", "delattr", "getattr") and node.args:
            self.reflective(node, name)
        self.precision_call(node)
        self.generic_visit(node)

    def reflective(self, node: ast.Call, name: str) -> None:
        owner = root_name(node.args[0])
        if owner not in self.imports.names:
            return
        if name != "getattr":
            self.hit("monkeypatch", node, f"{name} on the imported {owner}")
        elif len(node.args) > 1 and not isinstance(node.args[1], ast.Constant):
            self.hit("introspection", node, f"getattr on the imported {owner} by a computed name")

    # -- assignments: monkeypatching and precision switches -------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self.assigned(target, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.assigned(node.target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.assigned(node.target, node.value)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.assigned(target, None)
        self.generic_visit(node)

    def assigned(self, target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:
                self.assigned(item, value)
            return
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        owner = root_name(target)
        if owner not in self.imports.names:
            return
        path = self.imports.resolve(target) or ast.unparse(target)
        if any(switch in path for switch in _PRECISION_SWITCHES):
            restored = isinstance(value, ast.Constant) and value.value in (False, "ieee")
            if self.dtype == "float32" and not restored:
                self.hit("precision-drop", target, f"sets {path}")
            return
        self.hit("monkeypatch", target, f"assigns {path}, which the file imported")

    def precision_call(self, node: ast.Call) -> None:
        func = node.func
        path = self.imports.resolve(func) or ""
        if path == "torch.set_float32_matmul_precision" and self.dtype == "float32":
            mode = node.args[0] if node.args else None
            if not (isinstance(mode, ast.Constant) and mode.value == "highest"):
                self.hit("precision-drop", node, "lowers the float32 matmul precision")
        if isinstance(func, ast.Attribute) and func.attr in ("half", "bfloat16") and not node.args:
            if self.dtype == "float32":
                self.hit("precision-drop", node, f"casts with .{func.attr}()")
        if path == "triton.language.dot" and self.dtype == "float32" and not _ieee_dot(node):
            self.hit(
                "tf32-dot",
                node,
                'tl.dot on float32 runs in TF32 unless input_precision="ieee" or "tf32x3"',
            )
        casts = func.attr in ("to", "type") if isinstance(func, ast.Attribute) else False
        casts = casts or path == "triton.language.cast"
        dtypes = [k.value for k in node.keywords if k.arg == "dtype"]
        for value in [*(node.args if casts else []), *dtypes]:
            if _low_precision(self.imports.resolve(value), self.dtype):
                self.hit("precision-drop", node, f"casts to {ast.unparse(value)}")
                break
