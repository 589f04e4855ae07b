"""The agents' prompts: jinja2 templates (agents/prompts/*.j2) rendered from typed views.

Coder (first attempt, revision), single-agent revision, and the Conductor with
PRAGMA's five components: current code, verifier result with cause and remedy,
metric meanings, the profile, and the historical best with its profile (plus the
rule diagnosis and the current-vs-best comparison as evidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, StrictUndefined

_TEMPLATES = Environment(
    loader=PackageLoader("pragma_kernels.agents", "prompts"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class ProblemView:
    name: str
    category: str
    target: str  # the target word: "cpu" | "gpu"
    source: str  # the reference file
    inputs: str = ""  # the forward's arguments at the timed size (problems.describe_inputs)
    knobs: str = ""  # what the Conductor may tell the writer to turn (the backend's)
    metric_names: str = ""  # how the extra metrics the Conductor asks for are spelled


@dataclass(frozen=True)
class AttemptView:
    """An attempt as the prompts show it (texts already rendered)."""

    number: int
    code: str
    outcome: str  # e.g. "correct, 1.84x faster than eager" or "failed: numerical_mismatch"
    verdict_detail: str = ""  # cause and remedy of a failure, compiler/trace excerpt
    profile: str = ""  # Profile.render_text(meanings=False)
    diagnosis: str = ""  # Diagnosis.render_text()
    profile_note: str = ""  # why the profile may be distorted (a loaded machine)


@dataclass(frozen=True)
class Advice:
    """What the Coder is handed from the Conductor: its analysis whole (bottleneck,
    evidence, comparison, actions) and the loop's measured "Current vs best" block."""

    bottleneck: str = ""
    actions: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    comparison: str = ""  # the Conductor's words
    measured: str = ""  # the loop's comparison with the best (times with spreads)


@dataclass(frozen=True)
class RunFacts:
    """What every Coder prompt states, first or revision: the hardware, how candidates are
    timed, the baselines' times (with spreads) and the attempts left."""

    hardware: str
    timing: str = ""  # the timing method
    baselines: str = ""  # "eager 0.21 ms (median, IQR ...); compile ..." or why not yet
    attempt: int = 1  # the attempt this prompt is for
    attempts: int | None = None  # allowed in the run

    @property
    def attempts_left(self) -> int | None:
        """After this one."""
        return None if self.attempts is None else max(0, self.attempts - self.attempt)


def backend_rules(template: str, **facts) -> str:
    """A backend's candidate rules (its `rules_template`); facts: dtype, tolerance and what
    the backend's `rules_facts` gives."""
    return _TEMPLATES.get_template(template).render(**facts).strip()


def coder_first(problem: ProblemView, backend: str, facts: RunFacts) -> str:
    return _TEMPLATES.get_template("coder_first.j2").render(
        problem=problem, backend=backend, facts=facts
    )


def coder_revise(
    problem: ProblemView,
    backend: str,
    attempt: AttemptView,
    advice: Advice,
    facts: RunFacts,
    best: AttemptView | None = None,
) -> str:
    """`best`: the historical best when it is not the previous attempt (advice may say to
    go back to it)."""
    return _TEMPLATES.get_template("coder_revise.j2").render(
        problem=problem, backend=backend, attempt=attempt, advice=advice, best=best, facts=facts
    )


def single_revise(
    problem: ProblemView,
    backend: str,
    attempt: AttemptView,
    facts: RunFacts,
    best: AttemptView | None = None,
) -> str:
    """`best`: the historical best when it is not the previous attempt."""
    return _TEMPLATES.get_template("single_revise.j2").render(
        problem=problem, backend=backend, attempt=attempt, best=best, facts=facts
    )


def conductor(
    problem: ProblemView,
    hardware: str,
    current: AttemptView,
    best: AttemptView | None,
    meanings: dict[str, str],
    comparison: str = "",
    profiles: bool = True,
    attempts_left: int | None = None,
    timing: str = "",
) -> str:
    """`profiles=False` is the no-profile ablation: correctness and time only. `meanings`:
    the glossary, for the metrics this prompt shows only."""
    return _TEMPLATES.get_template("conductor.j2").render(
        timing=timing,
        problem=problem,
        hardware=hardware,
        current=current,
        best=best,
        meanings=meanings,
        comparison=comparison,
        profiles=profiles,
        attempts_left=attempts_left,
    )
