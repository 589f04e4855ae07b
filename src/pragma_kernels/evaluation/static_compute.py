"""The `torch-compute` rule: torch (or numpy) computing in ModelNew's forward.

Scanned: `ModelNew.forward` (or `__call__`, or the forward of a base class defined in the
file), forward hooks it registers, and every function of the file they call or name,
except Triton kernels. A kernel launch (`lib.fn(...)`, `kernel[grid](...)`) is the work;
torch is glue only: allocation (`torch.empty`, `new_empty`), views and layout
(`.contiguous()`, `.view`, `.reshape`, `.t()`, `.permute`, `.movedim`), dtype/device
moves (`.to`, `.float()`), fills (`.zero_()`, `.fill_`, `.copy_`) and shape queries
(`.shape`, `.numel()`, `.stride()`). Reported: any other `torch.*` call, every
`torch.nn.functional` call, calling a torch layer (`self.conv(x)`), tensor math methods
(`.sum()`, `.exp()`, `.relu()`, `.matmul()`, ...), arithmetic and comparison operators
with a tensor operand, and `@` on anything.

A tensor is known by how it was made: forward's arguments (unless annotated as a scalar),
what torch returns, views of tensors, `self.<param>` and `.weight` / `.bias`; helper
arguments are tensors where the caller passes one. Method calls on other objects
(the C++ library, lists, strings) are never judged by their name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from pragma_kernels.evaluation.static_ast import Hit, Imports, dotted

RULE = "torch-compute"

# torch.<name>(...) that allocate or describe; factories among them return tensors.
TORCH_FACTORIES = frozenset(
    """
    empty empty_like empty_strided zeros zeros_like ones ones_like full full_like arange
    tensor as_tensor as_strided from_numpy
    """.split()
)
TORCH_GLUE = TORCH_FACTORIES | frozenset(
    """
    Size device dtype finfo iinfo is_tensor is_floating_point is_complex numel
    get_default_dtype promote_types result_type broadcast_shapes no_grad inference_mode
    enable_grad set_grad_enabled is_grad_enabled manual_seed Generator
    """.split()
)
# Whole namespaces that are glue, or that another rule judges (compiler, precision, ...).
TORCH_GLUE_PREFIXES = (
    "torch.cuda.",
    "torch.backends.",
    "torch.nn.init.",
    "torch.nn.parameter.",
    "torch.nn.modules.",
    "torch.utils.",
    "torch.compile",
    "torch.jit.",
    "torch._dynamo.",
    "torch._inductor.",
    "torch.export.",
    "torch.compiler.",
    "torch.autocast",
    "torch.amp.",
    "torch.overrides.",
    "torch.multiprocessing.",
    "torch.set_float32_matmul_precision",
    "torch.Stream",
    "torch.ops.load_library",
)
# torch.nn classes that hold tensors rather than compute.
NN_HOLDERS = frozenset(
    """
    Module ModuleList ModuleDict Parameter ParameterList ParameterDict
    UninitializedParameter UninitializedBuffer Buffer
    """.split()
)
NUMPY_GLUE = frozenset({"empty", "zeros", "ones", "prod", "asarray", "array", "dtype"})

# Tensor methods that return a tensor without computing values from it.
VIEW_METHODS = frozenset(
    """
    contiguous view view_as reshape reshape_as t transpose permute movedim moveaxis flatten
    unflatten squeeze unsqueeze expand expand_as narrow select as_strided detach clone to
    float double half bfloat16 int long short bool type type_as cpu cuda chunk split unbind
    tensor_split new_empty new_zeros new_ones new_full new_tensor zero_ fill_ copy_
    requires_grad_ get_parameter get_buffer
    """.split()
)
# Tensor methods that compute; their in-place forms (`name_`) too.
COMPUTE_METHODS = frozenset(
    """
    abs absolute acos acosh add addbmm addcdiv addcmul addmm addmv addr all amax amin
    aminmax angle any apply_ argmax argmin argsort asin asinh atan atan2 atanh baddbmm
    bernoulli bincount bitwise_and bitwise_not bitwise_or bitwise_xor bmm cauchy_ ceil
    cholesky clamp clamp_max clamp_min clip conv1d conv2d copysign cos cosh count_nonzero
    cov cross cummax cummin cumprod cumsum deg2rad diag diagonal diff digamma dist div
    divide dot eig eq equal erf erfc erfinv exp exp2 expm1 exponential_ fix flip fliplr
    flipud float_power floor floor_divide fmax fmin fmod frac gather gcd ge geometric_
    ger greater greater_equal gt hardshrink heaviside histc hypot i0 index_add
    index_copy index_fill index_put index_select inner inverse isclose isfinite isinf
    isnan kron kthvalue lcm ldexp le lerp less less_equal lgamma log log10 log1p log2
    log_normal_ log_softmax logaddexp logcumsumexp logical_and logical_not logical_or
    logical_xor logit logsumexp lt lu map_ map2_ masked_fill masked_scatter masked_select
    matmul matrix_exp matrix_power max maximum mean median min minimum mm mode msort mul
    multiply mv mvlgamma nan_to_num nanmean nanmedian nanquantile nansum ne neg negative
    nextafter nonzero norm normal_ not_equal outer pinverse polygamma pow prod put put_
    quantile rad2deg random_ reciprocal relu remainder renorm repeat repeat_interleave
    roll rot90 round rsqrt scatter scatter_add scatter_reduce sgn sigmoid sign signbit
    sin sinc sinh slogdet softmax sort sqrt square std sub subtract sum sum_to_size svd
    take take_along_dim tan tanh tile topk trace tril triu true_divide
    trunc uniform_ unique unique_consecutive var vdot where xlogy
    """.split()
)
SCALAR_BUILTINS = frozenset({"sum", "max", "min", "abs", "round", "pow", "sorted", "map"})
# Attributes that are tensors when read off a tensor or a module.
TENSOR_ATTRIBUTES = frozenset(
    {"weight", "bias", "data", "T", "mT", "H", "real", "imag", "running_mean", "running_var"}
)
HOOKS = frozenset({"register_forward_hook", "register_forward_pre_hook"})
ENTRY_METHODS = ("forward", "__call__", "_call_impl", "_wrapped_call_impl")
KERNEL_DECORATORS = ("triton.jit", "triton.autotune", "triton.heuristics")
SCALAR_ANNOTATIONS = frozenset({"int", "float", "bool", "str", "tuple", "list", "dict"})


def is_compute_method(name: str) -> bool:
    if name in VIEW_METHODS:
        return False
    return name in COMPUTE_METHODS or (name.endswith("_") and name[:-1] in COMPUTE_METHODS)


@dataclass
class FileFacts:
    """What the scan of one function needs to know about the rest of the file."""

    imports: Imports
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)  # not kernels
    methods: dict[str, ast.FunctionDef] = field(default_factory=dict)  # ModelNew's, inherited
    self_kinds: dict[str, str] = field(default_factory=dict)  # attr -> tensor|layer|lib|other
    libraries: set[str] = field(default_factory=set)  # module names bound to cpp.load(...)

    def torch_path(self, node: ast.AST) -> str | None:
        path = self.imports.resolve(node)
        return path if path and path.split(".")[0] in ("torch", "numpy") else None


def compute_hits(tree: ast.Module, imports: Imports) -> tuple[list[Hit], list[ast.AST]]:
    """The torch-compute hits and the function nodes scanned (forward and what it reaches)."""
    facts = _file_facts(tree, imports)
    queue: list[tuple[ast.AST, frozenset[str]]] = [
        (facts.methods[name], _entry_tensors(facts.methods[name]))
        for name in ENTRY_METHODS
        if name in facts.methods
    ]
    for method in facts.methods.values():  # hooks are registered in __init__, mostly
        for node in ast.walk(method):
            if isinstance(node, ast.Call):
                queue += _hooked(node, facts)
    seen: set[tuple[int, frozenset[str]]] = set()
    scanned: list[ast.AST] = []
    hits: list[Hit] = []
    while queue:
        function, tensors = queue.pop(0)
        if (id(function), tensors) in seen:
            continue
        seen.add((id(function), tensors))
        if function not in scanned:
            scanned.append(function)
        scan = _FunctionScan(facts, set(tensors), getattr(function, "name", "forward"))
        for statement in function.body:
            scan.visit(statement)
        hits += scan.hits
        queue += scan.calls
    return _unique(hits), scanned


def _unique(hits: list[Hit]) -> list[Hit]:
    kept, seen = [], set()
    for hit in hits:
        key = (getattr(hit.node, "lineno", 0), hit.message)
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept


def _is_kernel(function: ast.FunctionDef, imports: Imports) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        path = imports.resolve(target) or ""
        if path.startswith(KERNEL_DECORATORS) or path.startswith("triton.language"):
            return True
    return False


def _file_facts(tree: ast.Module, imports: Imports) -> FileFacts:
    facts = FileFacts(imports)
    classes: dict[str, ast.ClassDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not _is_kernel(node, imports):
            facts.functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, ast.Assign) and _is_library(node.value, imports):
            facts.libraries |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for cls in _lineage(classes, "ModelNew"):
        for node in cls.body:
            if isinstance(node, ast.FunctionDef):
                facts.methods.setdefault(node.name, node)
    for method in facts.methods.values():
        for node in ast.walk(method):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    chain = dotted(target) or ""
                    if chain.startswith("self.") and chain.count(".") == 1:
                        attr = chain.split(".")[1]
                        facts.self_kinds.setdefault(attr, _value_kind(node.value, facts))
    return facts


def _lineage(classes: dict[str, ast.ClassDef], name: str) -> Iterator[ast.ClassDef]:
    """The class and its bases defined in the same file, nearest first."""
    pending, seen = [name], set()
    while pending:
        current = pending.pop(0)
        if current in seen or current not in classes:
            continue
        seen.add(current)
        yield classes[current]
        pending += [b.id for b in classes[current].bases if isinstance(b, ast.Name)]


def _is_library(value: ast.AST, imports: Imports) -> bool:
    """`cpp.load(...)`: the C++ library, whose functions are the kernels."""
    if not isinstance(value, ast.Call):
        return False
    path = imports.resolve(value.func) or ""
    return path.startswith("pragma_kernels.runtime.cpp")


def _value_kind(value: ast.AST, facts: FileFacts) -> str:
    if _is_library(value, facts.imports) or (
        isinstance(value, ast.Name) and value.id in facts.libraries
    ):
        return "lib"
    target = value.func if isinstance(value, ast.Call) else value
    path = facts.torch_path(target)
    if path is None:
        return "other"
    leaf = path.rsplit(".", 1)[-1]
    if path.startswith("torch.nn.") and leaf in NN_HOLDERS - {"Module"}:
        return "tensor" if "Parameter" in leaf or "Buffer" in leaf else "layer"
    if path.startswith("torch.nn.") and leaf[:1].isupper():
        return "layer"
    if not isinstance(value, ast.Call) and not _torch_glue(path):
        return "layer"  # a torch function kept to be called: self.act = torch.relu
    return "tensor"


def _torch_glue(path: str) -> bool:
    if path.startswith("numpy."):
        return path.split(".", 1)[1] in NUMPY_GLUE
    if path.startswith(TORCH_GLUE_PREFIXES):
        return True
    parts = path.split(".")
    if len(parts) == 2:
        return parts[1] in TORCH_GLUE
    if path.startswith("torch.nn.functional."):
        return False
    if path.startswith("torch.nn."):
        return parts[-1] in NN_HOLDERS or not parts[-1][:1].isupper()
    if path.startswith("torch.Tensor."):
        return not is_compute_method(parts[-1])
    return False


def _entry_tensors(function: ast.FunctionDef) -> frozenset[str]:
    """Forward's parameters after self, but those annotated as scalars."""
    arguments = function.args
    names = [a for a in [*arguments.posonlyargs, *arguments.args][1:] if _maybe_tensor(a)]
    tensors = {a.arg for a in names}
    if arguments.vararg:
        tensors.add(arguments.vararg.arg)
    return frozenset(tensors)


