"""The Ray executor: a bench over the nodes of a Ray cluster (docs/design.md, "Bench on many
nodes").

What runs where:
- the driver (this process) starts the evaluation actors, sends each pair's loop to a task,
  and, as each task ends, hands its result to runner.py, which alone writes the store;
- one evaluation actor per GPU (`num_gpus=1`), or on a CPU target one per node holding all
  of that node's CPUs: it runs one attempt at a time (an actor's calls queue), so builds,
  timings and profiles never run beside each other; the actor is the device lease;
- one task per pair runs the loop (its LLM calls, so conversations overlap), on its actor's
  node (the target, hardware text and rules it gives the LLM are that node's), asking for no
  CPU: it waits on the LLM and on the actor. Its evaluations go to the actor as text (the
  problem's and the candidate's), which the actor writes to a temporary folder of its own.

Ray is imported when an executor is made, never by `import pragma_kernels`.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pragma_kernels import backends
from pragma_kernels.bench.pairs import BenchOptions, Pair, PairResult, failed_pair, run_pair
from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluation.jobs import AttemptOptions, AttemptResult, run_attempt
from pragma_kernels.targets import Target

INSTALL = "pip install 'pragma-kernels[ray]'"
ACTORS_START_S = 300  # an actor not placed by then: the cluster lacks the resources


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PragmaError(
            f"--executor ray needs Ray, which is not installed. Fix: {INSTALL}"
        ) from None
    return ray


@dataclass(frozen=True)
class Source:
    """A file sent to an actor as text: its name (module names come from it) and content."""

    name: str
    text: str

    @classmethod
    def of(cls, path: Path) -> Source:
        path = Path(path)
        return cls(path.name, path.read_text())


class EvaluationActor:
    """Runs attempts for the loop tasks, one at a time. Reads nothing of the bench's files:
    the problem is written once per content, each candidate into a folder of its own that
    goes when its attempt ends."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pragma-eval-"))
        self.total_s = 0.0

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def spent(self) -> float:
        return self.total_s

    def attempt(
        self, problem: Source, candidate: Source, target: Target, options: AttemptOptions
    ) -> tuple[AttemptResult, float]:
        """The attempt's result and the seconds it took here."""
        # Ray's workers block SIGINT, and a blocked signal stays blocked in every process
        # they start: perf stat, which stops on SIGINT, would hang the profile (30 s, then
        # no profile). The attempt's workers (forked from here) must start with it open.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        start = time.monotonic()
        digest = hashlib.sha256(problem.text.encode()).hexdigest()[:16]
        problem_path = self.folder / "problems" / digest / problem.name
        if not problem_path.exists():
            problem_path.parent.mkdir(parents=True, exist_ok=True)
            problem_path.write_text(problem.text)
        call = Path(tempfile.mkdtemp(dir=self.folder, prefix="attempt-"))
        try:
            (call / candidate.name).write_text(candidate.text)
            result = run_attempt(problem_path, call / candidate.name, target, options)
        finally:
            shutil.rmtree(call, ignore_errors=True)
            spent = time.monotonic() - start
            self.total_s += spent
        return result, spent


class ActorRunner:
    """The loop task's `attempt_runner`: sends each attempt to its actor and counts the
    seconds the actor spent on it (the pair's device seconds)."""

    def __init__(self, actor: Any):
        self.actor, self.spent_s = actor, 0.0

    def __call__(
        self, problem: Path, candidate: Path, target: Target, options: AttemptOptions
    ) -> AttemptResult:
        import ray

        call = self.actor.attempt.remote(Source.of(problem), Source.of(candidate), target, options)
        result, spent = ray.get(call)
        self.spent_s += spent
        return result


def run_loop(pair: Pair, bench_dir: Path, options: BenchOptions, actor: Any) -> PairResult:
    """A loop task's body: the pair's loop, evaluated by `actor`."""
    runner = ActorRunner(actor)
    return run_pair(
        pair, bench_dir, options, lease_seconds=lambda: runner.spent_s, attempt_runner=runner
    )


def wants_gpu(word: str | None, gpus: int) -> bool:
    """Whether target `word` runs on the cluster's GPUs (else on its nodes' CPUs)."""
    if word is None:
        return gpus > 0
    names = backends.TARGETS.get(word) or ((word,) if word in backends.BACKENDS else ())
    if not names:
        choices = ", ".join([*backends.TARGETS, *backends.BACKENDS])
        raise PragmaError(f"unknown target {word!r}. Fix: use one of {choices}")
    if backends.BACKENDS[names[0]].device != "cuda":
        return False
    if gpus or len(names) > 1:  # "gpu" without GPUs: Triton's interpreter, where enabled
        return gpus > 0
    raise PragmaError(
        f"target {word!r} needs a GPU and the Ray cluster has none. Fix: add GPU nodes, "
        "or bench --target cpu"
    )


