"""The judge: correctness decided in a process the candidate never ran in.

The candidate's worker compares its outputs with the reference in its own process, which
the candidate can reach (patch, read, fake). So each forward's outputs are also shipped
out as plain bytes (shipping.py), and a second worker that imports no candidate
recomputes the reference on the same seeds and compares. Its verdict is the one that
stands: a candidate that fooled the in-process comparison fails here, and its timings
are dropped. The in-process comparison stays as the fast path for wrong candidates.

Seeds judged: every verification seed, and the post-timing re-check seed when the
worker reports timings (it ships that forward too). A seed with nothing shipped is a
`result_channel` verdict: the worker claims a check it did not send. Outputs above
`LARGE_OUTPUT_BYTES` a seed (6.4 GB for KernelBench's activations: ~3.7 s a seed to ship
and judge on the H200) are judged on the first verification seed and the re-check seed
only; the others are still compared in the worker. The parent decides from the bytes
shipped for the first seed, whose shapes the judge checks against the reference, so a
candidate cannot shrink what is judged by claiming large outputs.
"""

from __future__ import annotations

from pathlib import Path

from pragma_kernels.evaluation import integrity, shipping
from pragma_kernels.evaluation.schema import Job, JobResult

JUDGED_ACTIONS = ("verify", "time", "attempt")
LARGE_OUTPUT_BYTES = 1 << 30


def applies(job: Job) -> bool:
    return job.action in JUDGED_ACTIONS and bool(job.solution)


def seeds_for(job: Job, result: JobResult) -> list[int]:
    """The seeds the worker must have shipped, given what it reports."""
    seeds = job.seeds[:1] if job.action == "time" else list(job.seeds)
    recheck = integrity.recheck_seed(seeds)  # the worker's, from the seeds it verified
    folder = Path(job.outputs_dir) if job.outputs_dir else None
    if folder and shipping.shipped_bytes(folder, seeds[0]) > LARGE_OUTPUT_BYTES:
        seeds = seeds[:1]
    if "candidate" in result.timings:  # timed, so re-checked on one more seed
        seeds.append(recheck)
    return seeds


def job_for(job: Job, result: JobResult) -> Job:
    return job.model_copy(
        update={
            "action": "judge",
            "solution": None,
            "seeds": seeds_for(job, result),
            "profile": False,
            "metrics": [],
        }
    )


def merge(result: JobResult, judged: JobResult) -> JobResult:
    """The worker's result, unless the judge disagrees: then the judge's verdict alone."""
    if judged.verdict.ok:
        worked = {**result.stage_seconds}
        for stage, seconds in judged.stage_seconds.items():
            worked[f"judge: {stage}"] = seconds
        result.stage_seconds = worked
        return result
    judged.verdict.message = (
        f"{judged.verdict.message} (the candidate's own worker reported it correct; the "
        "judge, a process the candidate never ran in, did not)"
    )
    return JobResult(verdict=judged.verdict, stage_seconds=judged.stage_seconds)
