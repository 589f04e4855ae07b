"""The isolated worker: runs one job (verify, time, profile, a whole attempt, or the judge's
check) in its own process.

Started by isolation.py as `python -m pragma_kernels.evaluation.worker JOB_FD RESULT_FD`
(inherited descriptors), or forked from the warm server (forkserver.py), which calls
`serve` with the job's text and a result descriptor. It loads the problem and the
untrusted candidate, writes the stage it is in to a progress file (so a crash or hang can
be placed), ships the candidate's outputs for the judge (judge.py) and sends one result
frame (channel.py). Every failure it can observe becomes a Verdict; what it cannot (a
segfault, a hang, the OOM killer, a process ended from inside) the parent classifies.
One job per process also means a CUDA context broken by an illegal access dies with it.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pragma_kernels import backends
from pragma_kernels.classify import Classified, classify_import_error, classify_run_error
from pragma_kernels.compare import (
    compare_outputs,
    compared_dtype,
    default_tolerance,
    flatten_outputs,
)
from pragma_kernels.errors import ProblemError
from pragma_kernels.evaluation import channel, integrity, shipping, static_checks
from pragma_kernels.evaluation.judge import LARGE_OUTPUT_BYTES
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


# Failures after which the device cannot run the reference to see whose fault it is.
DEVICE_FAULTS = frozenset(
    {VerdictKind.ILLEGAL_MEMORY_ACCESS, VerdictKind.LAUNCH_ERROR, VerdictKind.CRASH}
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
        self.reference_s: float | None = None  # the fastest reference forward seen (limits)
        self.own_dtype = ""  # the problem's own floating dtype, when nothing is cast
        self.baseline_source: str = ""  # measured | cached | re-timed (measure_all)
        self.drift: float | None = None
        self.stage = "start"
        self.dtype = getattr(torch, job.dtype) if job.dtype else None  # None: no cast
        self.compared = ""  # the dtype compared, from the first reference forward
        self.stage_seconds: dict[str, float] = {}
        self.shipped_large = False  # outputs above LARGE_OUTPUT_BYTES (judge.py) shipped
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
            reference = "" if self.reference_s is None else f"\n{self.reference_s:.6g}"
            Path(self.job.progress_path).write_text(stage + reference)

    def fail(self, kind: VerdictKind, message: str, **fields) -> Failed:
        fields = {**self.dtype_fields(), **fields}
        return Failed(failure(kind, message[:4000], stage=self.stage, **fields))

    def failed(self, classified: Classified) -> Failed:
        return self.fail(
            classified.kind, classified.message, location=classified.location, **classified.fields
        )

    def dtype_fields(self) -> dict:
        """The dtype a verdict records: the one compared once the reference has run, before
        that the cast's (unknown yet without a cast)."""
        return {"dtype": self.compared or self.job.dtype or "", "dtype_cast": bool(self.job.dtype)}

    def tolerance(self) -> tuple[float, float]:
        """The job's atol and rtol, or the defaults of the dtype compared."""
        default = default_tolerance(self.dtype_fields()["dtype"])
        atol, rtol = self.job.atol, self.job.rtol
        return (default if atol is None else atol, default if rtol is None else rtol)

    def problem_error(self, what: str, exc: BaseException | None = None) -> Failed:
        raised = f" raised {type(exc).__name__}: {exc}" if exc else ""
        return self.fail(VerdictKind.PROBLEM_ERROR, f"{self.job.problem}: {what}{raised}")

    def sync(self) -> None:
        self.backend.sync()

    def guard(self, after: str) -> None:
        """Fail if the candidate replaced anything the harness relies on (a check that
        itself breaks, e.g. on a rebound builtin, is tampering too)."""
        try:
            patched = self.harness.patched()
        except Exception as exc:
            raise self.fail(
                VerdictKind.TAMPERING,
                f"after {after}: the harness's own identity check failed "
                f"({type(exc).__name__}: {exc}); something it relies on was replaced",
            ) from None
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
        dtype = self.job.dtype or self.own_dtype or "float32"
        findings = static_checks.check_source(source, self.policy, dtype)
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
        # KernelBench's precision handling: floating inputs take the requested dtype (None,
        # the default: they keep the problem's own).
        return [
            (x.to(self.device, self.dtype) if x.is_floating_point() else x.to(self.device))
            if isinstance(x, torch.Tensor)
            else x
            for x in inputs
        ]

    def run_reference(self, reference, inputs: list):
        self.enter("reference forward")
        start = self.harness.perf_counter()
        try:
            out = reference(*inputs)
            self.sync()
        except Exception as exc:
            raise self.problem_error("Model.forward(*get_inputs())", exc) from None
        outputs = flatten_outputs(out)
        if outputs is None:
            raise self.problem_error(
                f"Model.forward returned {type(out).__name__}; Fix: return "
                "a tensor or a tuple of tensors"
            )
        took = self.harness.perf_counter() - start
        self.reference_s = took if self.reference_s is None else min(self.reference_s, took)
        self.compared = self.compared or compared_dtype(outputs, inputs)
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
        result = self.harness.compare_outputs(expected, got, *self.tolerance())
        self.guard("the comparison")
        return result

    # -- steps: each job is a composition of these ---------------------------------------
    def load(self) -> Loaded:
        problem = self.load_problem()
        if self.job.dtype is None:  # the static checks need the dtype the problem computes in
            from pragma_kernels.problems import input_dtype

            self.own_dtype = input_dtype(problem, self.job.size)
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
                if loaded.candidate is None:
                    self.run_reference(loaded.reference, ref_inputs)
                    trials.append(Trial(seed=seed, ok=True, detail="reference only"))
                    continue
                # The candidate first: this seed's reference output does not exist yet, so
                # it cannot be found among live objects and returned.
                self.enter(f"candidate forward (trial {number}, seed {seed})")
                cand_inputs = [_clone(x) for x in inputs]
                start = self.harness.perf_counter()
                try:
                    got = self.run_candidate(loaded.candidate, cand_inputs)
                except Failed as failed:  # a reference that fails too is the problem's
                    if failed.verdict.kind not in DEVICE_FAULTS:  # (else the context is gone)
                        self.run_reference(loaded.reference, ref_inputs)
                    raise
                if self.first_forward_s is None:
                    self.first_forward_s = self.harness.perf_counter() - start
                self.ship(seed, got)
                expected = self.run_reference(loaded.reference, ref_inputs)
                self.enter(f"compare (trial {number})")
                result = self.judge(expected, got, ref_inputs, cand_inputs)
                trials.append(_trial(seed, result))
                if result.kind is not None:
                    raise self.fail(
                        result.kind, result.detail, trials=trials, **self._stats(trials)
                    )
        verdict = Verdict(
            ok=True,
            kind=VerdictKind.OK,
            trials=trials,
            stage="done",
            **self.dtype_fields(),
            **self._stats(trials),
        )
        return verdict, inputs

    def ship(self, seed: int, got) -> None:
        """Send this forward's outputs to the judge (judge.py), if the job has one; outputs
        that cannot be shipped are refused by the in-process checks that follow. A stage of
        its own: copying GBs of output out is the harness's time, not the candidate's call
        (limits.py gives that stage 50x the reference's time)."""
        if not self.job.outputs_dir:
            return
        if seed in self.job.seeds[1:] and self.shipped_large:
            return  # the judge takes the first seed and the re-check seed only (judge.py)
        self.enter(f"shipping outputs (seed {seed})")
        outputs = flatten_outputs(got)
        if outputs is None or any(type(t) is not self.harness.tensor_type for t in outputs):
            return
        try:
            shipping.ship(outputs, Path(self.job.outputs_dir), seed)
        except (shipping.Unshippable, OSError):
            return
        shipped = shipping.shipped_bytes(Path(self.job.outputs_dir), seed)
        self.shipped_large = self.shipped_large or shipped > LARGE_OUTPUT_BYTES
        self.guard("shipping the outputs")

    def judge_outputs(self) -> JobResult:
        """The `judge` job, in a process no candidate ran in: the reference on every seed,
        compared with the outputs the candidate's worker shipped as plain bytes."""
        import torch

        problem = self.load_problem()
        reference, _ = self.build_models(problem, None)
        trials: list[Trial] = []
        with torch.no_grad():
            for seed in self.job.seeds:
                inputs = self.make_inputs(problem, seed)
                expected = self.run_reference(reference, inputs)
                self.enter(f"judge (seed {seed})")
                got = shipping.receive(Path(self.job.outputs_dir), seed, self.device)
                if isinstance(got, str):
                    raise self.fail(VerdictKind.RESULT_CHANNEL, got)
                result = compare_outputs(expected, got, *self.tolerance())
                trials.append(_trial(seed, result))
                if result.kind is not None:
                    raise self.fail(
                        result.kind,
                        f"in a clean process (seed {seed}): {result.detail}",
                        trials=trials,
                        **self._stats(trials),
                    )
        verdict = Verdict(
            ok=True, kind=VerdictKind.OK, trials=trials, stage="done", **self.dtype_fields(),
            **self._stats(trials),
        )  # fmt: skip
        return JobResult(verdict=verdict)

    def _stats(self, trials: list[Trial]) -> dict:
        def worst(attribute: str) -> float | None:
            values = [getattr(t, attribute) for t in trials if getattr(t, attribute) is not None]
            return max(values) if values else None

        atol, rtol = self.tolerance()
        return {
            "atol": atol,
            "rtol": rtol,
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
                with integrity.ThreadStarts(self.job.solution) as starts:
                    repeats = [
                        self.backend.measure(callables, protocol) for _ in range(self.job.repeats)
                    ]
            except Exception as exc:
                raise self.failed(classify_run_error(exc, self.job.solution)) from None
            after = integrity.Activity.now()
            self.sync()
        self.guard("timing")
        watch = candidate is not None and self.backend.watch_background
        left = integrity.new_activity(before, after, starts.not_candidates) if watch else None
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
            dtype=self.dtype_fields()["dtype"] or "float32",
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

    def probe_caching(self, loaded: Loaded, timed: list) -> None:
        """Timing calls the candidate on the same inputs again and again; a candidate that
        caches its output by input address or sampled values is fast only then. Single
        calls after the inputs were rewritten with other values, and after they were
        rewritten with the same ones (interleaved; the same copy before both, so memory
        traffic and thread pools are alike): much faster on unchanged values is a cache
        (integrity.caches_outputs)."""

        if loaded.candidate is None:
            return
        sets = [[_clone(x) for x in timed], self.make_inputs(loaded.problem, self.job.seeds[0] + 1)]
        self.enter("timing: repeated-input probe")
        found = integrity.caches_outputs(*self._probe_calls(loaded, timed, sets))
        if found:  # a busy machine can fake the gap once; a cache shows it every time
            self.enter("timing: repeated-input probe, confirming")
            found = integrity.caches_outputs(*self._probe_calls(loaded, timed, sets))
        for old, new in zip(timed, sets[0], strict=True):  # the values timed, back
            _refill(old, new)
        self.guard("the repeated-input probe")
        if found:
            raise self.fail(VerdictKind.INCONSISTENT_RESULTS, found)

    def _probe_calls(self, loaded: Loaded, timed: list, sets: list) -> tuple[list, list]:
        """Single-call seconds on unchanged inputs (rewritten with the values they hold) and
        on refilled ones (the other set), the pair's order alternating so that neither side
        always runs first."""
        import torch

        unchanged, refilled = [], []
        holding = 0  # which of `sets` the inputs hold: the values timed, at first
        with torch.no_grad():
            for index in range(integrity.CACHE_PROBE_CALLS):
                pair = (refilled, unchanged) if index % 2 else (unchanged, refilled)
                for samples in pair:
                    holding = 1 - holding if samples is refilled else holding
                    for old, new in zip(timed, sets[holding], strict=True):
                        _refill(old, new)
                    self.sync()
                    launches = self.launches.count if self.launches else None
                    start = self.harness.perf_counter()
                    loaded.candidate(*timed)
                    self.sync()
                    samples.append(self.harness.perf_counter() - start)
                    if launches is not None and self.launches.count == launches:
                        self.no_kernel()  # e.g. an output cached for repeated inputs
        return unchanged, refilled

    def recheck(self, loaded: Loaded, timed: list) -> None:
        """After timing, the candidate once more on fresh values written into the very
        tensors it was timed on: one that was correct for its first calls and changes
        later (a call counter), or that caches by address or shape, fails here."""
        import torch

        if loaded.candidate is None:
            return
        seed = integrity.recheck_seed(self.job.seeds)
        with torch.no_grad():
            inputs = self.make_inputs(loaded.problem, seed)
            ref_inputs = [_clone(x) for x in inputs]
            self.enter(f"candidate re-check after timing (seed {seed})")
            cand_inputs = [_refill(old, new) for old, new in zip(timed, inputs, strict=True)]
            got = self.run_candidate(loaded.candidate, cand_inputs)
            self.ship(seed, got)
            expected = self.run_reference(loaded.reference, ref_inputs)
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
        return Verdict(ok=True, kind=VerdictKind.OK, stage="done", **self.dtype_fields())

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
        self.probe_caching(loaded, inputs)
        self.recheck(loaded, inputs)
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
            self.probe_caching(loaded, inputs)
            self.recheck(loaded, inputs)
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
        """A recorder of the candidate's C++ calls on a smaller problem: the file's 'tiny'
        size when it offers one, else its inputs' sizes scaled down about `factor` times
        (problems.scaled_sizes); returns the calls and which size they come from."""
        path = Path(self.job.problem)
        tiny = "tiny" in (getattr(problem, "SIZES", None) or {})

        def record(factor: float) -> tuple[list, str]:
            import torch

            from pragma_kernels.problems import import_module, scaled_sizes
            from pragma_kernels.runtime import cpp

            small = import_module(path, "tiny" if tiny else None)
            how = "the problem's 'tiny' size"
            if not tiny:
                sizes = scaled_sizes(small, factor)
                if not sizes:
                    raise ValueError("get_inputs reads no integer size to scale down")
                for name, value in sizes.items():
                    setattr(small, name, value)
                shown = ", ".join(f"{n}={v}" for n, v in sizes.items())
                how = f"the inputs scaled down (~{factor:.0f}x less data: {shown})"
            _, candidate = self.build_models(small, self.load_candidate())
            inputs = self.make_inputs(small, self.job.seeds[0])
            with torch.no_grad():
                candidate(*inputs)  # warm: a cold call's wall time misleads the estimate
                with cpp.recording() as calls:
                    candidate(*inputs)
            return calls, how

        return record


def _trial(seed: int, result) -> Trial:
    """One comparison's record (result: a compare.Comparison)."""
    return Trial(
        seed=seed,
        ok=result.kind is None,
        detail=result.detail,
        max_abs_err=result.max_abs_err,
        max_rel_err=result.max_rel_err,
        mismatch_fraction=result.mismatch_fraction,
    )


def _refill(old, new):
    """`new`'s values in `old`'s storage when they fit (same address as timed), else `new`."""
    import torch

    fits = (
        type(old) is torch.Tensor and type(new) is torch.Tensor and old.shape == new.shape
        and old.dtype == new.dtype and old.device == new.device
    )  # fmt: skip
    if not fits:
        return _clone(new)
    torch.Tensor.copy_(old, new)
    return old


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
            "judge": worker.judge_outputs,
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
    """A fresh worker: `worker JOB_FD RESULT_FD`, descriptors the parent passed (no paths)."""
    faulthandler.enable()  # a segfault prints the Python stack to stderr for the parent
    job_fd, result_fd = (int(arg) for arg in argv)
    job_text = channel.read_all(job_fd).decode()
    os.close(job_fd)
    return serve(job_text, result_fd)


def serve(job_text: str, result_fd: int) -> int:
    """Run the job and send its one result frame. The job's key is kept here, out of the
    Job the candidate's process can reach by name."""
    faulthandler.enable()
    job = Job.model_validate_json(job_text)
    key, job = job.key, job.model_copy(update={"key": ""})
    result = run_job(job)
    channel.send(result_fd, channel.frame(key, result))
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
