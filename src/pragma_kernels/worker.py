"""The isolated worker: runs one verify or time job in its own process.

Started by isolation.py as `python -m pragma_kernels.worker JOB.json RESULT.json`.
It loads the problem and the untrusted candidate, writes the stage it is in to
a progress file (so a crash or hang can be placed), and writes the result JSON.
Every failure it can observe becomes a Verdict; what it cannot (a segfault, a
hang, the OOM killer) the parent classifies from the exit status.
"""

from __future__ import annotations

import faulthandler
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel

from pragma_kernels.compare import compare_outputs
from pragma_kernels.errors import BuildError, CppCallError, FlagError, PragmaError, ProblemError
from pragma_kernels.timing import Protocol, Timing, measure_interleaved
from pragma_kernels.verdict import Trial, Verdict, VerdictKind, failure


class Job(BaseModel):
    action: str  # "verify" | "time"
    problem: str
    solution: str | None = None
    size: str | None = None
    device: str = "cpu"
    threads: int = 1
    seeds: list[int] = [0, 1, 2]
    atol: float = 1e-2
    rtol: float = 1e-2
    baselines: list[str] = ["eager"]
    protocol: dict = {}
    progress_path: str = ""
    env: dict[str, str] = {}  # extra environment for the worker process


class JobResult(BaseModel):
    verdict: Verdict
    timings: dict[str, Timing] = {}


