"""The isolated worker: runs one job (verify, time, profile, or a whole attempt) in its
own process.

Started by isolation.py as `python -m pragma_kernels.evaluation.worker JOB.json RESULT.json`,
or forked from the warm server (forkserver.py), which calls `main` with the same paths.
It loads the problem and the untrusted candidate, writes the stage it is in to
a progress file (so a crash or hang can be placed), and writes the result JSON.
Every failure it can observe becomes a Verdict; what it cannot (a segfault, a
hang, the OOM killer) the parent classifies from the exit status. One job per
process also means a CUDA context broken by an illegal access dies with it.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pragma_kernels import backends
from pragma_kernels.classify import Classified, classify_import_error, classify_run_error
from pragma_kernels.compare import flatten_outputs
from pragma_kernels.errors import ProblemError
from pragma_kernels.evaluation import integrity, static_checks
from pragma_kernels.evaluation.schema import Job, JobResult
from pragma_kernels.timing import Timing
from pragma_kernels.verdict import Trial, Verdict, VerdictKind, failure


@dataclass
class Loaded:
    """The problem module and both models, built once per job."""

    problem: ModuleType
    reference: object
    candidate: object | None


# Failures that show the candidate gamed the harness: found while timing or profiling,
# they replace the correctness verdict instead of standing beside it.
CHEATING = frozenset(
    {
        VerdictKind.TAMPERING,
        VerdictKind.INPUT_MUTATION,
        VerdictKind.BACKGROUND_WORK,
        VerdictKind.INCONSISTENT_RESULTS,
        VerdictKind.OUTPUT_TYPE,
        VerdictKind.FORBIDDEN_CODE,
        VerdictKind.NO_KERNEL,
    }
)


class Failed(Exception):
    """Carries a Verdict out of a stage."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict


