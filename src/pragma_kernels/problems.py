"""Load KernelBench-format problems: a .py file with `Model`, `get_inputs`, `get_init_inputs`.

Files are imported, never modified. A problem may offer other sizes as
`SIZES = {"gpu": {"batch_size": 4096, ...}}`: loading with `size="gpu"` rebinds
those module globals, which `get_inputs()` reads at call time. Files without
SIZES (e.g. a KernelBench checkout) run at their one size.
"""

from __future__ import annotations

import hashlib
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from pragma_kernels.categories import CATEGORIES, infer_category
from pragma_kernels.errors import ProblemError

REQUIRED = {
    "Model": "define `class Model(nn.Module)` with the reference forward()",
    "get_inputs": "define `def get_inputs(): return [torch.randn(...), ...]`",
    "get_init_inputs": "define `def get_init_inputs(): return []` (the Model constructor's args)",
}


@dataclass(frozen=True)
class Problem:
    name: str
    path: Path
    category: str
    category_from: str  # "override" | "file" | "inferred"
    size: str  # the SIZES key applied, or "default"
    sizes: tuple[str, ...] = field(default=())  # sizes the file offers besides its default
    # The imported file at `size`, for what else needs it (describe_inputs), so a run
    # imports the problem once per size.
    module: ModuleType | None = field(default=None, repr=False, compare=False)


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"pragma_problem_{stem}_{digest}"


def first_user_frame(exc: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return f" (line {frames[-1].lineno})" if frames else ""


def import_module(path: Path, size: str | None = None) -> ModuleType:
    """Import a problem file as a fresh module, applying SIZES[size] when offered."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError(
            str(path), "no such file", "give the path of a KernelBench-format .py file"
        )
    if path.suffix != ".py":
        raise ProblemError(
            str(path),
            "not a Python file",
            "give a .py file defining Model, get_inputs and get_init_inputs",
        )
    try:
        code = compile(path.read_text(), str(path), "exec")
    except SyntaxError as exc:
        raise ProblemError(
            str(path),
            f"syntax error at line {exc.lineno}: {exc.msg}",
            "correct the Python syntax (check with `python -m py_compile FILE`)",
        ) from None
    except UnicodeDecodeError:
        raise ProblemError(str(path), "not UTF-8 text", "save the file as UTF-8") from None
    module = ModuleType(_module_name(path))
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses and pickling look modules up here
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        raise ProblemError(
            str(path),
            f"importing it raised {type(exc).__name__}: {exc}{first_user_frame(exc, path)}",
            "make the file importable on its own (`python FILE` must not fail)",
        ) from None
    for attribute, fix in REQUIRED.items():
        if not callable(getattr(module, attribute, None)):
            raise ProblemError(str(path), f"it defines no `{attribute}`", fix)
    import torch.nn as nn

    if not (isinstance(module.Model, type) and issubclass(module.Model, nn.Module)):
        raise ProblemError(
            str(path),
            "`Model` is not a subclass of torch.nn.Module",
            "declare it as `class Model(nn.Module)`",
        )
    _apply_size(module, path, size)
    return module


def _apply_size(module: ModuleType, path: Path, size: str | None) -> None:
    """Rebind the globals of SIZES[size], when the file offers that size."""
    sizes = getattr(module, "SIZES", {}) or {}
    if size and size != "default" and size in sizes:
        for name, value in sizes[size].items():
            if name not in module.__dict__:
                raise ProblemError(
                    str(path),
                    f"SIZES[{size!r}] rebinds {name!r}, which the file does not define",
                    f"define `{name} = ...` at module level",
                )
            setattr(module, name, value)


def load_problem(path: str | Path, size: str | None = None, category: str | None = None) -> Problem:
    """Import and check the file's structure; raises ProblemError naming the file and the fix."""
    path = Path(path)
    module = import_module(path, size)
    sizes = tuple(getattr(module, "SIZES", {}) or {})
    applied = size if size in sizes else "default"
    if category is not None:
        if category not in CATEGORIES:
            raise ProblemError(
                str(path), f"unknown category {category!r}", f"use one of: {', '.join(CATEGORIES)}"
            )
        chosen, origin = category, "override"
    elif getattr(module, "CATEGORY", None) in CATEGORIES:
        chosen, origin = module.CATEGORY, "file"
    else:
        chosen, origin = infer_category(path.stem, path.read_text()), "inferred"
    return Problem(path.stem, path.resolve(), chosen, origin, applied, sizes, module)


def _natural_key(path: Path) -> tuple:
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", path.name))


def problem_files(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.glob("*.py") if not p.name.startswith("_")), key=_natural_key
    )


