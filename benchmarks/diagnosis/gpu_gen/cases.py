"""The generated GPU suite: defect x operator x shape, with a calibrate / held-back split.

Each defect lists its operators; within a defect the operators alternate between the splits
(calibrate, heldout, calibrate, ...), and both shapes of an operator stay in its split, so
the held-back cases are operators the rules were never tuned on. `write(folder)` writes
each case's problem, planted candidate and fixed twin; nothing is kept in the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import kernels as K
from . import kernels_more as M
from .ops import ELEMENTWISE, POWERS, REDUCTIONS, ROWWISE, Shape, problem_source

ELEMENTWISE_SHAPES = (Shape(4096, 4096), Shape(8192, 4096))


@dataclass(frozen=True)
class Defect:
    """A planted defect: its label, operators, shapes, and the two candidates' sources."""

    name: str
    label: str
    operators: tuple[str, ...]
    shapes: tuple[Shape, ...]
    planted: Callable[[str, str], str]
    fixed: Callable[[str, str], str]
    inputs: str = "randn"
    doc: str = ""


def _torch(op: str) -> str:
    for table in (ELEMENTWISE, ROWWISE, POWERS):
        if op in table:
            return table[op][0]
    return REDUCTIONS[op]


DEFECTS: tuple[Defect, ...] = (
    Defect(
        "uncoalesced",
        "uncoalesced_access",
        ("relu", "softsign", "scale_shift", "swish"),
        (Shape(4096, 4096), Shape(2048, 8192)),
        K.uncoalesced,
        lambda t, o: K.elementwise(t, o),
        doc="lanes walk down columns",
    ),
    Defect(
        "divergence",
        "warp_divergence",
        ("pow", "pow_plus_x", "half_pow"),
        (Shape(1024, 16384), Shape(2048, 4096)),
        lambda t, o: M.powers(t, o, True),
        lambda t, o: M.powers(t, o, False),
        inputs="powers",
        doc="a per-lane loop of e multiplies, heavy-tailed e",
    ),
    Defect(
        "spills",
        "register_spills",
        ("softmax", "log_softmax", "l2_normalize", "rms_norm"),
        (Shape(2048, 8192), Shape(4096, 8192)),
        lambda t, o: M.rowwise(t, o, 1),
        lambda t, o: M.rowwise(t, o, 16),
        doc="a whole 8192 row in one warp",
    ),
    Defect(
        "atomics",
        "atomic_contention",
        ("sum_all", "row_sum", "sumsq_all", "mean_all"),
        (Shape(2048, 2048), Shape(4096, 1024)),
        lambda t, o: M.atomics(t, o, True),
        lambda t, o: M.atomics(t, o, False),
        inputs="rand",
        doc="an atomic add per element on one address",
    ),
    Defect(
        "fp64",
        "slow_math",
        ("sigmoid", "softplus", "tanh", "gelu_tanh"),
        ELEMENTWISE_SHAPES,
        lambda t, o: K.elementwise(t, o, "fp64"),
        lambda t, o: K.elementwise(t, o),
        doc="float32 data computed in float64",
    ),
    Defect(
        "transcendental",
        "slow_math",
        ("sigmoid", "swish", "elu", "softplus"),
        ELEMENTWISE_SHAPES,
        lambda t, o: K.elementwise(t, o, "slow_exp"),
        lambda t, o: K.elementwise(t, o),
        doc="each exp as a product of 24 exps",
    ),
    Defect(
        "chain",
        "many_small_kernels",
        ("swish", "gelu_tanh", "scale_shift_relu", "softsign"),
        ELEMENTWISE_SHAPES,
        M.chain,
        lambda t, o: K.elementwise(t, o),
        doc="one kernel per step, intermediates through DRAM",
    ),
    Defect(
        "row_launches",
        "many_small_kernels",
        ("softsign", "relu", "scale_shift", "swish"),
        (Shape(1024, 8192), Shape(2048, 4096)),
        K.row_launches,
        lambda t, o: K.elementwise(t, o),
        doc="one launch per row",
    ),
    Defect(
        "tiny_grid",
        "launch_tail_bound",
        ("relu", "sum_all", "scale_shift", "sumsq_all"),
        ELEMENTWISE_SHAPES,
        lambda t, o: _tiny_grid(t, o, 4),
        lambda t, o: _tiny_grid(t, o, None),
        doc="4 programs for the whole tensor",
    ),
)


def _tiny_grid(tag: str, op: str, programs: int | None) -> str:
    if op in REDUCTIONS:
        return M.partial_sums(tag, op, programs or 1024)
    return K.grid_stride(tag, op, programs)


@dataclass(frozen=True)
class Case:
    name: str
    defect: str
    label: str
    operator: str
    shape: Shape
    split: str  # "calibrate" | "heldout"
    problem: str  # sources
    planted: str
    fixed: str


def generate() -> list[Case]:
    """Every case of every defect (pure)."""
    cases = []
    for defect in DEFECTS:
        for index, op in enumerate(defect.operators):
            split = "calibrate" if index % 2 == 0 else "heldout"
            for shape in defect.shapes:
                name = f"{defect.name}_{op}_{shape.tag}"
                tiny_cols = 100 if defect.name != "spills" else 200
                problem = problem_source(name, _torch(op), shape, defect.inputs, tiny_cols)
                sources = {}
                for variant, make in (("planted", defect.planted), ("fixed", defect.fixed)):
                    tag = f"{name}_{variant}"
                    header = K.HEADER.format(label=defect.label, variant=variant, doc=defect.doc)
                    sources[variant] = header + make(tag, op)
                cases.append(
                    Case(name, defect.name, defect.label, op, shape, split, problem, **sources)
                )
    return cases


def select(cases: list[Case], split: str | None, limit: int | None = None) -> list[Case]:
    """The cases of a split ("calibrate", "heldout", None: all), at most `limit`, spread
    over the defects (round robin) so a limited run still covers every class."""
    chosen = [c for c in cases if split in (None, "all", c.split)]
    if limit is None or limit >= len(chosen):
        return chosen
    by_defect: dict[str, list[Case]] = {}
    for case in chosen:
        by_defect.setdefault(case.defect, []).append(case)
    spread = []
    while len(spread) < limit:
        for group in by_defect.values():
            if group and len(spread) < limit:
                spread.append(group.pop(0))
    return spread


def write(cases: list[Case], folder: Path) -> dict[str, dict[str, Path]]:
    """Each case's files under `folder`: {name: {problem, planted, fixed}}."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in cases:
        entry = {}
        for part in ("problem", "planted", "fixed"):
            path = folder / f"{case.name}_{part}.py"
            path.write_text(getattr(case, part))
            entry[part] = path
        paths[case.name] = entry
    return paths