class Failed(Exception):
    """Carries a Verdict out of a stage."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict


class Worker:
    def __init__(self, job: Job):
        self.job = job
        self.stage = "start"

    def enter(self, stage: str) -> None:
        self.stage = stage
        if self.job.progress_path:
            Path(self.job.progress_path).write_text(stage)

    # -- locating errors in the candidate -------------------------------------------------
    def _location(self, exc: BaseException) -> str | None:
        if self.job.solution is None:
            return None
        target = str(Path(self.job.solution).resolve())
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if str(Path(f.filename).resolve()) == target
        ]
        return f"{self.job.solution}:{frames[-1].lineno}" if frames else None

    def fail(self, kind: VerdictKind, exc: BaseException | str, **fields) -> Failed:
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        location = None if isinstance(exc, str) else self._location(exc)
        fields.setdefault("location", location)
        return Failed(failure(kind, message[:4000], stage=self.stage, **fields))

    def classify_exception(self, exc: BaseException) -> Failed:
        text = str(exc)
        if isinstance(exc, CppCallError):
            return self.fail(VerdictKind.BAD_CALL, exc)
        if (
            isinstance(exc, MemoryError)
            or "can't allocate memory" in text
            or "out of memory" in text.lower()
        ):
            return self.fail(VerdictKind.OUT_OF_MEMORY, exc)
        if isinstance(exc, TypeError) and (
            "positional argument" in text or "keyword argument" in text
        ):
            return self.fail(VerdictKind.SIGNATURE, exc)
        return self.fail(VerdictKind.RUNTIME_ERROR, exc)

    # -- stages ---------------------------------------------------------------------------
    def load_problem(self) -> ModuleType:
        from pragma_kernels.problems import import_module

        self.enter("load problem")
        try:
            return import_module(Path(self.job.problem), self.job.size)
        except ProblemError as exc:
            raise self.fail(VerdictKind.PROBLEM_ERROR, str(exc)) from None

    def load_candidate(self) -> type:
        assert self.job.solution is not None
        path = Path(self.job.solution)
        self.enter("load candidate")
        try:
            code = compile(path.read_text(), str(path), "exec")
        except SyntaxError as exc:
            raise self.fail(
                VerdictKind.SYNTAX, f"line {exc.lineno}: {exc.msg}", location=f"{path}:{exc.lineno}"
            ) from None
        module = ModuleType("pragma_candidate")
        module.__file__ = str(path)
        sys.modules[module.__name__] = module
        self.enter("import candidate (C++ build)")
        try:
            exec(code, module.__dict__)
        except FlagError as exc:
            raise self.fail(VerdictKind.BAD_FLAGS, exc) from None
        except BuildError as exc:
            errors = [d for d in exc.diagnostics if d.severity == "error"]
            location = f"{errors[0].file}:{errors[0].line}" if errors else None
            raise self.fail(
                VerdictKind.BUILD, str(exc), location=location, stderr_tail=exc.log[-4000:]
            ) from None
        except CppCallError as exc:
            raise self.fail(VerdictKind.BAD_CALL, exc) from None
        except PragmaError as exc:
            raise self.fail(VerdictKind.BUILD, exc) from None
        except MemoryError as exc:
            raise self.fail(VerdictKind.OUT_OF_MEMORY, exc) from None
        except Exception as exc:
            raise self.fail(VerdictKind.IMPORT, exc) from None
        model_new = getattr(module, "ModelNew", None)
        import torch.nn as nn

        if not (isinstance(model_new, type) and issubclass(model_new, nn.Module)):
            found = "nothing" if model_new is None else type(model_new).__name__
            raise self.fail(
                VerdictKind.MISSING_MODEL_NEW,
                f"`ModelNew` is {found}, expected an nn.Module subclass",
            )
        return model_new

    def build_models(self, problem: ModuleType, model_new: type | None):
        import torch

        self.enter("construct reference")
        try:
            init = problem.get_init_inputs()
            torch.manual_seed(self.job.seeds[0])
            reference = problem.Model(*init).to(self.job.device)
        except Exception as exc:
            raise self.fail(
                VerdictKind.PROBLEM_ERROR,
                f"{self.job.problem}: the reference Model "
                f"could not be built: {type(exc).__name__}: {exc}. Fix: make "
                "Model(*get_init_inputs()) work on its own",
            ) from None
        if model_new is None:
            return reference, None
        self.enter("construct candidate")
        try:
            torch.manual_seed(self.job.seeds[0])
            candidate = model_new(*init).to(self.job.device)
        except Exception as exc:
            raise self.classify_exception(exc) from None
        return reference, candidate

    def make_inputs(self, problem: ModuleType, seed: int) -> list:
        import torch

        self.enter(f"get_inputs (seed {seed})")
        torch.manual_seed(seed)
        try:
            inputs = problem.get_inputs()
        except Exception as exc:
            raise self.fail(
                VerdictKind.PROBLEM_ERROR,
                f"{self.job.problem}: get_inputs() raised {type(exc).__name__}: {exc}",
            ) from None
        if not isinstance(inputs, (list, tuple)):
            raise self.fail(
                VerdictKind.PROBLEM_ERROR,
                f"{self.job.problem}: get_inputs() returned "
                f"{type(inputs).__name__}. Fix: return a list of tensors",
            )
        return [x.to(self.job.device) if isinstance(x, torch.Tensor) else x for x in inputs]

    def run_reference(self, reference, inputs: list):
        from pragma_kernels.compare import flatten_outputs

        self.enter("reference forward")
        try:
            out = reference(*inputs)
        except Exception as exc:
            raise self.fail(
                VerdictKind.PROBLEM_ERROR,
                f"{self.job.problem}: Model.forward raised "
                f"{type(exc).__name__}: {exc}. Fix: run the file's Model on "
                "get_inputs() on its own",
            ) from None
        if flatten_outputs(out) is None:
            raise self.fail(
                VerdictKind.PROBLEM_ERROR,
                f"{self.job.problem}: Model.forward "
                f"returned {type(out).__name__}. Fix: return a tensor or a tuple of "
                "tensors",
            )
        return out

    def verify(self) -> JobResult:
        import torch

        problem = self.load_problem()
        model_new = self.load_candidate() if self.job.solution else None
        reference, candidate = self.build_models(problem, model_new)
        trials: list[Trial] = []
        with torch.no_grad():
            for number, seed in enumerate(self.job.seeds, 1):
                inputs = self.make_inputs(problem, seed)
                expected = self.run_reference(reference, [_clone(x) for x in inputs])
                if candidate is None:
                    trials.append(Trial(seed=seed, ok=True, detail="reference only"))
                    continue
                self.enter(f"candidate forward (trial {number}, seed {seed})")
                try:
                    got = candidate(*[_clone(x) for x in inputs])
                    if self.job.device != "cpu":
                        torch.cuda.synchronize()
                except Exception as exc:
                    raise self.classify_exception(exc) from None
                self.enter(f"compare (trial {number})")
                result = compare_outputs(expected, got, self.job.atol, self.job.rtol)
                trials.append(
                    Trial(
                        seed=seed,
                        ok=result.kind is None,
                        detail=result.detail,
                        max_abs_err=result.max_abs_err,
                        max_rel_err=result.max_rel_err,
                        mismatch_fraction=result.mismatch_fraction,
                    )
                )
                if result.kind is not None:
                    raise self.fail(
                        result.kind,
                        result.detail,
                        trials=trials,
                        **_error_stats(trials),
                        **self._tolerance(),
                    )
        verdict = Verdict(
            ok=True,
            kind=VerdictKind.OK,
            trials=trials,
            stage="done",
            **_error_stats(trials),
            **self._tolerance(),
        )
        return JobResult(verdict=verdict)

    def _tolerance(self) -> dict:
        return {"atol": self.job.atol, "rtol": self.job.rtol}

    def time(self) -> JobResult:
        import torch

        problem = self.load_problem()
        model_new = self.load_candidate() if self.job.solution else None
        reference, candidate = self.build_models(problem, model_new)
        inputs = self.make_inputs(problem, self.job.seeds[0])
        callables, setup = {}, {}
        with torch.no_grad():
            self.run_reference(reference, inputs)
            if "eager" in self.job.baselines:
                callables["eager"] = lambda: reference(*inputs)
            if "compile" in self.job.baselines:
                self.enter("torch.compile baseline (compiling)")
                compiled = torch.compile(reference)
                start = time.perf_counter()
                try:
                    compiled(*inputs)
                except Exception as exc:
                    raise self.fail(
                        VerdictKind.WORKER_ERROR,
                        f"torch.compile of the reference "
                        f"failed: {type(exc).__name__}: {str(exc)[:1500]}",
                    ) from None
                setup["compile"] = time.perf_counter() - start
                callables["compile"] = lambda: compiled(*inputs)
            if candidate is not None:
                # The same input tensors as the baselines: on a VM, two copies can sit in
                # memory of different speed and skew the ratio (verify() uses own copies).
                callables["candidate"] = lambda: candidate(*inputs)
            self.enter("timing")
            try:
                timings = measure_interleaved(
                    callables, Protocol(**self.job.protocol), _sync(self.job.device)
                )
            except Exception as exc:
                raise self.classify_exception(exc) from None
        for label, seconds in setup.items():
            timings[label].setup_s = seconds
        for timing in timings.values():
            timing.threads = self.job.threads
        return JobResult(
            verdict=Verdict(ok=True, kind=VerdictKind.OK, stage="done"), timings=timings
        )


def _clone(value):
    import torch

    return value.clone() if isinstance(value, torch.Tensor) else value


def _sync(device: str):
    if device == "cpu":
        return lambda: None
    import torch

    return torch.cuda.synchronize


def _error_stats(trials: list[Trial]) -> dict:
    def worst(attribute: str) -> float | None:
        values = [getattr(t, attribute) for t in trials if getattr(t, attribute) is not None]
        return max(values) if values else None

    return {name: worst(name) for name in ("max_abs_err", "max_rel_err", "mismatch_fraction")}


def run_job(job: Job) -> JobResult:
    import torch

    torch.set_num_threads(job.threads)
    worker = Worker(job)
    try:
        return worker.verify() if job.action == "verify" else worker.time()
    except Failed as failed:
        return JobResult(verdict=failed.verdict)


def main(argv: list[str]) -> int:
    faulthandler.enable()  # a segfault prints the Python stack to stderr for the parent
    job_path, result_path = argv
    job = Job.model_validate_json(Path(job_path).read_text())
    result = run_job(job)
    Path(result_path).write_text(result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
