"""Reading names in a candidate's AST: what its imports bind and what an expression means.

Shared by static_checks.py (rules over the whole file) and static_compute.py (torch
compute in forward). Resolution is by the file's own imports only: `np.exp` is
`numpy.exp` when the file says `import numpy as np`; a name bound any other way
resolves to nothing (the checks are a first filter, not a type checker).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import NamedTuple


class Hit(NamedTuple):
    """One rule broken at one node: what the checker found, before the policy judges it."""

    rule: str
    node: ast.AST
    message: str


@dataclass
class Imports:
    """Local name -> dotted path it was imported as ("F" -> "torch.nn.functional")."""

    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, tree: ast.AST) -> Imports:
        imports = cls()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        imports.names[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        imports.names[root] = root
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                for alias in node.names:
                    imports.names[alias.asname or alias.name] = f"{module}.{alias.name}"
        return imports

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted path an attribute chain names, if its root is an import;
        `getattr(torch, "relu")` names `torch.relu`."""
        if _is_getattr(node):
            owner = self.resolve(node.args[0])
            return f"{owner}.{node.args[1].value}" if owner else None
        chain = dotted(node)
        if chain is None:
            return None
        root, _, rest = chain.partition(".")
        if root not in self.names:
            return None
        return f"{self.names[root]}.{rest}" if rest else self.names[root]


def _is_getattr(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    )


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def root_name(node: ast.AST) -> str | None:
    """The name an attribute / subscript chain starts from (`a` in `a.b[0].c`)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def last_name(node: ast.AST) -> str | None:
    """`Model` for `Model`, `ref.Model` or `ref.Model[...]`-free chains."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def snippet(lines: list[str], node: ast.AST, width: int = 100) -> str:
    """The node's first source line, stripped and cut to `width`."""
    number = getattr(node, "lineno", 0)
    if not 0 < number <= len(lines):
        return ""
    text = lines[number - 1].strip()
    return text if len(text) <= width else text[: width - 3] + "..."
