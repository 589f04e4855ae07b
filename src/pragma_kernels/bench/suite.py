"""The problems a bench runs: directories (a KernelBench checkout's `level1` as it is),
list files (one path per line, relative to the list), or single problem files."""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

from pragma_kernels.bench.store import ProblemRow
from pragma_kernels.categories import CATEGORIES, infer_category
from pragma_kernels.errors import PragmaError
from pragma_kernels.problems import problem_files


def collect(
    sources: list[Path], subset: str | None = None, categories: str | None = None
) -> list[ProblemRow]:
    """Every problem the sources name, once, in order; `subset`: a count (the first N) or
    comma-separated names or globs of file stems; `categories`: comma-separated names."""
    paths: list[Path] = []
    for source in sources:
        paths += _expand(source)
    unique = list(dict.fromkeys(p.resolve() for p in paths))
    rows = [_row(path) for path in unique]
    if categories:
        wanted = {c.strip() for c in categories.split(",") if c.strip()}
        unknown = wanted - set(CATEGORIES)
        if unknown:
            raise PragmaError(
                f"--categories: unknown {sorted(unknown)}. Fix: choose from {', '.join(CATEGORIES)}"
            )
        rows = [row for row in rows if row.category in wanted]
    return _subset(rows, subset) if subset else rows


def _expand(source: Path) -> list[Path]:
    if source.is_dir():
        found = problem_files(source)
        if not found:
            raise PragmaError(f"{source}: no problem files (*.py) in this directory")
        return found
    if source.suffix == ".py" and source.is_file():
        return [source]
    if source.is_file():  # a list file
        listed = []
        for number, line in enumerate(source.read_text().splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            path = (source.parent / entry) if not Path(entry).is_absolute() else Path(entry)
            if not path.exists():
                raise PragmaError(
                    f"{source}:{number}: {entry} does not exist. Fix: list problem files or "
                    "directories, relative to the list file"
                )
            listed += _expand(path)
        return listed
    raise PragmaError(f"{source}: no such file or directory")


def _row(path: Path) -> ProblemRow:
    source = path.read_text()
    return ProblemRow(
        problem=path.stem,
        path=str(path),
        category=infer_category(path.stem, source),
        sha256=hashlib.sha256(source.encode()).hexdigest(),
    )


def _subset(rows: list[ProblemRow], subset: str) -> list[ProblemRow]:
    if subset.strip().isdigit():
        return rows[: int(subset)]
    patterns = [p.strip() for p in subset.split(",") if p.strip()]
    chosen = [r for r in rows if any(fnmatch.fnmatch(r.problem, p) for p in patterns)]
    if not chosen:
        raise PragmaError(f"--subset {subset!r} matches no problem. Fix: a count, or names/globs")
    return chosen
