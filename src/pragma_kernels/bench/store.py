"""A bench's results: one SQLite file, written by the bench's driver only.

    BENCH/bench.sqlite     settings (meta), problems, runs (problem x mode), attempts
    BENCH/bench.jsonl      the same rows as JSON lines (`export_jsonl`), one per run/attempt
    BENCH/runs/P-MODE/     each run's own directory (attempt files, best.py, trace.md)

The schema (README, "pragma bench"):

    meta(key, value)                                   settings as JSON, bench version
    problems(problem, path, category, sha256)
    runs(problem, mode, status, run_dir, stopped, attempts, best_attempt, best_ms,
         eager_ms, compile_ms, speedup_eager, speedup_compile, first_correct,
         input_tokens, output_tokens, cost_usd, harness_s, device_s, wall_s, error,
         recognition, faster_found)
    attempts(problem, mode, number, kind, ok, compiled, candidate_ms, eager_ms,
         compile_ms, speedup_eager, speedup_compile, bottleneck, input_tokens,
         output_tokens, cost_usd, harness_s)

`status`: done (the loop ended), unsupported (offline mode: no template family; counts as
a failure), error (the loop raised; the message is kept). A run not in the table, or not
done, is run (and resumed from its own directory) the next time the bench starts.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pydantic import BaseModel

SCHEMA_VERSION = 1
STORE = "bench.sqlite"  # the store's file name inside a bench directory

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    problem TEXT PRIMARY KEY, path TEXT NOT NULL, category TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    problem TEXT NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL, run_dir TEXT,
    stopped TEXT, attempts INTEGER, best_attempt INTEGER, best_ms REAL, eager_ms REAL,
    compile_ms REAL, speedup_eager REAL, speedup_compile REAL, first_correct INTEGER,
    input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, harness_s REAL,
    device_s REAL, wall_s REAL, error TEXT, recognition TEXT, faster_found INTEGER,
    PRIMARY KEY (problem, mode)
);
CREATE TABLE IF NOT EXISTS attempts (
    problem TEXT NOT NULL, mode TEXT NOT NULL, number INTEGER NOT NULL, kind TEXT NOT NULL,
    ok INTEGER NOT NULL, compiled INTEGER NOT NULL, candidate_ms REAL, eager_ms REAL,
    compile_ms REAL, speedup_eager REAL, speedup_compile REAL, bottleneck TEXT,
    input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, harness_s REAL,
    PRIMARY KEY (problem, mode, number)
);
"""


def _add_missing_columns(db) -> None:
    """Stores written before a column existed gain it (empty), so they still resume."""
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for name, kind in (("recognition", "TEXT"), ("faster_found", "INTEGER")):
        if name not in have:
            with db:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


class ProblemRow(BaseModel):
    problem: str
    path: str
    category: str
    sha256: str


class RunRow(BaseModel):
    problem: str
    mode: str
    status: str  # done | unsupported | error
    run_dir: str = ""
    stopped: str = ""
    attempts: int = 0
    best_attempt: int | None = None
    best_ms: float | None = None
    eager_ms: float | None = None
    compile_ms: float | None = None
    speedup_eager: float | None = None
    speedup_compile: float | None = None
    first_correct: int | None = None  # the number of the first correct attempt
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    harness_s: float = 0.0  # evaluation seconds over all attempts
    device_s: float = 0.0  # seconds the run held the device lease
    wall_s: float = 0.0
    error: str = ""
    recognition: str = ""  # offline: the family and parameters matched, or why none fits
    # Whether the best is faster than eager beyond the noise (the loop's honest result);
    # None: no correct kernel, or a run stored before this column
    faster_found: bool | None = None

    @property
    def correct(self) -> bool:
        return self.best_attempt is not None


class AttemptRow(BaseModel):
    problem: str
    mode: str
    number: int
    kind: str  # the verdict kind (ok, numerical_mismatch, build, ...)
    ok: bool
    compiled: bool  # got past building and importing (KernelBench's compile rate)
    candidate_ms: float | None = None
    eager_ms: float | None = None
    compile_ms: float | None = None
    speedup_eager: float | None = None
    speedup_compile: float | None = None
    bottleneck: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    harness_s: float = 0.0


class SettingsMismatch(Exception):
    """The folder holds a bench with other settings; the message says which."""


class BenchStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(_DDL)
        _add_missing_columns(self.db)

    def close(self) -> None:
        self.db.close()

    # -- settings ---------------------------------------------------------------------------
    def settings(self) -> dict | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        return json.loads(row[0]) if row else None

    def sessions(self) -> list[dict]:
        """One entry per invocation of the bench (runner.BenchSession, with device_share)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'sessions'").fetchone()
        return json.loads(row[0]) if row else []

    def start(self, settings: dict, resume_keys: tuple[str, ...]) -> None:
        """Record the bench's settings, or check that a resumed bench has the same
        `resume_keys` (its results would not be comparable otherwise)."""
        saved = self.settings()
        if saved is not None:
            differ = [k for k in resume_keys if saved.get(k) != settings.get(k)]
            if differ:
                shown = ", ".join(
                    f"{k}: {saved.get(k)!r} there, {settings.get(k)!r} now" for k in differ
                )
                raise SettingsMismatch(f"{self.path} holds a bench with other settings ({shown})")
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('settings', ?), ('schema_version', ?)",
                (json.dumps(settings), str(SCHEMA_VERSION)),
            )

    # -- rows -------------------------------------------------------------------------------
    def put_problem(self, row: ProblemRow) -> None:
        self._put("problems", row)

    def put_run(self, run: RunRow, attempts: list[AttemptRow]) -> None:
        """A finished run and its attempts, in one transaction."""
        with self.db:
            self.db.execute(
                "DELETE FROM attempts WHERE problem = ? AND mode = ?", (run.problem, run.mode)
            )
            for attempt in attempts:
                self._insert("attempts", attempt)
            self._insert("runs", run)

    def finished(self) -> set[tuple[str, str]]:
        """(problem, mode) pairs that need no more work."""
        rows = self.db.execute("SELECT problem, mode FROM runs WHERE status != 'error'")
        return {(p, m) for p, m in rows}

    def runs(self) -> list[RunRow]:
        rows = self._rows("SELECT * FROM runs ORDER BY problem, mode")
        return [RunRow(**{**row, "recognition": row.get("recognition") or ""}) for row in rows]

    def attempts(self) -> list[AttemptRow]:
        query = "SELECT * FROM attempts ORDER BY problem, mode, number"
        return [AttemptRow(**row) for row in self._rows(query)]

    def problems(self) -> list[ProblemRow]:
        return [ProblemRow(**row) for row in self._rows("SELECT * FROM problems ORDER BY problem")]

    def export_jsonl(self, path: Path) -> None:
        lines = [json.dumps({"type": "run", **r.model_dump()}) for r in self.runs()]
        lines += [json.dumps({"type": "attempt", **a.model_dump()}) for a in self.attempts()]
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(path)

    # -- plumbing ---------------------------------------------------------------------------
    def _put(self, table: str, row: BaseModel) -> None:
        with self.db:
            self._insert(table, row)

    def _insert(self, table: str, row: BaseModel) -> None:
        data = row.model_dump()
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        self.db.execute(
            f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})", tuple(data.values())
        )

    def _rows(self, query: str) -> list[dict]:
        cursor = self.db.execute(query)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
