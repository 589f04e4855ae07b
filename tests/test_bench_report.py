"""The bench report (HTML, markdown, JSON), the KernelBench export, and the metrics they show,
over a store built by hand: 2 modes x 3 problems, one errored and one unsupported run.

Every headline number asserted below is computed by hand from the fixture (in the comments),
not by the code under test, so a wrong metric fails here."""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from pragma_kernels.bench import figures
from pragma_kernels.bench.export import (
    export_kernelbench,
    kernel_name,
    level_of,
    problem_id_of,
)
from pragma_kernels.bench.metrics import fast_p, grouped, metrics, speedups
from pragma_kernels.bench.report import build_report, write_report
from pragma_kernels.bench.rows import run_row
from pragma_kernels.bench.store import AttemptRow, BenchStore, ProblemRow, RunRow
from pragma_kernels.bench.summary import BenchReport
from pragma_kernels.errors import PragmaError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RELU, NORM, MATMUL = "19_ReLU", "40_LayerNorm", "1_Square_matrix_multiplication_"
CATEGORIES = {RELU: "activation", NORM: "normalization", MATMUL: "matmul"}
ERROR = "RuntimeError: CUDA out of memory <b>boom</b> & more"
UNSUPPORTED = "unsupported offline: no template family (operators: matmul)"


def attempt(problem, mode, number, ok, ms=None, eager=None, compile_=None, **fields):
    """An attempt: 1000 + 200 tokens and $0.01 each; `eager`/`compile_`: its speedups."""
    return AttemptRow(
        problem=problem, mode=mode, number=number, kind="ok" if ok else fields.pop("kind", "build"),
        ok=ok, compiled=fields.pop("compiled", True), candidate_ms=ms,
        eager_ms=eager * ms if eager else None, compile_ms=compile_ * ms if compile_ else None,
        speedup_eager=eager, speedup_compile=compile_, input_tokens=1000, output_tokens=200,
        cost_usd=0.01, harness_s=fields.pop("harness", 1.0),
        bottleneck=fields.pop("bottleneck", ""),
    )  # fmt: skip


ATTEMPTS = {
    (RELU, "pragma"): [
        attempt(RELU, "pragma", 1, False, compiled=False, harness=0.5),
        attempt(RELU, "pragma", 2, True, 2.0, 1.5, 0.8, harness=2.0, bottleneck="launch_tail"),
        attempt(RELU, "pragma", 3, True, 1.5, 2.0, 1.2, harness=3.0, bottleneck="memory_bound"),
    ],
    (NORM, "pragma"): [
        attempt(NORM, "pragma", 1, False, kind="numerical_mismatch"),
        attempt(NORM, "pragma", 2, True, 4.0, 0.5, 0.3),
    ],
    (RELU, "offline"): [attempt(RELU, "offline", 1, True, 0.75, 4.0, 2.5, harness=2.0)],
    (NORM, "offline"): [  # the best has no compile figure: torch.compile failed on it
        attempt(NORM, "offline", 1, True, 2.2, 0.9, 0.6),
        attempt(NORM, "offline", 2, True, 1.8, 1.1, None),
    ],
}
BEST = {(RELU, "pragma"): 3, (NORM, "pragma"): 2, (RELU, "offline"): 1, (NORM, "offline"): 2}


def make_bench(root: Path) -> Path:
    bench = root / "bench"
    store = BenchStore(bench / "bench.sqlite")
    store.start({"target": "gpu", "attempts": 3, "baselines": ["eager", "compile"]}, ())
    sessions = [{"started": 1.7e9, "pairs_run": 6, "pairs_skipped": 0, "wall_s": 100.0,
                 "device_s": 25.0, "device_share": 0.25}]  # fmt: skip
    with store.db:
        store.db.execute("INSERT INTO meta VALUES ('sessions', ?)", (json.dumps(sessions),))
    for name, category in CATEGORIES.items():
        path = root / "KernelBench" / "level1" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# a problem\n")
        store.put_problem(ProblemRow(problem=name, path=str(path), category=category, sha256="0"))
    for (problem, mode), rows in ATTEMPTS.items():
        folder = bench / "runs" / f"{problem}-{mode}"
        (folder / "attempts").mkdir(parents=True)
        (folder / "best.py").write_text(f"import torch\nimport triton\n# {problem} {mode}\n")
        (folder / "trace.md").write_text("# trace\n")
        for row in rows:
            (folder / "attempts" / f"{row.number:03d}.json").write_text("{}")
        # one run's stored path is from another working directory: found under runs/ anyway
        stored = f"elsewhere/runs/{folder.name}" if mode == "offline" else str(folder)
        run = run_row(problem, mode, rows, BEST[problem, mode], status="done", run_dir=stored,
                      stopped="budget spent")  # fmt: skip
        store.put_run(run, rows)
    errored = bench / "runs" / f"{MATMUL}-pragma"
    errored.mkdir(parents=True)
    store.put_run(RunRow(problem=MATMUL, mode="pragma", status="error", run_dir=str(errored),
                         error=ERROR), [])  # fmt: skip
    store.put_run(
        RunRow(problem=MATMUL, mode="offline", status="unsupported", stopped=UNSUPPORTED), []
    )
    store.close()
    return bench


