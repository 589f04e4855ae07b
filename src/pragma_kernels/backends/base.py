"""The one seam for "where does the candidate run": a Backend.

Every question whose answer depends on the target is a method or attribute here:
the torch device and memory limits of its workers, the rules and hardware text the
prompts show, how the worker synchronises, times and profiles, which profilers,
diagnosis rules, hints and key metrics apply, and which offline templates and
variants the offline agent may use. Nothing outside `backends/` asks "is this the
CPU or the GPU?"; docs/design.md lists the few places that still know and why.

A backend is one folder (`cpp_cpu/`, `triton_cuda/`, `triton_interpreter/`). Parent
side methods run in the caller; `sync`, `measure` and `profile_in_worker` run inside
the isolated worker. Heavy imports (triton, the profilers) stay inside methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pragma_kernels.static_policy import StaticPolicy

if TYPE_CHECKING:
    from pragma_kernels.diagnosis.classes import Bottleneck
    from pragma_kernels.diagnosis.model import Diagnosis
    from pragma_kernels.diagnosis.rules import RuleSet
    from pragma_kernels.evaluation.schema import Job, JobResult
    from pragma_kernels.limits import Limits
    from pragma_kernels.offline.recorded import Recognised
    from pragma_kernels.profilers.schema import Profile
    from pragma_kernels.runtime.launches import LaunchCounter
    from pragma_kernels.timing import Timing
    from pragma_kernels.timing_protocols import TimingProtocol
    from pragma_kernels.verdict import Verdict

    RunJob = Callable[[Job, Limits, list[str] | None], JobResult]


class BackendUnavailable(Exception):
    """This machine cannot run the backend; the message says why and what to do."""


@dataclass
class ProfileContext:
    """What a backend's in-worker profiler gets: the models, inputs and job facts."""

    candidate: Any
    reference: Any
    inputs: list
    dtype: str
    threads: int
    solution: str
    metrics: list[str]
    small_calls: Callable | None = None  # (factor) -> C++ calls on a smaller problem, and which