def _maybe_tensor(argument: ast.arg) -> bool:
    annotation = argument.annotation
    if annotation is None:
        return True
    text = ast.unparse(annotation)
    return "Tensor" in text or text.split("[")[0].split(".")[-1] not in SCALAR_ANNOTATIONS


class _FunctionScan(ast.NodeVisitor):
    """One function, statement by statement: which names hold tensors, what computes."""

    def __init__(self, facts: FileFacts, tensors: set[str], where: str):
        self.facts = facts
        self.tensors = tensors
        self.layers: set[str] = set()
        self.others: set[str] = set(facts.libraries)
        self.where = "forward" if where == "forward" else f"{where} (reached from forward)"
        self.hits: list[Hit] = []
        self.calls: list[tuple[ast.AST, frozenset[str]]] = []

    def hit(self, node: ast.AST, what: str) -> None:
        self.hits.append(Hit(RULE, node, f"{what} in {self.where}"))

    # -- what an expression is ------------------------------------------------------------
    def is_tensor(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.tensors
        if isinstance(node, (ast.Starred, ast.Subscript)):
            return self.is_tensor(node.value)
        if isinstance(node, ast.Attribute):
            if self._self_attr(node) == "tensor":
                return True
            owner = node.value
            return node.attr in TENSOR_ATTRIBUTES and (
                self.is_tensor(owner) or self._self_chain(owner)
            )
        if isinstance(node, ast.IfExp):
            return self.is_tensor(node.body) or self.is_tensor(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)):
            return any(self.is_tensor(e) for e in node.elts)
        if isinstance(node, ast.ListComp):
            return self.is_tensor(node.elt)
        if isinstance(node, ast.Call):
            func = node.func
            path = self.facts.torch_path(func)
            if path is not None:  # what torch makes or computes; not what it describes
                return path.rsplit(".", 1)[-1] in TORCH_FACTORIES or not _torch_glue(path)
            if isinstance(func, ast.Attribute) and self.is_tensor(func.value):
                return func.attr in VIEW_METHODS or is_compute_method(func.attr)
        return False

    def _self_chain(self, node: ast.AST) -> bool:
        return (dotted(node) or "").startswith("self.") or self.is_layer(node)

    def _self_attr(self, node: ast.AST) -> str | None:
        chain = dotted(node) or ""
        if chain.startswith("self.") and chain.count(".") == 1:
            return self.facts.self_kinds.get(chain.split(".")[1])
        return None

    def is_layer(self, node: ast.AST) -> bool:
        while isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Name):
            return node.id in self.layers
        return self._self_attr(node) == "layer"

    # -- statements that bind names -------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if self.is_tensor(node.target) or self.is_tensor(node.value):
            self.hit(node, f"tensor arithmetic `{ast.unparse(node).strip()}`")
        self.visit(node.value)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.bind(node.target, node.iter, element=True)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.visit(node.iter)
        self.bind(node.target, node.iter, element=True)
        for condition in node.ifs:
            self.visit(condition)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        for generator in node.generators:  # the loop variables first
            self.visit(generator)
        self.visit(node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_Lambda(self, node: ast.Lambda) -> None:
        shadowed = {a.arg for a in node.args.args} & self.tensors
        self.tensors -= shadowed
        self.visit(node.body)
        self.tensors |= shadowed

    def bind(self, target: ast.AST, value: ast.AST, element: bool = False) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            for index, item in enumerate(target.elts):
                part = values[index] if values and index < len(values) else value
                self.bind(item, part, element)
            return
        if isinstance(target, ast.Starred):
            self.bind(target.value, value, element)
            return
        if not isinstance(target, ast.Name):
            return
        name = target.id
        self.tensors.discard(name)
        self.layers.discard(name)
        self.others.discard(name)
        if self.is_tensor(value):
            self.tensors.add(name)
        elif self.is_layer(value):
            self.layers.add(name)
        elif _is_library(value, self.facts.imports) or isinstance(
            value, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr)
        ):
            self.others.add(name)

    # -- expressions that compute -----------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult):
            self.hit(node, f"matrix product `{ast.unparse(node)}`")
        elif self.is_tensor(node.left) or self.is_tensor(node.right):
            self.hit(node, f"tensor arithmetic `{ast.unparse(node)}`")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if not isinstance(node.op, ast.Not) and self.is_tensor(node.operand):
            self.hit(node, f"tensor arithmetic `{ast.unparse(node)}`")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        identity = all(isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn)) for op in node.ops)
        if not identity and any(self.is_tensor(n) for n in [node.left, *node.comparators]):
            self.hit(node, f"tensor comparison `{ast.unparse(node)}`")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self.judge_call(node)
        self.follow(node)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        function = self.facts.functions.get(node.id)
        if function is not None and isinstance(node.ctx, ast.Load):
            self.calls.append((function, frozenset()))  # named, maybe called later

    def judge_call(self, node: ast.Call) -> None:
        func = node.func
        path = self.facts.torch_path(func)
        if path is not None:
            if not _torch_glue(path):
                self.hit(node, f"calls {path}")
            return
        if self.is_layer(func) or (
            isinstance(func, ast.Attribute) and func.attr == "forward" and self.is_layer(func.value)
        ):
            self.hit(node, f"calls the torch layer `{ast.unparse(func)}`")
            return
        if isinstance(func, ast.Attribute) and is_compute_method(func.attr):
            if self.is_tensor(func.value):
                self.hit(node, f"tensor method .{func.attr}()")
            return
        if isinstance(func, ast.Name) and func.id in SCALAR_BUILTINS:
            if any(self.is_tensor(a) for a in node.args):
                self.hit(node, f"{func.id}() over a tensor")

    def follow(self, node: ast.Call) -> None:
        """Queue a same-file function or method this call reaches, with its tensor args."""
        func, target, skip = node.func, None, 0
        if isinstance(func, ast.Name):
            target = self.facts.functions.get(func.id)
        elif (dotted(func) or "").startswith("self.") and func.attr in self.facts.methods:
            target, skip = self.facts.methods[func.attr], 1
        self.calls += _hooked(node, self.facts)
        if target is None:
            return
        params = [a.arg for a in [*target.args.posonlyargs, *target.args.args]][skip:]
        tensors = {p for p, a in zip(params, node.args, strict=False) if self.is_tensor(a)}
        tensors |= {k.arg for k in node.keywords if k.arg and self.is_tensor(k.value)}
        if target.args.vararg and any(self.is_tensor(a) for a in node.args[len(params) :]):
            tensors.add(target.args.vararg.arg)
        self.calls.append((target, frozenset(tensors)))


def _hooked(call: ast.Call, facts: FileFacts) -> list[tuple[ast.AST, frozenset[str]]]:
    """What `register_forward_hook(callback)` runs on every forward: it can replace the
    output, so it is scanned like forward (a lambda's body, or a function of the file)."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in HOOKS and call.args):
        return []
    callback = call.args[0]
    if isinstance(callback, ast.Lambda):
        body = ast.Module(body=[ast.Expr(callback.body)], type_ignores=[])
        return [(body, frozenset(a.arg for a in callback.args.args[1:]))]
    chain = dotted(callback) or ""
    name = chain.split(".")[-1]
    function = facts.functions.get(chain) or (
        facts.methods.get(name) if chain.startswith("self.") else None
    )
    return [(function, _entry_tensors(function))] if function is not None else []
