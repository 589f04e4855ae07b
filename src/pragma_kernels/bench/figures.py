"""The bench report's figures, as PNG bytes (matplotlib, imported only when drawing).

Figures are drawn on `matplotlib.figure.Figure` with an Agg canvas, never through pyplot:
no global backend is switched in the caller's process and nothing is left open.

- success_bars: compile rate, correctness and fast_p by mode;
- speedup_by_category (Fig. 3): each correct run's best speedup, per category and mode,
  log scale, a line at 1.0x; one figure per baseline;
- progress (Fig. 4): per problem, the best-so-far speedup over attempts in each mode (the
  loop's own choice: the correct attempt with the lowest time so far), with every correct
  attempt's speedup faint beside it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from pragma_kernels.bench.metrics import FAST_P, Metrics
from pragma_kernels.bench.store import AttemptRow, RunRow
from pragma_kernels.bench.summary import natural_key
from pragma_kernels.errors import PragmaError

REPORT_EXTRA = "pip install 'pragma-kernels[report]'"
PROBLEMS_PER_FIGURE = 24  # Fig. 4's small multiples, so that a level of 100 stays readable
_COLUMNS = 4


@dataclass
class Figures:
    success: bytes | None = None
    by_category: dict[str, bytes] = field(default_factory=dict)  # baseline -> PNG
    progress: list[tuple[str, bytes]] = field(default_factory=list)  # (which problems, PNG)


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PragmaError(
            f"the bench report draws its figures with matplotlib, which cannot be imported "
            f"({exc}). Fix: {REPORT_EXTRA}"
        ) from None
    return Figure, FigureCanvasAgg


def require_matplotlib() -> None:
    """Fail before anything is written when the extra is missing."""
    _matplotlib()


def _new(width: float, height: float):
    figure_class, canvas_class = _matplotlib()
    figure = figure_class(figsize=(width, height), layout="constrained")
    canvas_class(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def _speedup_axis(ax, values: list[float]) -> None:
    """Log y with a dashed line at 1.0x and ticks labelled 0.5x, 1x, 2x (not 2x10^0)."""
    low, high = min([*values, 1.0]) / 1.25, max([*values, 1.0]) * 1.25
    low = max([t for t in _TICKS if t <= low] or [low])  # out to a labelled tick each way
    high = min([t for t in _TICKS if t >= high] or [high])
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    ticks = [t for t in _TICKS if low <= t <= high]
    ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
    ax.yaxis.set_minor_formatter(lambda _value, _position: "")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)


def _colours(modes: list[str]) -> dict[str, str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    return {mode: palette[i % len(palette)] for i, mode in enumerate(modes)}


def draw_all(
    by_mode: dict[str, Metrics],
    runs: list[RunRow],
    attempts: list[AttemptRow],
    categories: dict[str, str],
    baselines: list[str],
) -> Figures:
    modes = sorted(by_mode)
    figures = Figures(success=success_bars(by_mode, baselines) if modes else None)
    for baseline in baselines:
        png = speedup_by_category(runs, categories, modes, baseline)
        if png is not None:
            figures.by_category[baseline] = png
    figures.progress = progress(runs, attempts, modes)
    return figures


# -- success and fast_p -------------------------------------------------------------------
def success_bars(by_mode: dict[str, Metrics], baselines: list[str]) -> bytes:
    modes = sorted(by_mode)
    colours = _colours(modes)
    figure = _new(4.0 + 3.2 * len(baselines), 3.4)
    axes = figure.subplots(1, 1 + len(baselines), squeeze=False)[0]
    width = 0.8 / len(modes)
    groups = [("compile rate", lambda m: m.compile_rate), ("correctness", lambda m: m.correctness)]
    panels = [("success (unsupported = failure)", groups)]
    for baseline in baselines:
        field_name = "fast_eager" if baseline == "eager" else "fast_compile"
        bars = [
            (f"{p:g}", lambda m, k=f"fast_{p:g}", f=field_name: getattr(m, f)[k]) for p in FAST_P
        ]
        panels.append((f"fast_p vs {baseline}", bars))
    for ax, (title, bars) in zip(axes, panels, strict=True):
        for j, mode in enumerate(modes):
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(bars))]
            values = [get(by_mode[mode]) * 100 for _, get in bars]
            ax.bar(xs, values, width, label=mode, color=colours[mode])
        ax.set_xticks(range(len(bars)), [name for name, _ in bars])
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of runs")
        ax.set_title(title, fontsize=10)
        if title.startswith("fast_p"):
            ax.set_xlabel("p")
    axes[0].legend(fontsize=8)
    return _png(figure)


# -- Fig. 3 -------------------------------------------------------------------------------
def speedup_by_category(
    runs: list[RunRow], categories: dict[str, str], modes: list[str], baseline: str
) -> bytes | None:
    """None when no correct run has a speedup over `baseline`."""
    attribute = "speedup_eager" if baseline == "eager" else "speedup_compile"
    values: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        speedup = getattr(run, attribute)
        if run.correct and speedup and speedup > 0 and math.isfinite(speedup):
            key = (categories.get(run.problem, "others"), run.mode)
            values.setdefault(key, []).append(speedup)
    if not values:
        return None
    shown = sorted({category for category, _ in values})
    colours = _colours(modes)
    figure = _new(min(14.0, max(5.0, 1.3 * len(shown) * max(1, len(modes)) ** 0.5 + 2)), 4.2)
    ax = figure.subplots()
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        for i, category in enumerate(shown):
            points = values.get((category, mode), [])
            if not points:
                continue
            x = i - 0.4 + width * (j + 0.5)
            line = {"color": colours[mode]}
            ax.boxplot(
                [points], positions=[x], widths=width * 0.8, showfliers=False, patch_artist=True,
                boxprops={"facecolor": colours[mode], "alpha": 0.25, "edgecolor": colours[mode]},
                medianprops=line, whiskerprops=line, capprops=line,
            )  # fmt: skip
            offsets = _spread(len(points), width * 0.6)
            ax.scatter([x + d for d in offsets], points, s=14, color=colours[mode], zorder=3)
        ax.scatter([], [], color=colours[mode], label=mode)
    _speedup_axis(ax, [v for points in values.values() for v in points])
    ax.set_xticks(range(len(shown)), shown)
    ax.set_xlim(-0.6, len(shown) - 0.4)
    ax.set_ylabel(f"best kernel's speedup vs {baseline} (log)")
    ax.set_title(f"Fig. 3: speedup vs {baseline} by category and mode (correct runs)", fontsize=10)
    ax.legend(fontsize=8)
    return _png(figure)


def _spread(count: int, width: float) -> list[float]:
    """Deterministic horizontal offsets for a strip of points (no random jitter: the same
    store draws the same figure)."""
    if count == 1:
        return [0.0]
    return [-width / 2 + width * i / (count - 1) for i in range(count)]


# -- Fig. 4 -------------------------------------------------------------------------------
def best_so_far(attempts: list[AttemptRow], baseline: str = "eager") -> list[float | None]:
    """After each attempt (in order): the speedup of the correct attempt with the lowest own
    time so far, as the loop chooses its best; None until the first correct one."""
    attribute = "speedup_eager" if baseline == "eager" else "speedup_compile"
    best_ms, best, out = math.inf, None, []
    for attempt in sorted(attempts, key=lambda a: a.number):
        if attempt.ok and attempt.candidate_ms is not None and attempt.candidate_ms < best_ms:
            best_ms, best = attempt.candidate_ms, getattr(attempt, attribute)
        out.append(best)
    return out


def progress(
    runs: list[RunRow], attempts: list[AttemptRow], modes: list[str], baseline: str = "eager"
) -> list[tuple[str, bytes]]:
    problems = sorted({r.problem for r in runs}, key=natural_key)
    by_pair: dict[tuple[str, str], list[AttemptRow]] = {}
    for attempt in attempts:
        by_pair.setdefault((attempt.problem, attempt.mode), []).append(attempt)
    out = []
    for start in range(0, len(problems), PROBLEMS_PER_FIGURE):
        chunk = problems[start : start + PROBLEMS_PER_FIGURE]
        label = f"problems {start + 1}-{start + len(chunk)} of {len(problems)}"
        out.append((label, _progress_figure(chunk, by_pair, modes, baseline)))
    return out


def _progress_figure(problems, by_pair, modes, baseline) -> bytes:
    colours = _colours(modes)
    rows = math.ceil(len(problems) / _COLUMNS)
    columns = min(_COLUMNS, len(problems))
    figure = _new(3.2 * columns, 2.4 * rows + 0.5)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, problem in zip(axes, problems, strict=False):
        runs = {mode: by_pair.get((problem, mode), []) for mode in modes}
        _progress_panel(ax, problem, runs, colours, baseline)
    for ax in axes[len(problems) :]:
        ax.set_visible(False)
    handles = [
        axes[0].scatter([], [], color=colours[mode], label=mode) for mode in modes
    ]  # a legend for every mode, also where the first problem has no line for one
    figure.legend(handles=handles, loc="outside upper right", fontsize=8, ncols=len(modes))
    figure.suptitle(
        f"Fig. 4: best-so-far speedup vs {baseline} over attempts (faint: each correct attempt)",
        fontsize=10, x=0.01, ha="left",
    )  # fmt: skip
    return _png(figure)


def _progress_panel(ax, problem: str, runs: dict[str, list[AttemptRow]], colours, baseline):
    """One problem: each mode's best-so-far line and its correct attempts, faint."""
    attribute = "speedup_eager" if baseline == "eager" else "speedup_compile"
    shown: list[float] = []
    last = 1
    for mode, attempts in runs.items():
        tries = sorted(attempts, key=lambda a: a.number)
        last = max([last, *(a.number for a in tries)])
        points = [(a.number, getattr(a, attribute)) for a in tries if a.ok]
        points = [(n, s) for n, s in points if s and s > 0]
        if points:
            ax.scatter(*zip(*points, strict=True), s=10, color=colours[mode], alpha=0.3)
        line = [(a.number, s) for a, s in zip(tries, best_so_far(tries, baseline), strict=True)]
        line = [(n, s) for n, s in line if s and s > 0]
        if line:
            ax.step(*zip(*line, strict=True), where="post", color=colours[mode],
                    marker=".", markersize=5, label=mode)  # fmt: skip
        shown += [s for _, s in points + line]
    ax.set_title(problem if len(problem) <= 32 else problem[:31] + "…", fontsize=8)
    if not shown:
        ax.text(0.5, 0.5, "no correct attempt", ha="center", va="center",
                transform=ax.transAxes, fontsize=8, color="grey")  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        return
    _speedup_axis(ax, shown)
    ax.set_xlim(0.5, last + 0.5)
    ax.set_xticks(range(1, last + 1, max(1, math.ceil(last / 8))))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("attempt", fontsize=7)