def actor_options(ray: Any, word: str | None) -> list[dict]:
    """Ray options of each evaluation actor: one per GPU, else one per node with CPUs."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    gpus = sum(int(node["Resources"].get("GPU", 0)) for node in nodes)
    if wants_gpu(word, gpus):
        return [{"num_gpus": 1, "num_cpus": 1} for _ in range(gpus)]
    found = [
        {
            "num_cpus": int(node["Resources"]["CPU"]),
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
        }
        for node in nodes
        if int(node["Resources"].get("CPU", 0)) > 0
    ]
    if not found:
        raise PragmaError("the Ray cluster has no node with CPUs. Fix: check `ray status`")
    return found


class RayExecutor:
    """Runs a bench's pairs on a Ray cluster: `jobs` loop tasks at once (their LLM calls
    overlap; several per actor keep the devices busy), one evaluation at a time per actor.
    `address`: the cluster's ("auto": the one `ray start` made here); None: the Ray this
    process already joined, else a new local one. A Ray this executor started is shut
    down when the run ends; its workers' logs stay in Ray's session folder."""

    def __init__(self, address: str | None = None, jobs: int = 1):
        self.ray = import_ray()
        self.address, self.jobs = address, max(1, jobs)
        self.lease_s = 0.0  # seconds the actors spent evaluating, summed when a run ends
        self.devices = 1  # evaluation actors (one per GPU), known once they start

    def device_seconds(self) -> dict[str, float]:
        """Per device: not kept (the actors' seconds are summed in lease_s)."""
        return {}

    def run(
        self, pairs: list[Pair], bench_dir: Path, options: BenchOptions
    ) -> Iterator[PairResult]:
        if not pairs:
            return
        ray = self.ray
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, log_to_driver=False)
        actors: list = []
        try:
            make = ray.remote(EvaluationActor)
            actors = [make.options(**spec).remote() for spec in actor_options(ray, options.target)]
            nodes = self._nodes(actors)
            self.devices = max(1, len(actors))
            # Tasks on other nodes see the bench directory at the driver's absolute path.
            yield from self._schedule(pairs, bench_dir.resolve(), options, actors, nodes)
        finally:
            self.lease_s += self._spent(actors)
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()

    def _nodes(self, actors: list) -> list[str]:
        try:
            return self.ray.get([actor.node.remote() for actor in actors], timeout=ACTORS_START_S)
        except self.ray.exceptions.GetTimeoutError:
            raise PragmaError(
                f"the {len(actors)} evaluation actors did not all start in {ACTORS_START_S} s: "
                "the cluster's GPUs or CPUs are taken. Fix: check `ray status`"
            ) from None

    def _schedule(
        self, pairs: list[Pair], bench_dir: Path, options: BenchOptions, actors: list, nodes: list
    ) -> Iterator[PairResult]:
        """`jobs` tasks in flight, each new pair to the actor with the fewest; each result
        yielded as its task ends (a task that died is the pair's "error" row)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        task = ray.remote(num_cpus=0)(run_loop)
        load = [0] * len(actors)
        running: dict = {}  # task ref -> (pair, actor index, start)

        def submit(pair: Pair) -> None:
            index = load.index(min(load))
            load[index] += 1
            where = NodeAffinitySchedulingStrategy(nodes[index], soft=False)
            ref = task.options(scheduling_strategy=where).remote(
                pair, bench_dir, options, actors[index]
            )
            running[ref] = (pair, index, time.monotonic())

        todo = iter(pairs)
        for pair in todo:
            submit(pair)
            if len(running) >= self.jobs:
                break
        try:
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                pair, index, start = running.pop(ref)
                load[index] -= 1
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a dead task's pair is an error row
                    result = failed_pair(pair, bench_dir, exc, time.monotonic() - start)
                yield result
                following = next(todo, None)
                if following is not None:
                    submit(following)
        finally:
            for ref in running:  # stopped early: their attempts so far are in the run dirs
                ray.cancel(ref)

    def _spent(self, actors: list) -> float:
        total = 0.0
        for actor in actors:
            with suppress(Exception):  # a dead actor's seconds are lost
                total += self.ray.get(actor.spent.remote(), timeout=30)
        return total