class Worker:
    def __init__(self, job: Job):
        import torch

        self.job = job
        self.backend = backends.get(job.backend)
        self.device = self.backend.device
        self.first_forward_s: float | None = None  # the candidate's first call (compile)
        self.baseline_source: str = ""  # measured | cached | re-timed (measure_all)
        self.drift: float | None = None
        self.stage = "start"
        self.dtype = getattr(torch, job.dtype)
        self.stage_seconds: dict[str, float] = {}
        self.stage_start = time.perf_counter()
        self.policy = self.backend.static_policy.relaxed(job.allow)
        self.warnings: list[static_checks.Finding] = []  # what the policy only warns about
        # Before any candidate code runs: what the harness relies on, by identity. Dynamo
        # first: importing it (torch.compile, the FLOP counter) rebinds torch.manual_seed,
        # the harness's own change, not the candidate's (the fork server imports it once).
        import torch._dynamo  # noqa: F401

        self.launches, launch_names = self.backend.count_launches() or (None, [])
        names = integrity.harness_names(
            type(self), Failed, type(self.backend), backends.Backend,
            extra_modules=(sys.modules[__name__],),
        )  # fmt: skip
        self.harness = integrity.Harness(names + launch_names)

    def enter(self, stage: str) -> None:
        now = time.perf_counter()
        spent = self.stage_seconds.get(self.stage, 0.0) + now - self.stage_start
        self.stage_seconds[self.stage] = round(spent, 3)
        self.stage, self.stage_start = stage, now
        if self.job.progress_path:
            Path(self.job.progress_path).write_text(stage)

    def fail(self, kind: VerdictKind, message: str, **fields) -> Failed:
        fields.setdefault("dtype", self.job.dtype)
        return Failed(failure(kind, message[:4000], stage=self.stage, **fields))

    def failed(self, classified: Classified) -> Failed:
        return self.fail(
            classified.kind, classified.message, location=classified.location, **classified.fields
        )

    def problem_error(self, what: str, exc: BaseException | None = None) -> Failed:
        raised = f" raised {type(exc).__name__}: {exc}" if exc else ""
        return self.fail(VerdictKind.PROBLEM_ERROR, f"{self.job.problem}: {what}{raised}")

    def sync(self) -> None:
        self.backend.sync()

    def guard(self, after: str) -> None:
        """Fail if the candidate replaced anything the harness relies on."""
        patched = self.harness.patched()
        if patched:
            shown = ", ".join(patched[:12]) + (
                f" and {len(patched) - 12} more" if len(patched) > 12 else ""
            )
            raise self.fail(VerdictKind.TAMPERING, f"after {after}: replaced {shown}")

    # -- stages ---------------------------------------------------------------------------
    def load_problem(self) -> ModuleType:
        from pragma_kernels.problems import import_module

        self.enter("load problem")
        try:
            return import_module(Path(self.job.problem), self.job.size)
        except ProblemError as exc:
            raise self.fail(VerdictKind.PROBLEM_ERROR, str(exc)) from None

    def load_candidate(self) -> type:
        """Import the candidate as a real module (Triton reads kernel source from the file)."""
        import torch.nn as nn

        path = Path(self.job.solution or "")
        self.check_source(path)
        self.enter("import candidate (build)")
        spec = importlib.util.spec_from_file_location("pragma_candidate", path)
        if spec is None or spec.loader is None:
            raise self.fail(VerdictKind.IMPORT, f"{path}: not an importable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise self.failed(classify_import_error(exc, self.job.solution)) from None
        self.guard("importing the candidate")
        model_new = getattr(module, "ModelNew", None)
        if not (isinstance(model_new, type) and issubclass(model_new, nn.Module)):
            found = "nothing" if model_new is None else type(model_new).__name__
            raise self.fail(
                VerdictKind.MISSING_MODEL_NEW,
                f"`ModelNew` is {found}, expected an nn.Module subclass",
            )
        return model_new

    def check_source(self, path: Path) -> None:
        """Before any of the candidate runs: its text against the backend's static policy
        (static_checks.py); errors fail the job, warnings travel in the result."""
        self.enter("static checks")
        try:
            source = path.read_text()
        except (OSError, UnicodeDecodeError):
            return  # the import reports it
        findings = static_checks.check_source(source, self.policy, self.job.dtype)
        kept = [w for w in self.warnings if w.line == 0]  # the run-time ones
        self.warnings = kept + [f for f in findings if f.severity == "warn"]
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise self.fail(
                VerdictKind.FORBIDDEN_CODE,
                static_checks.describe(errors),
                location=f"{path}:{errors[0].line}",
                details={"findings": [f.model_dump() for f in errors]},
            )

    def no_kernel(self) -> None:
        """forward launched nothing: a verdict or a warning, as the policy says."""
        severity = self.policy.severity("no-kernel")
        message = f"forward returned without calling {self.backend.kernel_words}"
        if severity == "error":
            raise self.fail(VerdictKind.NO_KERNEL, message)
        if severity == "warn" and all(w.rule != "no-kernel" for w in self.warnings):
            self.warnings.append(static_checks.run_time_finding("no-kernel", message))

    def build_models(self, problem: ModuleType, model_new: type | None):
        import torch

        self.enter("construct reference")
        try:
            init = problem.get_init_inputs()
            torch.manual_seed(self.job.seeds[0])
            with torch.device(self.device):  # GPU-sized weights are made on the GPU
                reference = problem.Model(*init).to(device=self.device, dtype=self.dtype)
        except Exception as exc:
            raise self.problem_error("Model(*get_init_inputs())", exc) from None
        if model_new is None:
            return reference, None
        self.enter("construct candidate")
        try:
            torch.manual_seed(self.job.seeds[0])
            with torch.device(self.device):
                candidate = model_new(*init).to(device=self.device, dtype=self.dtype)
        except Exception as exc:
            raise self.failed(classify_run_error(exc, self.job.solution)) from None
        self.guard("constructing ModelNew")
        return reference, candidate

    def make_inputs(self, problem: ModuleType, seed: int) -> list:
        import torch

        self.enter(f"get_inputs (seed {seed})")
        torch.manual_seed(seed)
        try:
            # Random inputs are drawn on the target device: multi-GB GPU inputs drawn by the
            # CPU's generator take tens of seconds.
            with torch.device(self.device):
                inputs = problem.get_inputs()
        except Exception as exc:
            raise self.problem_error("get_inputs()", exc) from None
        if not isinstance(inputs, (list, tuple)):
            raise self.problem_error(
                f"get_inputs() returned {type(inputs).__name__}; Fix: return a list of tensors"
            )
        # KernelBench's precision handling: floating inputs take the requested dtype.
        return [
            (x.to(self.device, self.dtype) if x.is_floating_point() else x.to(self.device))
            if isinstance(x, torch.Tensor)
            else x
            for x in inputs
        ]

    def run_reference(self, reference, inputs: list):
        self.enter("reference forward")
        try:
            out = reference(*inputs)
            self.sync()
        except Exception as exc:
            raise self.problem_error("Model.forward(*get_inputs())", exc) from None
        if flatten_outputs(out) is None:
            raise self.problem_error(
                f"Model.forward returned {type(out).__name__}; Fix: return "
                "a tensor or a tuple of tensors"
            )
        return out

    def run_candidate(self, candidate, inputs: list):
        """One forward, then the checks that need no reference: nothing patched, nothing
        left running, a kernel launched."""
        launches = self.launches.count if self.launches else None
        before = integrity.Activity.now()
        try:
            out = candidate(*inputs)
            after = integrity.Activity.now()  # at once: a short-lived thread may be gone soon
            self.sync()  # asynchronous GPU faults surface here, still in the candidate's stage
        except Exception as exc:
            raise self.failed(classify_run_error(exc, self.job.solution)) from None
        self.guard("the candidate's forward")
        left = integrity.new_activity(before, after) if self.backend.watch_background else None
        if left:
            raise self.fail(VerdictKind.BACKGROUND_WORK, f"when forward returned: {left}")
        if launches is not None and self.launches.count == launches:
            self.no_kernel()
        return out

    def judge(self, expected, got, ref_inputs: list, cand_inputs: list):
        """Compare one forward of each model; returns the Comparison (kind None: match).
        Integrity failures (subclass outputs, changed inputs) come first: a tensor subclass
        must not take part in the comparison."""
        problem = integrity.output_problem(expected, got)
        if problem:
            raise self.fail(VerdictKind.OUTPUT_TYPE, problem)
        changed = integrity.changed_inputs(ref_inputs, cand_inputs)
        if changed:
            raise self.fail(
                VerdictKind.INPUT_MUTATION,
                f"forward changed input(s) {changed}, which the reference leaves unchanged",
            )
        result = self.harness.compare_outputs(expected, got, self.job.atol, self.job.rtol)
        self.guard("the comparison")
        return result

    # -- steps: each job is a composition of these ---------------------------------------
    def load(self) -> Loaded:
        problem = self.load_problem()
        model_new = self.load_candidate() if self.job.solution else None
        reference, candidate = self.build_models(problem, model_new)
        return Loaded(problem, reference, candidate)

    def check(self, loaded: Loaded) -> tuple[Verdict, list]:
        """Compare with the reference on every seed's inputs; returns the verdict and the
        last trial's inputs (untouched: each model ran on its own copy), for timing."""
        import torch

        trials: list[Trial] = []
        inputs: list = []
        with torch.no_grad():
            for number, seed in enumerate(self.job.seeds, 1):
                inputs = self.make_inputs(loaded.problem, seed)
                ref_inputs = [_clone(x) for x in inputs]
                expected = self.run_reference(loaded.reference, ref_inputs)
                if loaded.candidate is None:
                    trials.append(Trial(seed=seed, ok=True, detail="reference only"))
                    continue
                self.enter(f"candidate forward (trial {number}, seed {seed})")
                cand_inputs = [_clone(x) for x in inputs]
                start = self.harness.perf_counter()
                got = self.run_candidate(loaded.candidate, cand_inputs)
                if self.first_forward_s is None:
                    self.first_forward_s = self.harness.perf_counter() - start
                self.enter(f"compare (trial {number})")
                result = self.judge(expected, got, ref_inputs, cand_inputs)
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
                        result.kind, result.detail, trials=trials, **self._stats(trials)
                    )
        verdict = Verdict(
            ok=True,
            kind=VerdictKind.OK,
            trials=trials,
            stage="done",
            dtype=self.job.dtype,
            **self._stats(trials),
        )
        return verdict, inputs

    def _stats(self, trials: list[Trial]) -> dict:
        def worst(attribute: str) -> float | None:
            values = [getattr(t, attribute) for t in trials if getattr(t, attribute) is not None]
            return max(values) if values else None

        return {
            "atol": self.job.atol,
            "rtol": self.job.rtol,
            **{name: worst(name) for name in ("max_abs_err", "max_rel_err", "mismatch_fraction")},
        }

    def first_call(self, label: str, fn) -> float:
        """Run once and return the seconds it took: compile, autotune, caches."""
        self.enter(f"first call: {label}")
        start = self.harness.perf_counter()
        fn()
        self.sync()
        return self.harness.perf_counter() - start

    def measure_all(self, loaded: Loaded, inputs: list) -> list[dict[str, Timing]]:
        """Baselines and candidate timed by the backend's protocol, interleaved, on the same
        input tensors (on a VM two copies can sit in memory of different speed). Baselines
        the job brings from the cache are checked by a short eager probe instead; if the
        machine drifted from them, every baseline is re-timed here (evaluation/baselines.py)."""
        cached = self.job.cached_baselines
        if not cached:
            self.baseline_source = "measured"
            return self.measure(loaded, inputs, self.job.baselines)
        repeats = self.measure(loaded, inputs, [])
        drift = self.probe_eager(loaded, inputs) / cached["eager"].median_ms - 1
        self.drift = round(drift, 4)
        if abs(drift) > self.job.drift_tolerance:
            self.baseline_source = "re-timed"
            return self.measure(loaded, inputs, list(cached))
        self.baseline_source = "cached"
        label = (
            f"cached baseline: this attempt's eager probe is {drift:+.1%} from it (within "
            f"+-{self.job.drift_tolerance:.0%}); "
        )
        for timings in repeats:
            for name, timing in cached.items():
                timings[name] = timing.model_copy(update={"method": label + timing.method})
        return repeats

    def probe_eager(self, loaded: Loaded, inputs: list) -> float:
        """A short eager timing (ms) after the candidate's: the drift check."""
        import torch

        self.enter("timing: eager drift probe")
        protocol = self.job.protocol or self.backend.timing_protocol()
        protocol = protocol.model_copy(update={"budget_s": self.job.drift_probe_s})
        with torch.no_grad():
            probe = self.backend.measure({"eager": lambda: loaded.reference(*inputs)}, protocol)
        return probe["eager"].median_ms

    def measure(self, loaded: Loaded, inputs: list, baselines) -> list[dict[str, Timing]]:
        import torch

        reference, candidate = loaded.reference, loaded.candidate
        callables, setup = {}, {}
        with torch.no_grad():
            if "eager" in baselines:
                callables["eager"] = lambda: reference(*inputs)
            for name in ("compile", "compile-max-autotune"):
                if name in baselines:
                    mode = "max-autotune" if name.endswith("autotune") else None
                    compiled = torch.compile(reference, mode=mode)
                    try:
                        setup[name] = self.first_call(name, lambda c=compiled: c(*inputs))
                    except Exception as exc:
                        raise self.fail(
                            VerdictKind.WORKER_ERROR,
                            f"torch.compile of the reference failed: {type(exc).__name__}: {exc}",
                        ) from None
                    callables[name] = lambda c=compiled: c(*inputs)
            if candidate is not None:
                callables["candidate"] = lambda: candidate(*inputs)
                first = self.first_call("candidate", lambda: self.run_candidate(candidate, inputs))
                setup["candidate"] = self.first_forward_s or first
            self.enter("timing")
            protocol = self.job.protocol or self.backend.timing_protocol()
            before = integrity.Activity.now()
            try:
                repeats = [
                    self.backend.measure(callables, protocol) for _ in range(self.job.repeats)
                ]
            except Exception as exc:
                raise self.failed(classify_run_error(exc, self.job.solution)) from None
            after = integrity.Activity.now()
            self.sync()
        self.guard("timing")
        watch = candidate is not None and self.backend.watch_background
        left = integrity.new_activity(before, after) if watch else None
        if left:
            raise self.fail(VerdictKind.BACKGROUND_WORK, f"after timing: {left}")
        for timings in repeats:
            for label, timing in timings.items():
                timing.setup_s = setup.get(label)
                timing.threads = self.job.threads
        return repeats

    def profile_candidate(self, loaded: Loaded, inputs: list):
        """The backend's in-worker profile of the (verified) candidate; the parent adds what
        comes from outside this process (Nsight Compute) and the metrics' meanings."""
        if not self.backend.can_profile:
            raise self.fail(VerdictKind.WORKER_ERROR, self.backend.why_no_profile)
        self.enter("profiling")
        context = backends.ProfileContext(
            candidate=loaded.candidate,
            reference=loaded.reference,
            inputs=inputs,
            dtype=self.job.dtype,
            threads=self.job.threads,
            solution=self.job.solution or "",
            metrics=self.job.metrics,
            small_calls=self.small_calls(loaded.problem),
        )
        try:
            profile = self.backend.profile_in_worker(context)
        except Exception as exc:
            raise self.failed(classify_run_error(exc, self.job.solution)) from None
        self.guard("profiling")
        return profile

    def recheck(self, loaded: Loaded) -> None:
        """After timing, the candidate once more on fresh inputs: one that was correct for
        its first calls and changes later (a call counter, a cache) fails here."""
        import torch

        if loaded.candidate is None:
            return
        seed = integrity.recheck_seed(self.job.seeds)
        with torch.no_grad():
            inputs = self.make_inputs(loaded.problem, seed)
            ref_inputs = [_clone(x) for x in inputs]
            expected = self.run_reference(loaded.reference, ref_inputs)
            self.enter(f"candidate re-check after timing (seed {seed})")
            cand_inputs = [_clone(x) for x in inputs]
            got = self.run_candidate(loaded.candidate, cand_inputs)
            result = self.judge(expected, got, ref_inputs, cand_inputs)
        if result.kind is not None:
            raise self.fail(
                VerdictKind.INCONSISTENT_RESULTS,
                f"verified, but after timing on fresh inputs (seed {seed}): "
                f"{result.kind.value}: {result.detail}",
                max_abs_err=result.max_abs_err,
                max_rel_err=result.max_rel_err,
                mismatch_fraction=result.mismatch_fraction,
            )

    # -- jobs -----------------------------------------------------------------------------
    def ok(self) -> Verdict:
        return Verdict(ok=True, kind=VerdictKind.OK, stage="done", dtype=self.job.dtype)

    def verify(self) -> JobResult:
        verdict, _ = self.check(self.load())
        return JobResult(verdict=verdict)

    def time(self) -> JobResult:
        """Time on the first seed's inputs; a candidate is compared on them first, and
        re-checked on fresh inputs after timing."""
        loaded = self.load()
        if loaded.candidate is None:
            inputs = self.make_inputs(loaded.problem, self.job.seeds[0])
            self.run_reference(loaded.reference, inputs)
            verdict = self.ok()
        else:
            self.job = self.job.model_copy(update={"seeds": self.job.seeds[:1]})
            verdict, inputs = self.check(loaded)
        repeats = self.measure_all(loaded, inputs)
        self.recheck(loaded)
        return JobResult(
            verdict=verdict,
            timings=repeats[0],
            repeats=repeats if self.job.repeats > 1 else [],
        )

    def profile(self) -> JobResult:
        loaded = self.load()
        inputs = self.make_inputs(loaded.problem, self.job.seeds[0])
        self.run_reference(loaded.reference, inputs)
        return JobResult(verdict=self.ok(), profile=self.profile_candidate(loaded, inputs))

    def attempt(self) -> JobResult:
        """Verify; if correct, time; then profile (when asked): one process, one start-up,
        one build, inputs made once per seed. A failure after verification is kept in its
        own field, so the correctness verdict stands."""
        loaded = self.load()
        verdict, inputs = self.check(loaded)
        result = JobResult(verdict=verdict)
        try:
            result.timings = self.measure_all(loaded, inputs)[0]
            self.recheck(loaded)
        except Failed as failed:
            if failed.verdict.kind in CHEATING:  # the candidate gamed the harness
                return JobResult(verdict=failed.verdict)
            result.timings, result.timing_error = {}, failed.verdict
            return result
        result.baseline_source, result.drift = self.baseline_source, self.drift
        if self.job.profile:
            try:
                result.profile = self.profile_candidate(loaded, inputs)
            except Failed as failed:
                if failed.verdict.kind in CHEATING:
                    return JobResult(verdict=failed.verdict)
                result.profile_error = failed.verdict
        return result

    def small_calls(self, problem: ModuleType):
        """A recorder of the candidate's C++ calls at the problem's 'tiny' size, if offered."""
        if "tiny" not in (getattr(problem, "SIZES", None) or {}):
            return None

        def record() -> list:
            import torch

            from pragma_kernels.problems import import_module
            from pragma_kernels.runtime import cpp

            tiny = import_module(Path(self.job.problem), "tiny")
            _, candidate = self.build_models(tiny, self.load_candidate())
            inputs = self.make_inputs(tiny, self.job.seeds[0])
            with torch.no_grad():
                candidate(*inputs)  # warm: a cold call's wall time misleads the estimate
                with cpp.recording() as calls:
                    candidate(*inputs)
            return calls

        return record


def _clone(value):
    import torch

    return value.clone() if isinstance(value, torch.Tensor) else value


def run_job(job: Job) -> JobResult:
    import torch

    torch.set_num_threads(job.threads)
    worker = Worker(job)
    try:
        actions = {
            "verify": worker.verify,
            "time": worker.time,
            "profile": worker.profile,
            "attempt": worker.attempt,
        }
        result = actions[job.action]()
    except Failed as failed:
        result = JobResult(verdict=failed.verdict)
    worker.enter("done")
    result.stage_seconds = worker.stage_seconds
    result.static_warnings = worker.warnings
    result.verdict.warnings = [warning.render() for warning in worker.warnings]
    return result


def main(argv: list[str]) -> int:
    faulthandler.enable()  # a segfault prints the Python stack to stderr for the parent
    job_path, result_path = argv
    job = Job.model_validate_json(Path(job_path).read_text())
    result = run_job(job)
    Path(result_path).write_text(result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