@pytest.fixture
def bench(tmp_path) -> Path:
    return make_bench(tmp_path)


# -- metrics.py against hand-computed values ----------------------------------------------
def run(speedup_eager=None, speedup_compile=None, correct=True, **fields) -> RunRow:
    return RunRow(
        problem=fields.pop("problem", "p"), mode="m", status="done",
        best_attempt=1 if correct else None, speedup_eager=speedup_eager,
        speedup_compile=speedup_compile, **fields,
    )  # fmt: skip


def test_speedups_mean_geomean_median_by_hand():
    got = speedups([1.0, 4.0, 2.0, None, 0.0, math.inf])  # None, 0 and inf are left out
    assert got.n == 3
    assert got.mean == pytest.approx(7 / 3)
    assert got.geomean == pytest.approx(2.0)  # (1 * 4 * 2) ** (1/3)
    assert got.median == 2.0
    assert speedups([None]).geomean is None


def test_fast_p_counts_every_run_and_never_an_incorrect_one():
    runs = [run(0.5), run(1.0), run(1.6), run(2.5), run(None, correct=False)]
    # strictly faster than p: 1.0 is not fast_1, 2.5 is fast_2; 5 runs in the denominator
    assert fast_p(runs, "speedup_eager") == {
        "fast_0": 4 / 5, "fast_0.5": 3 / 5, "fast_1": 2 / 5, "fast_1.5": 2 / 5, "fast_2": 1 / 5,
    }  # fmt: skip
    assert fast_p([], "speedup_eager")["fast_1"] == 0.0


def test_fast_0_is_correctness_when_a_baseline_could_not_be_timed():
    """The bug fixed: a correct run whose torch.compile baseline failed (no speedup) was not
    counted in fast_0, so fast_0 fell below correctness."""
    runs = [run(2.0, None), run(2.0, 3.0), run(correct=False)]
    fast = fast_p(runs, "speedup_compile")
    assert fast["fast_0"] == pytest.approx(2 / 3)
    assert fast["fast_1"] == pytest.approx(1 / 3)  # unknown speedup: not counted fast


def test_metrics_of_one_mode_by_hand():
    rows = [a for (p, m), rows in ATTEMPTS.items() if m == "pragma" for a in rows]
    runs = [run_row(p, "pragma", ATTEMPTS[p, "pragma"], BEST[p, "pragma"], status="done")
            for p in (RELU, NORM)]  # fmt: skip
    runs.append(RunRow(problem=MATMUL, mode="pragma", status="error", error=ERROR))
    got = metrics(runs, rows)
    assert (got.runs, got.correct) == (3, 2)
    assert got.correctness == pytest.approx(2 / 3) and got.compile_rate == pytest.approx(2 / 3)
    assert (got.vs_eager.mean, got.vs_eager.geomean) == pytest.approx((1.25, 1.0))  # 2.0, 0.5
    assert got.vs_compile.geomean == pytest.approx(0.6)  # sqrt(1.2 * 0.3)
    assert got.attempts_to_first_correct == 2.0
    assert got.tokens_per_problem == pytest.approx(6000 / 3)  # 5 attempts x 1200, 3 runs
    assert got.usd_per_problem == pytest.approx(0.05 / 3)
    assert got.harness_s_per_attempt == pytest.approx(7.5 / 5)


# -- the report ---------------------------------------------------------------------------
class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])
        if "id" in attrs:
            self.ids.append(attrs["id"])

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    page.close()
    return page


def test_the_html_is_self_contained_with_tables_figures_and_working_links(bench):
    files = write_report(bench)
    assert files.html == bench / "report.html"
    page = parse(files.html)
    assert {"settings", "sessions", "overall", "categories", "problems", "fig3", "fig4"} <= set(
        page.ids
    )
    assert page.tags.count("table") == 5
    assert "script" not in page.tags and "link" not in page.tags  # nothing fetched
    # success bars, Fig. 3 for eager and for compile, Fig. 4 (3 problems: one page)
    assert len(page.images) == 4
    for src in page.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :]).startswith(PNG_MAGIC)
    # best.py, trace.md and the best attempt's JSON for each of the 4 correct runs
    assert len(page.links) == 12
    for href in page.links:
        assert (files.html.parent / unquote(href)).is_file(), href
    assert any(h.endswith(f"{RELU}-pragma/attempts/003.json") for h in page.links)
    text = "".join(page.text)
    assert ERROR in text and "b" not in page.tags  # the error is shown, as text
    assert "&lt;b&gt;boom&lt;/b&gt; &amp; more" in files.html.read_text()
    assert "failed (unsupported)" in text and UNSUPPORTED in text and "failed (error)" in text
    assert "correctness (unsupported and errored runs count as failures)" in text


