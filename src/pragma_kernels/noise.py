"""Timing noise made visible: a median always travels with its spread, two timings are
called different only outside their noise, and a profile taken on a loaded machine is
flagged (pure; the load average is read by the caller).

On the shared 2-core VM eager swung 6.5-36 ms between attempts: a bare median invited the
Conductor to read noise as a regression, so every prompt figure carries its IQR and sample
count, and comparisons say "within noise" when the interquartile ranges overlap.
"""

from __future__ import annotations

from pydantic import BaseModel

from pragma_kernels.timing import Timing

MIN_BAND = 0.03  # differences under 3 % are never called a change, however tight the IQRs
# The 1-minute load average beyond our own worker's threads, per core, above which the
# machine was busy with someone else's work
LOADED_PER_CORE = 0.5
PROFILE_TIME_FACTOR = 3.0  # a profile's own time this far from the verifier's: distorted
# A median this many times its fastest sample holds scheduler waits, not the kernel: with
# 2 OpenMP threads on 2 busy cores every call waited 12-16 ms in phases lasting seconds,
# and byte-identical kernels read 11.99 and 15.98 ms with IQRs of 0.05-0.09 ms.
WAITS_FACTOR = 5.0
MIN_SAMPLES_FOR_WAITS = 10
# A baseline this many times slower than eager, with a disturbed spread, is not a fair
# baseline: torch.compile timed 40.06 ms (IQR 16 ms) beside a 0.09 ms eager softmax and
# yielded a silent "3.34x vs torch.compile" (hand-answered review, finding 13).
IMPLAUSIBLE_FACTOR = 5.0
DISTURBED_IQR = 0.25  # an IQR above this share of its median: the samples were disturbed


class Spread(BaseModel):
    """One timing as the prompts and records show it."""

    median_ms: float
    iqr_ms: float | None = None  # None: a record from before spreads were kept
    min_ms: float | None = None
    samples: int = 0
    source: str = "measured"  # measured | cached | re-timed (baselines)

    @classmethod
    def of(cls, timing: Timing, source: str = "measured") -> Spread:
        return cls(
            median_ms=timing.median_ms,
            iqr_ms=timing.iqr_ms,
            min_ms=timing.min_ms,
            samples=timing.samples,
            source=source,
        )

    def render(self) -> str:
        """'0.123 ms (median, IQR 0.004 ms, min 0.118, n=40)'."""
        parts = [f"IQR {self.iqr_ms:.2g} ms" if self.iqr_ms is not None else "spread not recorded"]
        if self.min_ms is not None:
            parts.append(f"min {self.min_ms:.4g}")
        if self.samples:
            parts.append(f"n={self.samples}")
        if self.source != "measured":
            parts.append(self.source)
        text = f"{self.median_ms:.4g} ms (median, {', '.join(parts)})"
        if self.waits:
            text += (
                f" [median {self.median_ms / self.min_ms:.0f}x its min: the samples hold "
                "scheduler waits (a loaded machine), not the kernel]"
            )
        return text

    @property
    def waits(self) -> bool:
        """The median sits on scheduler waits: far above the fastest of enough samples (a
        tight IQR does not show it, the waits come in phases)."""
        return (
            self.min_ms is not None
            and self.min_ms > 0
            and self.samples >= MIN_SAMPLES_FOR_WAITS
            and self.median_ms > WAITS_FACTOR * self.min_ms
        )

    @property
    def disturbed(self) -> bool:
        """The samples were disturbed: a median on scheduler waits, or an IQR above
        `DISTURBED_IQR` of the median."""
        wide = self.iqr_ms is not None and self.iqr_ms > DISTURBED_IQR * self.median_ms
        return self.waits or wide

    @property
    def low(self) -> float:
        return self.median_ms - (self.iqr_ms or 0.0) / 2

    @property
    def high(self) -> float:
        return self.median_ms + (self.iqr_ms or 0.0) / 2


def within_noise(a: Spread, b: Spread, band: float = MIN_BAND) -> bool:
    """True when the two medians differ by less than `band`, their interquartile ranges
    (centred on the medians) overlap, or either median holds scheduler waits (Spread.waits):
    the difference is not evidence of a change."""
    if min(a.median_ms, b.median_ms) <= 0:
        return False
    if a.waits or b.waits:
        return True
    if abs(a.median_ms / b.median_ms - 1) < band:
        return True
    return a.low <= b.high and b.low <= a.high


def change_words(current: Spread, reference: Spread) -> str:
    """'faster', 'slower' or 'within noise': current against reference, by time."""
    if within_noise(current, reference):
        return "within noise"
    return "faster" if current.median_ms < reference.median_ms else "slower"


def implausible(baseline: Spread, eager: Spread) -> str:
    """Why a baseline other than eager is not a fair one ('' when it is): over
    `IMPLAUSIBLE_FACTOR` times eager's median with a disturbed spread, so a speedup over it
    says nothing about the kernel."""
    if eager.median_ms <= 0 or not baseline.disturbed:
        return ""
    ratio = baseline.median_ms / eager.median_ms
    if ratio <= IMPLAUSIBLE_FACTOR:
        return ""
    return (
        f"implausible baseline: {baseline.median_ms:.4g} ms, {ratio:.0f}x eager's "
        f"{eager.median_ms:.4g} ms, with a disturbed spread"
    )


def speedup_note(
    candidate: Spread | None, baseline: Spread | None, eager: Spread | None = None
) -> str:
    """What a speedup over `baseline` is worth, in words ('' when it stands): the baseline is
    implausible (`implausible`, against `eager`; None when `baseline` is eager), or the two
    timings are within noise (`within_noise`, the one criterion), so "0.72x vs eager" inside
    eager's IQR is not read as a slowdown."""
    if candidate is None or baseline is None:
        return ""
    if eager is not None and (why := implausible(baseline, eager)):
        return why
    return "within noise" if within_noise(candidate, baseline) else ""


def load_flag(
    load_1min: float | None,
    cores: int,
    profile_ms: float | None = None,
    verifier_ms: float | None = None,
    own_threads: int = 0,
) -> str:
    """Why a profile should not be trusted as taken ('' when nothing is wrong): the machine
    was loaded (the 1-minute load average, less `own_threads` that our worker itself ran,
    above `LOADED_PER_CORE` per core), or the profile's own time of the candidate is
    `PROFILE_TIME_FACTOR` times off the verifier's median."""
    reasons = []
    if load_1min is not None and cores > 0:
        if load_1min - own_threads > LOADED_PER_CORE * cores:
            reasons.append(f"load average {load_1min:.1f} on {cores} cores")
    if profile_ms and verifier_ms and profile_ms > 0 and verifier_ms > 0:
        ratio = profile_ms / verifier_ms
        if ratio > PROFILE_TIME_FACTOR or ratio < 1 / PROFILE_TIME_FACTOR:
            reasons.append(
                f"the profile timed the candidate at {profile_ms:.4g} ms against the "
                f"verifier's {verifier_ms:.4g} ms ({ratio:.1f}x)"
            )
    return "; ".join(reasons)
