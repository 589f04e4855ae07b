"""Evaluation: the Verifier, Timer and Profiler around isolated workers.

schema.py (the Job / JobResult wire format), worker.py (the child's entry point),
isolation.py (a job in its own process with limits, forked from a warm server by
forkserver.py or started fresh; process.py holds the limits both apply), jobs.py
(verify, time, profile and whole attempts from the caller's side), evaluator.py
(what the loop calls). Below it: backends/ (what differs per target); above it: agents and loop.
"""

from pragma_kernels.evaluation.evaluator import Evaluation, Evaluator, LocalEvaluator, Timed
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.evaluation.jobs import (
    BASELINES,
    DEFAULT_TOLERANCE,
    DTYPES,
    TimeOptions,
    TimeReport,
    VerifyOptions,
    profile_candidate,
    time_problem,
    verify,
)

__all__ = [
    "BASELINES",
    "DEFAULT_TOLERANCE",
    "DTYPES",
    "Evaluation",
    "Evaluator",
    "Limits",
    "LocalEvaluator",
    "Timed",
    "TimeOptions",
    "TimeReport",
    "VerifyOptions",
    "profile_candidate",
    "time_problem",
    "verify",
]