def test_links_are_relative_to_a_report_written_elsewhere(bench, tmp_path):
    files = write_report(bench, tmp_path / "site" / "deep" / "bench.html")
    assert files.markdown == tmp_path / "site" / "deep" / "bench.md"
    page = parse(files.html)
    assert page.links and all(h.startswith("../../bench/runs/") for h in page.links)
    assert all((files.html.parent / unquote(h)).is_file() for h in page.links)


def test_the_markdown_has_the_headline_numbers_computed_by_hand(bench):
    text = write_report(bench).markdown.read_text()
    expected = [  # columns: offline, pragma
        "| metric | offline | pragma |",
        "| runs | 3 | 3 |",
        "| correctness (unsupported and errored runs count as failures) | 66.7% | 66.7% |",
        "| compile rate | 66.7% | 66.7% |",
        # offline 4.0, 1.1; pragma 2.0, 0.5
        "| speedup vs eager, mean | 2.55x | 1.25x |",
        "| speedup vs eager, geomean | 2.10x | 1.00x |",  # sqrt(4.4) = 2.098
        "| speedup vs eager, median | 2.55x | 1.25x |",
        # offline 2.5 (LayerNorm's best has none); pragma 1.2, 0.3
        "| correct runs timed vs compile | 1 | 2 |",
        "| speedup vs compile, geomean | 2.50x | 0.60x |",
        "| speedup vs compile, mean | 2.50x | 0.75x |",
        "| fast_0 vs eager | 66.7% | 66.7% |",
        "| fast_0.5 vs eager | 66.7% | 33.3% |",
        "| fast_1 vs eager | 66.7% | 33.3% |",
        "| fast_1.5 vs eager | 33.3% | 33.3% |",
        "| fast_2 vs eager | 33.3% | 0.0% |",
        "| fast_0 vs compile | 66.7% | 66.7% |",
        "| fast_1 vs compile | 33.3% | 33.3% |",
        "| fast_1.5 vs compile | 33.3% | 0.0% |",
        "| attempts to first correct | 1.00 | 2.00 |",
        "| tokens per problem | 1,200 | 2,000 |",  # 3 x 1200 / 3; 5 x 1200 / 3
        "| $ per problem | $0.0100 | $0.0167 |",
        "| harness s per attempt | 1.33 | 1.50 |",  # (2+1+1)/3; (0.5+2+3+1+1)/5
        # by category: mode, category, runs, correctness, compile, eager geo/median/fast_1,
        # compile geo/median/fast_1
        "| offline | matmul | 1 | 0.0% | 0.0% | — | — | 0.0% | — | — | 0.0% |",
        "| pragma | activation | 1 | 100.0% | 100.0% | 2.00x | 2.00x | 100.0% | 1.20x | 1.20x "
        "| 100.0% |",
        "| pragma | normalization | 1 | 100.0% | 100.0% | 0.50x | 0.50x | 0.0% | 0.30x | 0.30x "
        "| 0.0% |",
        # per problem: problem, category, mode, status, attempts, best vs eager / compile,
        # first correct, reason, the best attempt's bottleneck
        f"| {MATMUL} | matmul | offline | failed (unsupported) | 0 | — | — | — | {UNSUPPORTED} "
        "| - |",
        f"| {NORM} | normalization | offline | correct | 2 | 1.10x | — | 1 | budget spent | - |",
        f"| {MATMUL} | matmul | pragma | failed (error) | 0 | — | — | — | RuntimeError: CUDA out "
        "of memory &lt;b&gt;boom&lt;/b&gt; & more | - |",  # no raw HTML in the markdown either
        f"| {RELU} | activation | pragma | correct | 3 | 2.00x | 1.20x | 2 | budget spent "
        "| memory_bound |",  # the best attempt's (3), not attempt 2's launch_tail
        "| target | gpu |",
        "| 2023-11-14 22:13:20 | 6 | 0 | 100.0 | 1 | 25.0 | 25.0% |",
    ]
    for line in expected:
        assert line in text, line
    assert "data:image" not in text and "](" not in text  # no figures, no links


