"""Baseline timings (eager, torch.compile) measured once per problem and machine, then reused.

Re-timing the baselines at every attempt cost a loop most of its timing time (and a
torch.compile per attempt where compile is a baseline). A cache entry is keyed by
everything that changes the figure: the problem file's bytes, size, dtype (the cast, or
"auto" for the problem's own: never shared with a cast run), backend, threads, the
timing protocol, and the machine's fingerprint (backend.fingerprint(): CPU model and
cores, or GPU model, SMs and driver; torch version).

The drift check: every attempt still times eager briefly (`DRIFT_PROBE_S`) in the same
worker, right after the candidate. When that probe is within `drift_tolerance` of the
cached eager median (10 % to 15 %, by the cached figure's own noise), the cached
baselines stand; otherwise the machine has changed (a
neighbour's load, clocks, another GPU) and the worker re-times every baseline with the
candidate, interleaved, and the cache takes the new figures. Timings taken from the
cache say so in their `method`. Figures taken on a disturbed machine (a CV above 30 %, a
median on scheduler waits: noise.Spread.waits) are used for their attempt but not cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pragma_kernels import config
from pragma_kernels.noise import Spread
from pragma_kernels.timing import Timing

DRIFT_PROBE_S = 0.25  # seconds of eager samples per attempt
MIN_DRIFT_TOLERANCE = 0.10  # drift beyond max(10 %, 3 CVs of the cached eager) re-times,
# and always beyond 15 %: with 50 % a noisy cached eager stood while the attempts' own
# probes said -48 % (hand-answered review), so every speedup was against a stale figure
MAX_DRIFT_TOLERANCE = 0.15
MAX_CACHED_CV = 0.30


def drift_tolerance(cached_eager: Timing) -> float:
    return min(MAX_DRIFT_TOLERANCE, max(MIN_DRIFT_TOLERANCE, 3 * cached_eager.cv))


def probe_words(source: str, drift: float | None, cached_eager_ms: float | None) -> str:
    """The drift check in words a kernel writer reads ('' when no probe ran): "the eager
    probe drifted +254.8%" was jargon and hid the probe's own time."""
    if source not in ("cached", "re-timed") or drift is None or not cached_eager_ms:
        return ""
    probe = (
        f"eager re-timed at {cached_eager_ms * (1 + drift):.4g} ms this attempt, "
        f"{drift:+.1%} from the cached {cached_eager_ms:.4g} ms"
    )
    if source == "cached":
        return f"baselines from the cache ({probe}: close enough, the cached figures stand)"
    return f"baselines re-timed beside this candidate ({probe}: the machine changed)"


def cacheable(timings: dict[str, Timing]) -> bool:
    """Steady enough to stand for later attempts: no figure with a CV above MAX_CACHED_CV
    or a median on scheduler waits."""
    return all(t.cv <= MAX_CACHED_CV and not Spread.of(t).waits for t in timings.values())


def cache_key(problem: Path, *parts: object) -> str:
    digest = hashlib.sha256(problem.read_bytes())
    for part in parts:
        digest.update(b"\0" + str(part).encode())
    return digest.hexdigest()[:32]


class BaselineCache:
    """One JSON file per key under the cache folder: {baseline: Timing}."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or config.cache_dir() / "baselines"

    def get(self, key: str) -> dict[str, Timing]:
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_text())
            return {name: Timing.model_validate(timing) for name, timing in data.items()}
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: time afresh

    def put(self, key: str, timings: dict[str, Timing]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{key}.json"
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps({k: v.model_dump() for k, v in timings.items()}))
        temporary.replace(path)
