"""A KernelBench problem file written from an `nn.Module` class and an inputs factory, for
users who call `optimize(MyModel, inputs=make_inputs)` from their own code.

Workers import problems from files (isolation) and the Coder reads the reference's
source, so the class and the factory are turned back into source with `inspect`; the
module-level names they use are written in too when they are modules or literal
constants. Anything that cannot be written as source is refused, naming the fix.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from collections.abc import Callable, Sequence

from pragma_kernels.errors import PragmaError

FIX = "Fix: define it in a .py file and import it, or pass a KernelBench problem file instead"


def problem_source(model: type, inputs: Callable, init_inputs: Sequence = ()) -> str:
    """The text of a KernelBench file whose `Model` is `model` and whose `get_inputs()`
    calls `inputs`; `init_inputs` are the constructor's arguments (literals only)."""
    import torch

    if not (isinstance(model, type) and issubclass(model, torch.nn.Module)):
        raise PragmaError(f"{model!r} is not an nn.Module class. Fix: pass the class itself")
    if not callable(inputs) or inputs.__name__ == "<lambda>":
        raise PragmaError(
            "the inputs factory must be a named function (def make_inputs(): return [...]), "
            "so its source can be written into the problem file"
        )
    parts = [_source(model, f"class {model.__name__}"), _source(inputs, f"{inputs.__name__}()")]
    names = _free_names(parts)
    scope = {**vars(inspect.getmodule(model) or types.ModuleType("m")), **inputs.__globals__}
    lines = [
        f'"""Written by pragma_kernels.optimize from {model.__module__}.{model.__name__} '
        f'and {inputs.__name__}()."""\n',
        "import torch",
        "import torch.nn as nn",
        "import torch.nn.functional as F",
    ]
    lines += [_definition(name, scope) for name in sorted(names - {"torch", "nn", "F"})]
    lines += ["", *parts]
    if model.__name__ != "Model":
        lines.append(f"Model = {model.__name__}\n")
    if inputs.__name__ != "get_inputs":
        lines.append(f"\ndef get_inputs():\n    return list({inputs.__name__}())\n")
    lines.append(f"\ndef get_init_inputs():\n    return {_literal(list(init_inputs))}\n")
    return "\n".join(lines)


def _source(obj: object, what: str) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj)) + "\n"
    except (OSError, TypeError):
        raise PragmaError(
            f"the source of {what} cannot be read back (e.g. it was defined in a notebook "
            f"cell or an interactive session). {FIX}"
        ) from None


def _free_names(parts: list[str]) -> set[str]:
    """Names the sources read but do not define themselves (module-level lookups)."""
    trees = [ast.parse(part) for part in parts]
    used, defined = set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    return used - defined - set(dir(builtins))


def _definition(name: str, scope: dict) -> str:
    if name not in scope:
        raise PragmaError(f"the model or its inputs factory uses {name!r}, which is not defined")
    value = scope[name]
    if isinstance(value, types.ModuleType):
        module = value.__name__
        return f"import {module}" if module == name else f"import {module} as {name}"
    try:
        return f"{name} = {_literal(value)}"
    except PragmaError:
        raise PragmaError(
            f"the model or its inputs factory uses the module-level {name!r} "
            f"({type(value).__name__}), which cannot be written as source. {FIX}"
        ) from None


def _literal(value: object) -> str:
    """`repr(value)` where it reads back as the same literal (numbers, strings, tuples...)."""
    text = repr(value)
    try:
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, SyntaxError):
        pass
    raise PragmaError(
        f"{text[:80]} is not a literal; init inputs and module constants must be numbers, "
        "strings, None or lists/tuples/dicts of them"
    )