class Backend:
    """What a backend implements. Subclasses set the class attributes and override the
    methods their target needs; the defaults describe a backend without profilers."""

    name: ClassVar[str]  # registry key, e.g. "cpp-cpu"
    target: ClassVar[str]  # the word users type for it: "cpu" | "gpu" (a label only)
    language: ClassVar[str]  # what candidates are written in: "C++", "Triton"
    device: ClassVar[str]  # torch device of inputs and weights in the worker
    default_size: ClassVar[str]  # the problems' SIZES key used unless the user picks one
    # "address": RLIMIT_AS in the worker; "resident": a watchdog on VmRSS (CUDA reserves far
    # more address space than memory, so an address limit would refuse every CUDA worker).
    memory_limit: ClassVar[Literal["address", "resident"]] = "address"
    # Imported by the warm worker server before it forks a job's worker (never CUDA-initialising).
    worker_imports: ClassVar[tuple[str, ...]] = (
        "torch",
        "torch._dynamo",  # the worker imports it before capturing the harness: 1.3 s fresh
        # Not torch._inductor (torch.compile's backend, 3-4 s at a job's first compile): on
        # the GPU its import poisons forks for CUDA; on the CPU it slows every server's start
        # by more than it saves (the compile baseline is timed once per problem, then cached).
        "pragma_kernels.evaluation.worker",
    )
    # Whether the worker fails a candidate that leaves threads or child processes running
    # after forward (evaluation/integrity.py). Off where not yet validated on the hardware.
    watch_background: ClassVar[bool] = True
    # Which candidate rules fail a job, warn or are off (static_policy.py): user overrides
    # (--allow, PRAGMA_ALLOW) relax it per job.
    static_policy: ClassVar[StaticPolicy] = StaticPolicy()
    # What a kernel launch is here, for the no_kernel verdict.
    kernel_words: ClassVar[str] = "a kernel"
    can_profile: ClassVar[bool] = False
    why_no_profile: ClassVar[str] = ""
    # Prompt template (agents/prompts/) with the candidate rules for this backend.
    rules_template: ClassVar[str]
    # The Conductor's vocabulary: the knobs it may name, how it spells metrics to ask for.
    knobs: ClassVar[str] = ""
    metric_names: ClassVar[str] = ""
    # Metrics compared between the current attempt and the best (diagnosis/compare.py).
    key_metrics: ClassVar[tuple[str, ...]] = ()

    # -- availability and texts (parent) ------------------------------------------------
    @classmethod
    def check_available(cls) -> None:
        """Raise BackendUnavailable (with a fix) when this machine cannot run it."""

    def describe(self, threads: int) -> str:
        return f"{self.target} ({self.language}, {threads} CPU threads)"

    def hardware_text(self, threads: int) -> str:
        raise NotImplementedError

    def rules_facts(self, threads: int) -> dict[str, Any]:
        """Facts the rules template needs beyond dtype and tolerance."""
        return {}

    def sm_count(self) -> int | None:
        return None

    def fingerprint(self) -> str:
        """What identifies this machine for cached baseline timings (evaluation/baselines.py):
        a timing taken under another fingerprint is never reused."""
        import platform

        import torch

        return f"{self.name}; torch {torch.__version__}; {platform.machine()}"

    def worker_env(self) -> dict[str, str]:
        """Environment the worker process needs (read at its start, e.g. glibc tunables)."""
        return {}

    def timing_protocol(self, budget_s: float | None = None) -> TimingProtocol:
        raise NotImplementedError

    def timing_label(self, method: str) -> str:
        return method

    # -- inside the worker ----------------------------------------------------------------
    def count_launches(self) -> tuple[LaunchCounter, list[tuple[str, object, str]]] | None:
        """Before the candidate is imported: wrap what every kernel launch goes through
        (runtime/launches.py). Returns the counter and the wrapped methods, for the harness's
        identity checks; None: this backend's launches are not counted."""
        return None

    def sync(self) -> None:
        """Wait for queued device work (asynchronous faults surface here)."""

    def measure(
        self, callables: Mapping[str, Callable], protocol: TimingProtocol
    ) -> dict[str, Timing]:
        raise NotImplementedError

    def profile_in_worker(self, context: ProfileContext) -> Profile:
        raise NotImplementedError(self.why_no_profile)

    # -- profiling from the parent ---------------------------------------------------------
    def profile_needs_own_process(self, use_ncu: bool) -> bool:
        """True when the profile must run in a worker of its own, e.g. under a profiler that
        wraps the process (Nsight Compute); else it can share the attempt's worker."""
        return False

    def profile_job(
        self, job: Job, limits: Limits, run: RunJob, use_ncu: bool
    ) -> tuple[Verdict, Profile | None]:
        """Run the profile job; `run(job, limits, wrapper)` runs it isolated, its command
        prefixed by `wrapper` (a profiler's command line) or not (None)."""
        result = run(job, limits, None)
        if result.profile is not None:
            result.profile.overhead_s = {**result.breakdown(), **result.profile.overhead_s}
        return result.verdict, result.profile

    # -- diagnosis --------------------------------------------------------------------------
    def rule_set(self) -> RuleSet | None:
        """The diagnosis rules and hints for this backend's profiles (None: no profiles)."""
        return None

    def diagnose(self, profile: Profile, source: str) -> Diagnosis:
        from pragma_kernels.diagnosis.rules import diagnose

        rule_set = self.rule_set()
        if rule_set is None:
            raise NotImplementedError(f"{self.name} has no diagnosis: {self.why_no_profile}")
        return diagnose(profile, rule_set, self.sm_count(), source)

    # -- offline agent ----------------------------------------------------------------------
    def offline_generators(self) -> Mapping[str, Callable]:
        """Template family -> generator(recognised problem, variant) -> candidate source."""
        return {}

    def offline_variants(self, problem: Recognised) -> tuple:
        """The variants worth an attempt on this problem, the default first."""
        return ()

    def offline_preferred(self) -> Mapping[Bottleneck, str]:
        """Bottleneck -> the variant name the offline agent tries first for it."""
        return {}

    def offline_source(self, problem: Recognised, variant) -> str:
        return self.offline_generators()[problem.family](problem, variant)
