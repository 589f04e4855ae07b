"""The `pragma` command: a thin layer over problems, evaluate and doctor.

Exit codes scripts can rely on (the README's table):
  0  success (verified / timed / listed / optimised)
  1  the candidate failed verification (the verdict says why); optimize: no correct kernel
  2  bad input: a missing or malformed problem or solution, an unknown option value, a
     reference that fails (problem_error), a bad file in `pragma problems`, an LLM config
     or extra missing; click's usage errors are 2 too
  3  the tool itself failed (worker_error, or an unexpected exception) -- please report
  4  optimize --mode offline: no template family fits the problem (nothing was run)
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from pragma_kernels.errors import PragmaError, ProblemError
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.verdict import Verdict, VerdictKind

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_UNSUPPORTED = 0, 1, 2, 3, 4

app = typer.Typer(
    help="Make PyTorch operators fast: verified C++ (CPU) and Triton (GPU) kernels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ProblemArg = Annotated[Path, typer.Argument(help="KernelBench-format problem file (.py)")]
SizeOpt = Annotated[
    str | None,
    typer.Option(help="Problem size from the file's SIZES (e.g. cpu, gpu); default: the target's"),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(help="CPU threads for reference and candidate (default: all available cores)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]
RepliesOpt = Annotated[
    str | None,
    typer.Option(
        "--replies-label",
        help="Who writes the replies, recorded in run.json: model (default), scripted or "
        "hand-answered (a person answering through a bridge endpoint)",
    ),
]
NcuOpt = Annotated[
    bool,
    typer.Option(
        help="GPU: add Nsight Compute's counters where it can read them "
        "(--no-ncu: the counter-free fallback only, faster)"
    ),
]


def _bad_input(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")  # brackets shown, not markup
    return typer.Exit(EXIT_BAD_INPUT)


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise _bad_input(f"{path}: no such {what} file. Fix: give the path of a .py file")


def _exit_code(verdict: Verdict) -> int:
    if verdict.ok:
        return EXIT_OK
    if verdict.kind == VerdictKind.PROBLEM_ERROR:
        return EXIT_BAD_INPUT
    if verdict.kind == VerdictKind.WORKER_ERROR:
        return EXIT_INTERNAL
    return EXIT_FAILED


def _print_verdict(verdict: Verdict) -> None:
    style = "green" if verdict.ok else "red"
    console.print(f"[bold {style}]{verdict.kind.value}[/bold {style}]  {escape(verdict.summary())}")
    if verdict.dtype or verdict.dtype_cast:
        console.print(escape(f"  dtype: {verdict.dtype_text()}"))
    for warning in verdict.warnings:
        console.print(f"  [yellow]warning:[/yellow] {escape(warning)}")
    if verdict.trials:
        table = Table("trial", "seed", "ok", "max abs err", "max rel err", "mismatch")
        for number, trial in enumerate(verdict.trials, 1):
            table.add_row(
                str(number),
                str(trial.seed),
                "yes" if trial.ok else "no",
                _fmt(trial.max_abs_err),
                _fmt(trial.max_rel_err),
                _fmt(trial.mismatch_fraction),
            )
        console.print(table)
    if not verdict.ok:
        for label, text in (
            ("stage", verdict.stage),
            ("where", verdict.location),
            ("cause", verdict.cause),
            ("remedy", verdict.remedy),
        ):
            if text:
                console.print(f"  [bold]{label}:[/bold] {escape(text)}")  # e.g. `[a, b]`
        if verdict.stderr_tail and verdict.kind in (
            VerdictKind.CRASH,
            VerdictKind.WORKER_ERROR,
            VerdictKind.BUILD,
            VerdictKind.TIMEOUT,
        ):
            console.print("  [bold]output (tail):[/bold]")
            console.print(verdict.stderr_tail[-1500:], markup=False, highlight=False)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


TargetOpt = Annotated[
    str | None, typer.Option(help="cpu or gpu (default: gpu if one is present, else cpu)")
]
DtypeOpt = Annotated[
    str,
    typer.Option(
        help="auto: the dtypes the problem's get_inputs() and Model make, nothing cast "
        "(default tolerances follow the reference output's dtype); float32, float16 or "
        "bfloat16: cast floating inputs and weights to it (KernelBench's precision option)"
    ),
]
AllowOpt = Annotated[
    str | None,
    typer.Option(
        help="Relax the backend's static policy: comma-separated RULE (a warning) or "
        "RULE=off|warn|error, or all (default: $PRAGMA_ALLOW; rules: README, Static policy)"
    ),
]


def _allow(text: str | None) -> tuple[str, ...] | None:
    from pragma_kernels.static_policy import parse_allow

    try:
        return None if text is None else parse_allow(text)
    except ValueError as exc:
        raise _bad_input(str(exc)) from None


def _target(kind: str | None, threads: int | None):
    from pragma_kernels.targets import Target

    try:
        return Target.resolve(kind, threads)
    except ValueError as exc:
        raise _bad_input(str(exc)) from None


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise _bad_input(f"unknown {what} {value!r}. Fix: use one of {', '.join(choices)}")


def _dtype(value: str) -> str | None:
    """The cast --dtype asks for; None for auto (the problem's own dtypes)."""
    from pragma_kernels.evaluation.schema import DTYPES

    _check_choice(value, ("auto", *DTYPES), "dtype")
    return None if value == "auto" else value


@app.command()
def verify(
    problem: ProblemArg,
    solution: Annotated[Path, typer.Argument(help="Candidate file defining ModelNew")],
    target: TargetOpt = None,
    dtype: DtypeOpt = "auto",
    trials: Annotated[int, typer.Option(min=1, help="Fresh random input sets")] = 3,
    atol: Annotated[
        float | None, typer.Option(help="Absolute tolerance (default per dtype compared)")
    ] = None,
    rtol: Annotated[
        float | None, typer.Option(help="Relative tolerance (default per dtype compared)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Fix the seeds (default: fresh)")] = None,
    size: SizeOpt = None,
    threads: ThreadsOpt = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock limit, seconds")] = 300.0,
    memory_mb: Annotated[int | None, typer.Option(help="Memory limit (default 75% of RAM)")] = None,
    allow: AllowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the candidate in an isolated worker and compare it with the reference.

    Example: pragma verify examples/problems/rms_norm.py examples/solutions/cpu/rms_norm.py
    """
    from pragma_kernels.evaluation.jobs import VerifyOptions
    from pragma_kernels.evaluation.jobs import verify as run_verify

    _require_file(problem, "problem")
    _require_file(solution, "solution")
    options = VerifyOptions(
        trials=trials,
        atol=atol,
        rtol=rtol,
        dtype=_dtype(dtype),
        seed=seed,
        size=size,
        limits=Limits(timeout_s=timeout, memory_mb=memory_mb),
        allow=_allow(allow),
    )
    verdict = run_verify(problem, solution, _target(target, threads), options)
    if as_json:
        print(verdict.model_dump_json(indent=2))
    else:
        _print_verdict(verdict)
    raise typer.Exit(_exit_code(verdict))


@app.command("time")
def time_command(
    problem: ProblemArg,
    solution: Annotated[
        Path | None, typer.Argument(help="Candidate file (omit to time only the baselines)")
    ] = None,
    target: TargetOpt = None,
    dtype: DtypeOpt = "auto",
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            help="eager, compile, compile-max-autotune (repeatable; default: eager and compile)"
        ),
    ] = None,
    budget: Annotated[
        float | None, typer.Option(help="Seconds of samples per timed callable")
    ] = None,
    check: Annotated[bool, typer.Option(help="Verify the candidate before timing it")] = True,
    size: SizeOpt = None,
    threads: ThreadsOpt = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock limit, seconds")] = 900.0,
    allow: AllowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Time the candidate against PyTorch eager and torch.compile with one protocol.

    Example: pragma time examples/problems/softmax.py examples/solutions/gpu/softmax.py
    """
    from pragma_kernels.evaluation.jobs import (
        BASELINES,
        DEFAULT_BASELINES,
        TimeOptions,
        time_problem,
    )

    _require_file(problem, "problem")
    if solution is not None:
        _require_file(solution, "solution")
    cast = _dtype(dtype)
    baselines = tuple(baseline or DEFAULT_BASELINES)
    for name in baselines:
        _check_choice(name, BASELINES, "baseline")
    resolved = _target(target, threads)
    overrides = _allow(allow)
    correctness = None
    if solution is not None and check:
        correctness = _verify_before_timing(
            problem, solution, resolved, size, cast, as_json, overrides
        )
    options = TimeOptions(
        baselines=baselines,
        budget_s=budget,
        dtype=cast,
        size=size,
        limits=Limits(timeout_s=timeout),
        allow=overrides,
    )
    report = time_problem(problem, solution, resolved, options)
    report.correctness = correctness
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        raise typer.Exit(_exit_code(report.verdict))
    if not report.verdict.ok:
        _print_verdict(report.verdict)
        raise typer.Exit(_exit_code(report.verdict))
    _print_timings(report)
    if correctness is not None:
        console.print(f"correctness: {escape(correctness.summary())}")


def _verify_before_timing(problem, solution, target, size, dtype, as_json, allow=None) -> Verdict:
    """Speedups of a wrong candidate mean nothing: verify first, stop with its verdict."""
    from pragma_kernels.evaluation.jobs import VerifyOptions
    from pragma_kernels.evaluation.jobs import verify as run_verify

    options = VerifyOptions(size=size, dtype=dtype, allow=allow)
    verdict = run_verify(problem, solution, target, options)
    if not verdict.ok:
        if as_json:
            print(verdict.model_dump_json(indent=2))
        else:
            console.print("[red]not timed: the candidate failed verification[/red]")
            _print_verdict(verdict)
        raise typer.Exit(_exit_code(verdict))
    return verdict


def _print_timings(report) -> None:
    table = Table(
        title=escape(
            f"{report.problem} (size {report.size}, {report.verdict.dtype_text()}, "
            f"{report.target.describe()})"
        )
    )
    columns = ("", "median ms", "IQR ms", "CV", "samples", "setup s", "candidate speedup")
    for column in columns:
        table.add_column(column, justify="right" if column else "left")
    for label, timing in report.timings.items():
        speedup = None if label == "candidate" else report.speedup(label)
        table.add_row(
            escape(label),
            f"{timing.median_ms:.4g}",
            f"{timing.iqr_ms:.3g}",
            f"{timing.cv:.1%}",
            f"{timing.samples}x{timing.calls_per_sample}",
            f"{timing.setup_s:.1f}" if timing.setup_s else "",
            f"{speedup:.2f}x" if speedup else "",
        )
    console.print(table)
    console.print(f"method: {escape(report.method)}")
    for label, timing in report.timings.items():
        if "WARNING" in timing.method:
            warning = escape(timing.method.split("; WARNING: ")[-1])
            console.print(f"[yellow]{escape(label)}:[/yellow] {warning}")


@app.command()
def profile(
    problem: ProblemArg,
    solution: Annotated[Path, typer.Argument(help="Candidate file defining ModelNew")],
    target: TargetOpt = None,
    size: SizeOpt = None,
    threads: ThreadsOpt = None,
    dtype: DtypeOpt = "auto",
    check: Annotated[bool, typer.Option(help="Verify the candidate before profiling it")] = True,
    metrics: Annotated[
        str | None, typer.Option(help="Extra metrics by name, comma-separated")
    ] = None,
    diagnose: Annotated[
        bool, typer.Option(help="Classify the bottleneck: evidence, hints, metrics to ask next")
    ] = False,
    ncu: NcuOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Profile a verified candidate: every metric with its unit, source and meaning.

    Example: pragma profile examples/problems/rms_norm.py examples/solutions/cpu/rms_norm.py
    """
    from pragma_kernels.evaluation.jobs import profile_candidate
    from pragma_kernels.profilers.requests import validate

    _require_file(problem, "problem")
    _require_file(solution, "solution")
    resolved = _target(target, threads)
    if not resolved.backend.can_profile:
        raise _bad_input(
            f"{resolved.backend.name} cannot profile: {resolved.backend.why_no_profile}"
        )
    cast = _dtype(dtype)
    requested = [m.strip() for m in (metrics or "").split(",") if m.strip()]
    try:
        validate(requested, resolved.backend.name)
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None
    if check:
        _verify_before_timing(problem, solution, resolved, size, cast, as_json)
    verdict, result = profile_candidate(
        problem, solution, resolved, size, use_ncu=ncu, dtype=cast, requested=requested
    )
    if result is None:
        _print_verdict(verdict)
        raise typer.Exit(_exit_code(verdict))
    diagnosis, asked = None, []
    if diagnose:
        from pragma_kernels.diagnosis.passes import diagnose_with_second_pass

        def again(extra: list[str]):
            return profile_candidate(
                problem,
                solution,
                resolved,
                size,
                use_ncu=ncu,
                dtype=cast,
                requested=list(dict.fromkeys([*requested, *extra])),
            )[1]

        source = solution.read_text()
        result, diagnosis, asked = diagnose_with_second_pass(
            result, again, lambda p: resolved.backend.diagnose(p, source)
        )
    if as_json:
        if diagnosis is None:
            print(result.model_dump_json(indent=2))
        else:
            payload = {"profile": result.model_dump(), "diagnosis": diagnosis.model_dump()}
            print(json.dumps(payload, indent=2))
        raise typer.Exit(EXIT_OK)
    _print_profile(result)
    console.print(escape(f"dtype: {verdict.dtype_text()}"))
    if diagnosis is not None:
        if asked:
            console.print(escape(f"second profile for the diagnosis, with: {', '.join(asked)}"))
        console.print(Panel(Text(diagnosis.render_text()), title="diagnosis"))


def _print_profile(result) -> None:
    table = Table("kernel", "metric", "value", "unit", "source", title=f"profile ({result.target})")
    rows = [("(whole)", metric) for metric in result.metrics]
    rows += [(f"{k.name} ({k.time_share:.0%})", m) for k in result.kernels for m in k.metrics]
    for where, metric in rows:  # names and sources are data: brackets shown, not markup
        cells = (where, metric.name, _value(metric.value), metric.unit, metric.source)
        table.add_row(*map(escape, cells))
    console.print(table)
    for finding in result.findings:
        console.print(finding.render(), markup=False)
    for item in result.unavailable:
        console.print(f"[yellow]not collected:[/yellow] {escape(f'{item.what}: {item.why}')}")
    if result.overhead_s:
        spent = ", ".join(
            f"{stage} {s:.1f} s" for stage, s in result.overhead_s.items() if s >= 0.05
        )
        console.print(f"profiling took {sum(result.overhead_s.values()):.1f} s: {spent}")


def _value(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


@app.command()
def problems(
    target: Annotated[Path, typer.Argument(help="A problem file or a directory of them")],
    size: SizeOpt = None,
    categories: Annotated[
        Path | None,
        typer.Option(help='TOML file of `name = "category"` overrides (for files you cannot edit)'),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            help="Construct each Model and run forward once on its smallest inputs, in a "
            "child process with time and memory limits (--no-check: only import the files)"
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """List KernelBench-format problems with their categories, checking that each one runs.

    Exits 2 when a file is bad (cannot be imported, or its Model fails to construct or run).
    """
    from pragma_kernels.problem_check import check_problems
    from pragma_kernels.problems import load_category_overrides, load_problems

    if not target.exists():
        raise _bad_input(f"{target}: no such file or directory")
    try:
        overrides = load_category_overrides(categories) if categories else None
        found, errors = load_problems(target, size, overrides)
    except ProblemError as exc:
        raise _bad_input(str(exc)) from None
    checks = check_problems([p.path for p in found]) if check else [None] * len(found)
    if as_json:
        print(json.dumps(_problems_json(found, checks, errors, check), indent=2))
    else:
        _print_problems(target, found, checks, errors, check)
    bad = errors or any(c is not None and c.status == "bad" for c in checks)
    raise typer.Exit(EXIT_BAD_INPUT if bad else EXIT_OK)


def _problems_json(found, checks, errors, checked: bool) -> dict:
    from dataclasses import asdict

    return {
        "problems": [
            {
                "name": p.name,
                "path": str(p.path),
                "category": p.category,
                "category_from": p.category_from,
                "sizes": list(p.sizes),
                "check": asdict(c) if c is not None else None,
            }
            for p, c in zip(found, checks, strict=True)
        ],
        "errors": [str(e) for e in errors],
        "checked": checked,
    }


def _print_problems(target, found, checks, errors, checked: bool) -> None:
    table = Table(
        "name",
        "category",
        "from",
        "sizes",
        "check",
        title=escape(f"{len(found)} problems in {target}"),
    )
    colours = {"ok": "green", "bad": "red", "not run": "yellow"}
    for p, c in zip(found, checks, strict=True):
        status = f"[{colours[c.status]}]{escape(c.label())}[/]" if c else "-"
        sizes = ", ".join(("default", *p.sizes))
        table.add_row(escape(p.name), p.category, p.category_from, escape(sizes), status)
    console.print(table)
    counts: dict[str, int] = {}
    for p in found:
        counts[p.category] = counts.get(p.category, 0) + 1
    console.print("  ".join(f"{c}: {n}" for c, n in sorted(counts.items())))
    if not checked:
        console.print("not checked (--no-check): the files were imported, no Model was run")
    for p, c in zip(found, checks, strict=True):
        if c is not None and c.status == "not run":
            note = f"{p.name}: {c.detail}" + (f" ({c.fix})" if c.fix else "")
            console.print(f"[yellow]not run:[/yellow] {escape(note)}")
    for error in errors:
        err_console.print(f"[red]bad problem:[/red] {escape(str(error))}")
    for p, c in zip(found, checks, strict=True):
        if c is not None and c.status == "bad":
            fix = f". Fix: {c.fix}" if c.fix else ""
            err_console.print(f"[red]bad problem:[/red] {escape(f'{p.path}: {c.detail}{fix}')}")


knowledge_app = typer.Typer(help="The profiling-knowledge compendium.", no_args_is_help=True)
app.add_typer(knowledge_app, name="knowledge")


@knowledge_app.command("build")
def knowledge_build(
    profiler: Annotated[str, typer.Option(help="ncu, perf, cachegrind, static_cpu, gpu_fallback")],
    source: Annotated[
        list[Path],
        typer.Option(
            help="Documentation: files, or tool:perf-list / tool:ncu-query / "
            "tool:cachegrind-help / tool:perf-stat-man to run the profiler (repeatable)"
        ),
    ],
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible endpoint")],
    model: Annotated[str, typer.Option(help="Model name at that endpoint")],
    out: Annotated[Path, typer.Option(help="Where to write the rebuilt compendium (JSON)")],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            help="Metrics to (re)build (repeatable; default: the profiler's current entries)"
        ),
    ] = None,
    api_key_env: Annotated[str, typer.Option(help="Env var holding the API key")] = (
        "OPENAI_API_KEY"
    ),
) -> None:
    """Rebuild compendium entries: an LLM summarises each doc chunk, then merges per profiler.

    Example: pragma knowledge build --profiler perf --source perf-list.txt
    --base-url http://127.0.0.1:8000/v1 --model my-model --out compendium.json
    """
    from pragma_kernels.knowledge import load_compendium
    from pragma_kernels.knowledge.build import (
        build_entries,
        read_sources,
        updated_compendium,
        write_compendium,
    )
    from pragma_kernels.knowledge.compendium import PROFILERS
    from pragma_kernels.llm import LLM, LLMSettings

    _check_choice(profiler, PROFILERS, "profiler")
    base = load_compendium()
    names = metric or base.names(profiler)
    try:
        chunks = read_sources(source, profiler)
        llm = LLM(LLMSettings(model=model, base_url=base_url, api_key_env=api_key_env))
        entries = build_entries(chunks, names, llm)
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None
    write_compendium(updated_compendium(base, entries), out)
    console.print(
        escape(f"{len(entries)} entries for {profiler} from {len(chunks)} chunks -> {out}")
    )


@app.command()
def optimize(
    problem: ProblemArg,
    target: TargetOpt = None,
    mode: Annotated[
        str,
        typer.Option(
            help="pragma (full), no-profile, single (one LLM, no Conductor), or offline "
            "(no LLM: templates steered by the rule diagnosis)"
        ),
    ] = "pragma",
    model: Annotated[str | None, typer.Option(help="LLM model (or PRAGMA_LLM_MODEL)")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. https://api.deepseek.com")
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="openai (any compatible endpoint, the default) or anthropic")
    ] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Env var holding the API key (default per provider)")
    ] = None,
    conductor_model: Annotated[
        str | None, typer.Option(help="A different model for the Conductor")
    ] = None,
    replies: RepliesOpt = None,
    attempts: Annotated[int, typer.Option(help="Attempts at most")] = 15,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Where attempts are kept (default: a new runs/PROBLEM-TARGET-MODE)"),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the earlier run (--run-dir, or the latest default)")
    ] = False,
    dtype: DtypeOpt = "auto",
    size: SizeOpt = None,
    target_speedup: Annotated[
        float | None, typer.Option(help="Stop once the best reaches this speedup")
    ] = None,
    patience: Annotated[
        int | None, typer.Option(help="Stop after this many attempts without a new best")
    ] = None,
    max_usd: Annotated[float | None, typer.Option(help="LLM cost budget in dollars")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="LLM token budget")] = None,
    ncu: NcuOpt = True,
    compile_baseline: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="Also time torch.compile of the reference (once per problem and machine, "
            "cached), so the result states its speedup against both eager and compile",
        ),
    ] = True,
    llm_timeout: Annotated[
        float | None,
        typer.Option(min=1, help="Seconds to wait for one LLM reply (default 120)"),
    ] = None,
    llm_retries: Annotated[
        int | None,
        typer.Option(min=0, help="Retries of a failed or silent LLM call (default 1)"),
    ] = None,
    llm_config: Annotated[
        Path | None,
        typer.Option(
            help=escape(  # typer renders help as rich markup: "[llm]" would vanish
                "TOML with [llm], [conductor] and [prices] (default: PRAGMA_LLM_CONFIG or "
                "~/.config/pragma-kernels/llm.toml); flags and PRAGMA_LLM_* override it"
            )
        ),
    ] = None,
) -> None:
    """Run the agent loop: Coder, Verifier, Profiler, Conductor; keep the best kernel.

    Example: pragma optimize examples/problems/softmax.py --model deepseek-chat
    --base-url https://api.deepseek.com --api-key-env DEEPSEEK_API_KEY
    """
    from pragma_kernels.api import optimize as run_optimize
    from pragma_kernels.live import LiveView
    from pragma_kernels.llm.settings import llm_settings
    from pragma_kernels.loop import MODES

    _require_file(problem, "problem")
    _check_choice(mode, MODES, "mode")
    cast = _dtype(dtype)
    if provider is not None:
        _check_choice(provider, ("openai", "anthropic"), "provider")
    flags = {"provider": provider, "model": model, "base_url": base_url}
    flags |= {"api_key_env": api_key_env, "timeout_s": llm_timeout, "max_retries": llm_retries}
    flags["replies"] = replies
    llm = conductor = None
    if mode != "offline":  # offline uses no model: a broken LLM config must not stop it
        try:
            llm, conductor = llm_settings(flags, {"model": conductor_model}, llm_config)
        except PragmaError as exc:
            raise _bad_input(str(exc)) from None
    live = LiveView(console, problem.stem)  # the loop's events: stage status, attempt lines
    try:
        result = run_optimize(
            problem,
            target=target,
            mode=mode,
            llm=llm,
            conductor=conductor,
            attempts=attempts,
            run_dir=run_dir,
            dtype=cast,
            size=size,
            target_speedup=target_speedup,
            patience=patience,
            max_tokens=max_tokens,
            max_usd=max_usd,
            use_ncu=ncu,
            resume=resume,
            on_event=live,
            also_time=("compile",) if compile_baseline else (),
        )
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None
    finally:
        live.stop()  # a run that raised leaves no spinner behind
    if result.unsupported:
        console.print(f"{result.stopped}. Nothing was run or written.", markup=False)
        raise typer.Exit(EXIT_UNSUPPORTED)
    console.print(live.table)
    usage = result.usage
    llm_line = (
        f" LLM: {usage.input_tokens} in / {usage.output_tokens} out tokens, "
        f"${usage.cost_usd:.4f}, {usage.cached_calls} cached replies."
        if mode != "offline"
        else ""
    )
    console.print(escape(f"{result.stopped}.{llm_line}"))  # an LLM error may say '[llm]'
    if result.best is None:
        console.print(escape(f"No correct kernel. Attempts and trace: {result.run_dir}"))
        raise typer.Exit(EXIT_FAILED)
    if mode == "offline":
        console.print("[yellow]offline mode: kernels from templates, no LLM was used[/yellow]")
    from pragma_kernels.agents.standing import speedup_words, why_lines

    best = result.best
    if not result.faster_found:  # never present a kernel slower than the baseline as the result
        console.print(
            escape(
                f"No faster kernel found: the best correct one (attempt {best.number}: "
                f"{speedup_words(best)}) is not faster than {result.baseline} beyond the "
                f"noise; keep using the reference. Kept for reading: "
                f"{result.run_dir / 'best.py'} (summary: {result.run_dir / 'summary.md'})"
            )
        )
    else:
        console.print(
            escape(
                f"Best: attempt {best.number}, {speedup_words(best)} in "
                f"{best.verdict.dtype_text()} -> "
                f"{result.run_dir / 'best.py'} (summary: {result.run_dir / 'summary.md'})"
            )
        )
    for line in why_lines(best)[:1]:  # the bottleneck; summary.md has the rest
        console.print(escape(line))


@app.command()
def bench(
    suite: Annotated[
        list[Path],
        typer.Argument(
            help="Problem directories (a KernelBench checkout's KernelBench/level1 as it is), "
            "list files (one path per line) or problem files"
        ),
    ],
    target: TargetOpt = None,
    modes: Annotated[
        str, typer.Option(help="Comma-separated: pragma, no-profile, single, offline")
    ] = "offline",
    attempts: Annotated[int, typer.Option(help="Attempts at most per problem and mode")] = 15,
    subset: Annotated[
        str | None, typer.Option(help="The first N problems, or comma-separated names/globs")
    ] = None,
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated categories (matmul, conv, ...)")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Conversations at once (LLM calls overlap); default: one per device",
        ),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(help="GPUs to evaluate on, one evaluation each at a time: N or all (default)"),
    ] = None,
    devices: Annotated[
        str | None,
        typer.Option(help="The GPUs to evaluate on, by CUDA_VISIBLE_DEVICES id: 0,1"),
    ] = None,
    executor: Annotated[str, typer.Option(help="local (threads here) or ray")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (auto: the running one)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The bench directory (default: a new benches/SUITE-TARGET)"),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the bench in --out (or the latest default one)")
    ] = False,
    baselines: Annotated[
        str, typer.Option(help="Baselines timed with every candidate: eager[,compile]")
    ] = "eager,compile",
    dtype: DtypeOpt = "auto",
    size: SizeOpt = None,
    ncu: NcuOpt = True,
    model: Annotated[str | None, typer.Option(help="LLM model (or PRAGMA_LLM_MODEL)")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint")] = None,
    provider: Annotated[
        str | None, typer.Option(help="openai (any compatible endpoint) or anthropic")
    ] = None,
    max_usd: Annotated[float | None, typer.Option(help="LLM budget in dollars per run")] = None,
    replies: RepliesOpt = None,
) -> None:
    """Run the loop over a suite in several modes into one resumable SQLite store.

    Example: pragma bench KernelBench/level1 --target gpu --modes offline --attempts 3
    """
    from pragma_kernels.api import choose_run_dir
    from pragma_kernels.bench.pairs import BenchOptions
    from pragma_kernels.bench.runner import STORE, run_bench
    from pragma_kernels.bench.store import SettingsMismatch
    from pragma_kernels.bench.suite import collect
    from pragma_kernels.llm.settings import llm_settings
    from pragma_kernels.loop import MODES

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    for mode in chosen:
        _check_choice(mode, MODES, "mode")
    _check_choice(executor, ("local", "ray"), "executor")
    timed = tuple(b.strip() for b in baselines.split(",") if b.strip())
    for name in timed:
        _check_choice(name, ("eager", "compile", "compile-max-autotune"), "baseline")
    if "eager" not in timed:
        raise _bad_input("--baselines must include eager (the speedup's reference)")
    llm = conductor = None
    if any(m != "offline" for m in chosen):
        flags = {"provider": provider, "model": model, "base_url": base_url, "replies": replies}
        try:
            llm, conductor = llm_settings(flags, {}, None)
        except PragmaError as exc:
            raise _bad_input(str(exc)) from None
    try:
        problems = collect(suite, subset, categories)
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None
    resolved = _target(target, None)
    pool = _devices(gpus, devices, resolved, executor)
    default = Path("benches") / f"{suite[0].resolve().name}-{resolved.name}"
    try:
        folder = choose_run_dir(out, default, resume, marker=STORE)
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None
    options = BenchOptions(
        target=target,
        attempts=attempts,
        baselines=timed,
        dtype=_dtype(dtype),
        size=size,
        use_ncu=ncu,
        llm=llm,
        conductor=conductor,
        max_usd=max_usd,
    )
    runner = _executor(executor, address, jobs, pool)
    console.print(escape(f"bench: {len(problems)} problems x {', '.join(chosen)} -> {folder}"))

    def said(result) -> None:
        run = result.run
        speed = f"{run.speedup_eager:.2f}x eager" if run.speedup_eager else "no correct kernel"
        if run.speedup_compile:
            speed += f", {run.speedup_compile:.2f}x compile"
        why = f" ({run.stopped or run.error})"[:160] if not run.correct else ""
        console.print(escape(f"  {run.problem} [{run.mode}] {run.status}: {speed}{why}"))

    try:
        session = run_bench(problems, chosen, folder, options, runner, on_result=said)
    except SettingsMismatch as exc:
        raise _bad_input(f"{exc}. Fix: choose another --out, or the same settings") from None
    busy = f"the device evaluating {session.device_share:.0%} of it"
    if session.devices > 1:
        each = ", ".join(f"GPU {d} {s:.0f} s" for d, s in session.device_seconds.items())
        busy = (
            f"{session.devices} devices evaluating {session.device_share:.0%} of it "
            f"(device-seconds / devices x wall; {each})"
        )
    console.print(
        escape(
            f"{session.pairs_run} runs done, {session.pairs_skipped} already finished; "
            f"{session.wall_s:.0f} s, {busy}. Store: {folder / STORE}; report: pragma report "
            f"{folder}"
        )
    )


@app.command()
def report(
    bench_dir: Annotated[Path, typer.Argument(help="A bench directory (pragma bench --out)")],
    out: Annotated[
        Path | None, typer.Option(help="The HTML file (default: BENCH/report.html)")
    ] = None,
    as_json: JsonOpt = False,
    export_kernelbench: Annotated[
        Path | None,
        typer.Option(help="Also write the best kernels in KernelBench's layout into this folder"),
    ] = None,
) -> None:
    """Write a bench's report: HTML with figures, a markdown summary and JSON."""
    from pragma_kernels.bench.export import export_kernelbench as export
    from pragma_kernels.bench.report import write_report

    try:
        files = write_report(bench_dir, out)
        exported = export(bench_dir, export_kernelbench) if export_kernelbench else None
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None
    if as_json:
        print(files.json.read_text())
        return
    console.print(escape(files.markdown.read_text()), highlight=False)
    console.print(escape(f"HTML: {files.html}; markdown: {files.markdown}; JSON: {files.json}"))
    if exported is not None:
        console.print(
            escape(f"KernelBench layout: {len(exported.written)} kernels in {exported.out_dir}")
        )


def _devices(gpus: str | None, devices: str | None, target, executor: str) -> list:
    """The local executor's devices (bench/lease.py choose_devices); Ray places its own."""
    from pragma_kernels.bench.lease import choose_devices, visible_gpus

    if executor != "local":
        if gpus is not None or devices is not None:
            raise _bad_input(
                "--gpus/--devices are for --executor local; Ray makes one evaluation actor per "
                "GPU of the cluster. Fix: drop them, or limit the GPUs in `ray start --num-gpus`"
            )
        return [None]
    on_gpu = target.device == "cuda"
    try:
        return choose_devices(gpus, devices, on_gpu, visible_gpus() if on_gpu else [])
    except ValueError as exc:
        raise _bad_input(str(exc)) from None


def _executor(kind: str, address: str | None, jobs: int | None, devices: list):
    from pragma_kernels.bench.executors import LocalExecutor

    if kind == "local":
        return LocalExecutor(jobs, devices=devices)
    try:
        from pragma_kernels.bench.ray_executor import RayExecutor
    except ImportError:
        raise _bad_input("the Ray executor is not in this version") from None
    try:
        return RayExecutor(address, jobs or 1)
    except PragmaError as exc:
        raise _bad_input(str(exc)) from None


@app.command()
def doctor(
    llm_ping: Annotated[
        bool,
        typer.Option(
            help="Also send the configured LLM a one-token request (10 s timeout, no "
            "retries) and report its latency or error"
        ),
    ] = False,
    llm_config: Annotated[
        Path | None,
        typer.Option(
            help="LLM config TOML to report on (default: PRAGMA_LLM_CONFIG or "
            "~/.config/pragma-kernels/llm.toml)"
        ),
    ] = None,
) -> None:
    """Show what works on this machine (compiler, SIMD, torch, GPU, ncu, perf, valgrind, LLM)."""
    from pragma_kernels.doctor import run_checks

    colours = {"ok": "green", "warn": "yellow", "missing": "red"}
    for group, checks in run_checks(llm_ping, llm_config).items():
        table = Table("check", "status", "detail", "what to do", title=group, title_justify="left")
        for check in checks:
            colour = colours[check.status]
            table.add_row(  # details and fixes hold brackets ('pragma-kernels[llm]'): escaped
                escape(check.name),
                f"[{colour}]{check.status}[/{colour}]",
                escape(check.detail),
                escape(check.fix),
            )
        console.print(table)


def main() -> None:
    """The `pragma` entry point. Our own errors are bad input (2); any other exception is the
    tool failing (3, after its traceback), not Python's default 1, which scripts read as "the
    candidate failed"."""
    try:
        app()
    except PragmaError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise SystemExit(EXIT_BAD_INPUT) from None
    except Exception:
        traceback.print_exc()
        err_console.print("[red]internal error:[/red] the tool failed (above); please report it")
        raise SystemExit(EXIT_INTERNAL) from None


if __name__ == "__main__":
    main()