def load_category_overrides(path: str | Path) -> dict[str, str]:
    """A TOML file of `problem-name = "category"` lines: categories for files one cannot edit."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProblemError(
            str(path),
            f"cannot read the category overrides ({exc})",
            'write lines like `19_ReLU = "activation"`',
        ) from None
    for name, category in data.items():
        if category not in CATEGORIES:
            raise ProblemError(
                str(path),
                f"{name} = {category!r} is not a category",
                f"use one of: {', '.join(CATEGORIES)}",
            )
    return data


def load_problems(
    target: str | Path, size: str | None = None, categories: dict[str, str] | None = None
) -> tuple[list[Problem], list[ProblemError]]:
    """Load one file or every .py file of a directory; bad files are reported, not fatal.

    `categories` maps file stems to categories, overriding what the files say or imply.
    """
    target = Path(target)
    if target.is_dir():
        files = problem_files(target)
        if not files:
            raise ProblemError(
                str(target),
                "the directory holds no .py problem files",
                "point at a directory of KernelBench-format files (e.g. KernelBench/level1)",
            )
    else:
        files = [target]
    problems, errors = [], []
    for file in files:
        try:
            problems.append(load_problem(file, size, (categories or {}).get(file.stem)))
        except ProblemError as exc:
            errors.append(exc)
    return problems, errors


def describe_inputs(
    problem: Path | ModuleType, size: str | None = None, cast: str | None = None
) -> str:
    """The forward's arguments at a size, e.g. "input 0: float32[8, 64, 128, 128]", for prompts:
    the reference file's constants alone leave the timed shapes to be inferred. Built on
    the meta device (no memory); empty when the file's get_inputs cannot run there.
    `problem`: the file, or the module already imported at that size; `cast`: the dtype
    floating inputs are cast to (--dtype), None for the problem's own."""
    import torch

    inputs = _meta_inputs(problem, size)
    if inputs is None:  # user code that needs real data; the prompt simply omits the line
        return ""

    def one(value) -> str:
        if isinstance(value, torch.Tensor):
            dtype = cast if cast and value.is_floating_point() else value.dtype
            return f"{str(dtype).removeprefix('torch.')}{list(value.shape)}"
        return repr(value)[:60]

    return ", ".join(f"input {i}: {one(v)}" for i, v in enumerate(inputs))


def input_dtype(problem: Path | ModuleType, size: str | None = None) -> str:
    """The problem's own dtype as prompts state it before any worker ran: the
    lowest-precision floating dtype among get_inputs() (compare.compared_dtype); "" when
    there is none or get_inputs cannot run on the meta device."""
    from pragma_kernels.compare import compared_dtype

    inputs = _meta_inputs(problem, size)
    return compared_dtype(inputs) if inputs is not None else ""


def _meta_inputs(problem: Path | ModuleType, size: str | None) -> list | None:
    import torch

    try:
        module = problem if isinstance(problem, ModuleType) else import_module(problem, size)
        with torch.device("meta"):
            return list(module.get_inputs())
    except Exception:
        return None


def scaled_sizes(module: ModuleType, factor: float, floor: int = 8) -> dict[str, int]:
    """Smaller values for the integer globals `get_inputs` reads (and `get_init_inputs`
    does not: those shape the model's weights), halving the largest until the inputs are
    about `factor` times smaller; {} when there is nothing to shrink (pure: reads names).

    For cachegrind on a problem without SIZES["tiny"]: a profile needs the same access
    pattern on less data, not a size the author chose."""
    inputs = set(module.get_inputs.__code__.co_names)
    init = set(getattr(module, "get_init_inputs", lambda: None).__code__.co_names)
    sizes = {
        name: value
        for name in sorted(inputs - init)
        if type(value := module.__dict__.get(name)) is int and value > floor
    }
    shrunk, reduced = dict(sizes), 1.0
    while reduced < factor:
        name = max(shrunk, key=lambda n: shrunk[n], default=None)
        if name is None or shrunk[name] // 2 < floor:
            break
        reduced *= shrunk[name] / (shrunk[name] // 2)
        shrunk[name] //= 2
    return {name: value for name, value in shrunk.items() if value != sizes[name]}


def import_source(source: str, name: str = "candidate") -> ModuleType:
    """Import generated candidate source as a module from a file of its own (Triton's
    `jit` reads a kernel's source from its file: code run by exec fails on a GPU)."""
    import importlib.util
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="pragma-source-")) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