def test_the_json_round_trips_with_every_metric_group(bench):
    files = write_report(bench)
    loaded = BenchReport.model_validate_json(files.json.read_text())
    assert loaded == files.report == build_report(bench)
    data = json.loads(files.json.read_text())
    assert set(data["metrics"]) == {"all", "mode", "category"}
    assert set(data["metrics"]["mode"]) == {"offline", "pragma"}
    assert len(data["metrics"]["category"]) == 6 and len(data["problems"]) == 6
    assert [p.problem for p in loaded.problems][::2] == [MATMUL, RELU, NORM]  # 1, 19, 40
    store = BenchStore(bench / "bench.sqlite")
    direct = grouped(store.runs(), store.attempts(), CATEGORIES)
    store.close()
    assert loaded.metrics == direct
    (errored,) = [p for p in loaded.problems if p.status == "error"]
    assert errored.reason == ERROR and not errored.correct and errored.files == {}


def test_no_compile_baseline_no_compile_columns(tmp_path):
    bench = make_bench(tmp_path)
    store = BenchStore(bench / "bench.sqlite")
    store.start({"baselines": ["eager"]}, ())
    for run_ in store.runs():
        store.put_run(run_.model_copy(update={"compile_ms": None, "speedup_compile": None}), [
            a.model_copy(update={"compile_ms": None, "speedup_compile": None})
            for a in store.attempts() if (a.problem, a.mode) == (run_.problem, run_.mode)
        ])  # fmt: skip
    store.close()
    files = write_report(bench)
    assert files.report.baselines == ["eager"]
    assert "vs compile" not in files.markdown.read_text()
    assert len(parse(files.html).images) == 3


def test_a_missing_matplotlib_names_the_extra_before_writing(bench, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PragmaError, match=r"pip install 'pragma-kernels\[report\]'"):
        write_report(bench)
    assert not (bench / "report.html").exists() and not (bench / "report.md").exists()
    assert build_report(bench).modes == ["offline", "pragma"]  # the summary needs none


def test_the_report_modules_do_not_import_matplotlib():
    code = (
        "import sys, pragma_kernels.bench.report, pragma_kernels.bench.export; "
        "assert 'matplotlib' not in sys.modules"
    )
    src = str(Path(figures.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": src}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_a_folder_without_a_store_is_a_clear_error(tmp_path):
    with pytest.raises(PragmaError, match="no bench.sqlite"):
        write_report(tmp_path)
    assert not (tmp_path / "bench.sqlite").exists()


def test_best_so_far_follows_the_lowest_time_like_the_loop():
    rows = [
        attempt("p", "m", 1, False),
        attempt("p", "m", 2, True, 2.0, 1.5),
        attempt("p", "m", 3, True, 3.0, 1.9),  # a higher speedup, timed slower: not best
        attempt("p", "m", 4, True, 1.0, 3.0),
    ]
    assert figures.best_so_far(rows) == [None, 1.5, 1.5, 3.0]


# -- the KernelBench export ---------------------------------------------------------------
def test_export_writes_kernelbench_names_per_mode(bench, tmp_path):
    out = tmp_path / "kb"
    (out / "pragma").mkdir(parents=True)
    (out / "pragma" / kernel_name(1, 77)).write_text("stale")
    result = export_kernelbench(bench, out)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*_kernel.py"))
    assert names == [
        "offline/level_1_problem_19_sample_0_kernel.py",
        "offline/level_1_problem_40_sample_0_kernel.py",
        "pragma/level_1_problem_19_sample_0_kernel.py",
        "pragma/level_1_problem_40_sample_0_kernel.py",
    ]
    assert sorted(result.written) == sorted(out / n for n in names)
    kernel = out / "pragma" / "level_1_problem_19_sample_0_kernel.py"
    assert kernel.read_text() == (bench / "runs" / f"{RELU}-pragma" / "best.py").read_text()
    assert sorted((p, m) for p, m, _ in result.skipped) == [(MATMUL, "offline"), (MATMUL, "pragma")]
    readme = (out / "README.md").read_text()
    assert "scripts/eval_from_generations.py" in readme and "backend=triton" in readme
    assert "run_name=pragma" in readme and "level_{level}_problem_{problem_id}_sample_0" in readme


def test_export_of_one_mode(bench, tmp_path):
    result = export_kernelbench(bench, tmp_path / "kb", mode="offline")
    assert {p.parent.name for p in result.written} == {"offline"}
    with pytest.raises(PragmaError, match="no runs in mode 'single'"):
        export_kernelbench(bench, tmp_path / "kb", mode="single")


def test_kernelbench_ids_and_levels():
    assert problem_id_of("19_ReLU") == 19 and problem_id_of("softsign") is None
    assert level_of("KernelBench/level2/3_x.py") == 2
    assert level_of("examples/problems/softsign.py") == 1
    assert kernel_name(2, 3) == "level_2_problem_3_sample_0_kernel.py"
