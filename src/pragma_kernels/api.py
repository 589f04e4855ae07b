"""The Python API: `optimize(problem, ...)` runs the loop and returns the best solution.

    from pragma_kernels import optimize
    from pragma_kernels.llm import LLMSettings
    result = optimize("examples/problems/softmax.py",
                      llm=LLMSettings(model="deepseek-chat", base_url="https://api.deepseek.com"))
    print(result.speedup, result.run_dir / "best.py")
    ModelNew = result.load()

    # or a model class and an inputs factory from your own code
    result = optimize(MyModel, inputs=make_inputs, init_inputs=[1024], mode="offline")

The CLI's `pragma optimize` is a thin layer over this.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.agents import prompts
from pragma_kernels.agents.offline_coder import OfflineCoder
from pragma_kernels.agents.records import AttemptRecord, RunDir, RunSettings, Usage
from pragma_kernels.compare import default_tolerance
from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluation import LocalEvaluator
from pragma_kernels.evaluation.evaluator import AttemptRunner
from pragma_kernels.evaluation.jobs import cached_baselines, resolve_dtype, run_attempt
from pragma_kernels.events import OnEvent, RunFinished, attempts_only, fan_out
from pragma_kernels.llm import LLM, Budget, LLMError, LLMSettings, ReplyCache
from pragma_kernels.llm.client import require_sdk
from pragma_kernels.llm.settings import llm_settings
from pragma_kernels.loop import LoopContext, LoopOptions, OptimizationLoop
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.problem_source import problem_source
from pragma_kernels.problems import describe_inputs, input_dtype, load_problem
from pragma_kernels.targets import Target
from pragma_kernels.verdict import dtype_text


@dataclass
class OptimizeResult:
    best: AttemptRecord | None
    attempts: list[AttemptRecord]
    stopped: str
    run_dir: Path
    usage: Usage = field(default_factory=Usage)
    unsupported: bool = False  # offline: no template family fits; nothing was run or written
    recognition: str = ""  # offline: the family and parameters matched, or why none fits
    summary: str = ""  # summary.md: the honest result in words
    baseline: str = "eager"

    @property
    def faster_found(self) -> bool:
        """Whether the best is faster than the baseline beyond the noise: only then is it a
        result; otherwise it is kept in the run directory to read (issue 18)."""
        from pragma_kernels.agents.standing import faster_than

        return self.best is not None and faster_than(self.best, self.baseline)

    @property
    def best_source(self) -> str | None:
        return self.best.code if self.best else None

    @property
    def speedup(self) -> float | None:
        return self.best.speedup if self.best else None

    def load(self) -> type:
        """The best solution's `ModelNew` class (imported from best.py)."""
        path = self.run_dir / "best.py"
        if self.best is None or not path.exists():
            raise PragmaError(f"{self.run_dir}: no correct solution was found ({self.stopped})")
        spec = importlib.util.spec_from_file_location("pragma_best", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.ModelNew


def backend_text(target: Target, cast: str | None, own: str = "") -> str:
    """The candidate rules for the Coder: the backend's template with this run's facts.
    `cast`: the dtype inputs and weights are cast to (None: none); `own`: the problem's
    own (problems.input_dtype), stated when nothing is cast."""
    backend = target.backend
    dtype = cast or own
    return prompts.backend_rules(
        backend.rules_template,
        dtype=dtype_text(dtype, cast is not None),
        tolerance=default_tolerance(dtype),
        **backend.rules_facts(target.threads),
    )


def optimize(
    problem: str | Path | type,
    *,
    inputs: Callable[[], Sequence] | None = None,
    init_inputs: Sequence = (),
    target: str | None = None,
    mode: str = "pragma",
    llm: LLMSettings | None = None,
    conductor: LLMSettings | None = None,
    attempts: int = 15,
    run_dir: str | Path | None = None,
    dtype: str | None = None,
    size: str | None = None,
    baseline: str = "eager",
    target_speedup: float | None = None,
    patience: int | None = None,
    max_tokens: int | None = None,
    max_usd: float | None = None,
    use_ncu: bool = True,
    resume: bool = False,
    on_attempt: Callable[[AttemptRecord], None] | None = None,
    on_event: OnEvent | None = None,
    also_time: Sequence[str] = (),
    lease: Callable[[], AbstractContextManager] = nullcontext,
    attempt_runner: AttemptRunner | None = None,
) -> OptimizeResult:
    """Run the agent loop on a KernelBench-format problem file, or on an `nn.Module` class
    with its `inputs` factory (and constructor arguments `init_inputs`), written into the
    run directory as a problem file. A new run gets a new directory; `resume=True`
    continues the earlier one (`run_dir`, or the latest default one) of the same problem,
    target, mode and dtype. `use_ncu=False` profiles without Nsight Compute. `dtype`:
    None (or "auto") keeps the problem's own dtypes; "float32", "float16" or "bfloat16"
    casts floating inputs and weights to it (KernelBench's precision option).
    Progress: `on_event(event)` hears each attempt and stage as it starts and ends
    (pragma_kernels.events); `on_attempt(record)` each attempt as it ends. `also_time`:
    baselines timed with every candidate besides `baseline` (a bench's "compile");
    `lease`: held around each evaluation (a bench's exclusive use of the device);
    `attempt_runner`: runs each attempt's verify, time and profile (None: `run_attempt`,
    here; a bench on Ray sends them to an evaluation actor)."""
    listener = fan_out(on_event, attempts_only(on_attempt) if on_attempt else None)
    try:
        dtype = resolve_dtype(dtype)
    except ValueError as exc:
        raise PragmaError(str(exc)) from None
    resolved = Target.resolve(target, size=size)
    path, folder = _problem_file_and_run_dir(
        problem, inputs, init_inputs, run_dir, f"{resolved.name}-{mode}", resume
    )
    loaded = load_problem(path, resolved.size)
    if mode == "offline":
        recognised = recognise(path, "tiny" if "tiny" in loaded.sizes else size)
        if recognised.family == "conv" and "tiny" in loaded.sizes:
            # a convolution's layers are built with the run's channels (recorded on meta)
            recognised = recognise(path, resolved.size)
        if recognised.family == "unsupported":
            why = "unsupported offline" + recognised.describe().removeprefix("unsupported")
            if listener is not None:
                listener(RunFinished(why, None))
            return OptimizeResult(None, [], why, folder, unsupported=True, recognition=why)
        coder, conductor_llm = OfflineCoder(recognised, resolved.backend), None
        coder_model = conductor_model = "offline (no LLM)"
        replies = "offline"
    else:
        if llm is None:
            llm, configured_conductor = llm_settings()
            conductor = conductor or configured_conductor
        if llm is None:
            raise PragmaError(
                "no LLM configured. Fix: pass --model (and --base-url for an OpenAI-compatible "
                "endpoint, --provider anthropic for Claude), set PRAGMA_LLM_MODEL, write "
                "~/.config/pragma-kernels/llm.toml, or run --mode offline (templates, no LLM)"
            )
        for settings in (llm, conductor or llm):
            try:
                require_sdk(settings.provider)
            except LLMError as exc:
                raise PragmaError(str(exc)) from None
        budget = Budget(max_tokens=max_tokens, max_usd=max_usd)
        cache = ReplyCache(folder / "llm-cache")  # a resumed run replays paid-for calls
        coder = LLM(llm, cache, budget)
        conductor_llm = LLM(conductor or llm, cache, budget) if mode != "single" else None
        coder_model, replies = llm.model, llm.replies
        conductor_model = (conductor or llm).model if mode != "single" else ""
    context = LoopContext(
        problem=prompts.ProblemView(
            loaded.name,
            loaded.category,
            resolved.name,
            path.read_text(),
            describe_inputs(loaded.module, cast=dtype),
            knobs=resolved.backend.knobs,
            metric_names=resolved.backend.metric_names,
        ),
        backend=backend_text(resolved, dtype, input_dtype(loaded.module)),
        hardware=resolved.backend.hardware_text(resolved.threads),
        **_known_timing(path, resolved, dtype, (baseline, *also_time)),
    )
    evaluator = LocalEvaluator(
        path,
        resolved,
        dtype,
        baseline,
        use_ncu=use_ncu,
        also_time=tuple(also_time),
        lease=lease,
        attempt_runner=attempt_runner or run_attempt,
    )
    options = LoopOptions(mode, attempts, baseline, target_speedup, patience)
    loop = OptimizationLoop(context, evaluator, coder, conductor_llm, options, RunDir(folder))
    settings = RunSettings(
        problem=str(path.resolve()),
        target=resolved.name,
        mode=mode,
        attempts=attempts,
        baseline=baseline,
        dtype=dtype or "auto",
        coder_model=coder_model,
        conductor_model=conductor_model,
        replies=replies,
    )
    result = loop.run(settings, listener)
    return OptimizeResult(
        result.best,
        result.attempts,
        result.stopped,
        folder,
        result.usage,
        summary=result.summary,
        baseline=baseline,
        recognition=recognised.describe() if mode == "offline" else "",
    )


def _known_timing(path: Path, target: Target, dtype: str | None, baselines) -> dict:
    """The timing method and the baselines already timed on this machine (the cache), for
    the first Coder prompt; later prompts state those measured beside the candidates."""
    from pragma_kernels.noise import Spread

    try:
        cached = cached_baselines(path, target, dtype)
    except Exception:  # a cold or unreadable cache is not an error: nothing known yet
        cached = {}
    spreads = {name: Spread.of(t, "cached") for name, t in cached.items() if name in baselines}
    method = next((t.method for t in cached.values()), "") or _protocol_text(target)
    return {"timing": target.backend.timing_label(method) if method else "", "baselines": spreads}


def _protocol_text(target: Target) -> str:
    """The backend's timing protocol in words ('' when it cannot say without a device)."""
    from pragma_kernels.timing_gpu import GpuProtocol

    protocol = target.backend.timing_protocol()
    if not isinstance(protocol, GpuProtocol):
        return protocol.describe()
    from pragma_kernels.hardware import detect_gpu

    try:
        spec = detect_gpu()
    except Exception:  # no GPU here (a check on the interpreter): the first result says it
        return ""
    return protocol.describe(spec.l2_bytes) if spec else ""


def choose_run_dir(
    run_dir: str | Path | None, default: Path, resume: bool, marker: str = "run.json"
) -> Path:
    """Where this run's attempts go; an earlier run is never overwritten. `run_dir` given:
    it, continued only with `resume` if it holds a run. Not given: `default` when free,
    else with `resume` the latest of `default`, `default-2`, ..., without it the next free.
    A folder holds a run when it has `marker` (a bench's: bench.sqlite)."""

    def holds_run(folder: Path) -> bool:
        return (folder / marker).exists()

    if run_dir is not None:
        folder = Path(run_dir)
        if holds_run(folder) and not resume:
            raise PragmaError(
                f"{folder} holds an earlier run. Fix: pass --resume (resume=True) to continue "
                "it, or choose another --run-dir"
            )
        return folder
    taken = [default] + [default.with_name(f"{default.name}-{n}") for n in range(2, 10_000)]
    used = [folder for folder in taken if holds_run(folder)]
    if resume and used:
        return used[-1]
    return next(folder for folder in taken if not holds_run(folder))


def _problem_file_and_run_dir(
    problem: str | Path | type,
    inputs: Callable[[], Sequence] | None,
    init_inputs: Sequence,
    run_dir: str | Path | None,
    suffix: str,
    resume: bool,
) -> tuple[Path, Path]:
    """The problem file and the run directory; a model class is written into its run dir."""
    if not isinstance(problem, type):
        path = Path(problem)
        return path, choose_run_dir(run_dir, Path("runs") / f"{path.stem}-{suffix}", resume)
    if inputs is None:
        raise PragmaError(
            f"optimize({problem.__name__}) needs inputs=a function returning the forward's "
            "arguments (KernelBench's get_inputs)"
        )
    source = problem_source(problem, inputs, init_inputs)
    folder = choose_run_dir(run_dir, Path("runs") / f"{problem.__name__}-{suffix}", resume)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "problem.py").write_text(source)
    return folder / "problem.py", folder
