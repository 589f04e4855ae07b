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


@dataclass(frozen=True)
class Advice:
    bottleneck: str = ""
    actions: list[str] = field(default_factory=list)


def backend_rules(template: str, **facts) -> str:
    """A backend's candidate rules (its `rules_template`); facts: dtype, tolerance and what
    the backend's `rules_facts` gives."""
    return _TEMPLATES.get_template(template).render(**facts).strip()


def coder_first(problem: ProblemView, backend: str, hardware: str) -> str:
    return _TEMPLATES.get_template("coder_first.j2").render(
        problem=problem, backend=backend, hardware=hardware
    )


def coder_revise(
    problem: ProblemView,
    backend: str,
    attempt: AttemptView,
    advice: Advice,
    best: AttemptView | None = None,
) -> str:
    """`best`: the historical best when it is not the previous attempt (advice may say to
    go back to it)."""
    return _TEMPLATES.get_template("coder_revise.j2").render(
        problem=problem, backend=backend, attempt=attempt, advice=advice, best=best
    )


def single_revise(
    problem: ProblemView, backend: str, attempt: AttemptView, best: AttemptView | None = None
) -> str:
    """`best`: the historical best when it is not the previous attempt."""
    return _TEMPLATES.get_template("single_revise.j2").render(
        problem=problem, backend=backend, attempt=attempt, best=best
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
) -> str:
    """`profiles=False` is the no-profile ablation: correctness and time only."""
    return _TEMPLATES.get_template("conductor.j2").render(
        problem=problem,
        hardware=hardware,
        current=current,
        best=best,
        meanings=meanings,
        comparison=comparison,
        profiles=profiles,
        attempts_left=attempts_left,
    )
