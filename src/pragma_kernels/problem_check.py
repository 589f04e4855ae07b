"""Does each problem run? `Model(*get_init_inputs())` and one forward on the problem's
smallest inputs, for `pragma problems`: an import only proves the file parses.

Why a child process: a reference can hang, crash or allocate GBs (KernelBench's level-1
files allocate up to tens of GB at their one size), and the listing must survive that. One
child checks the problems in turn (it pays torch's import once), under an address-space
limit, with a time limit per problem; a child that stops answering is killed and a fresh
one takes the rest.

Why a size threshold: before running anything, the inputs', weights' and outputs' bytes
are measured on the meta device (no memory) at every size the file offers (its default
and each SIZES entry). The smallest is run when it is under `max_bytes` (1 GiB, or 1/16
of the memory on a smaller machine); a larger one is reported "not run" with its size.

Verdicts: `bad` is certain breakage (get_inputs, the constructor or forward raised, or
forward returned what the Verifier refuses: it takes a tensor, or a tuple or list of
tensors, compare.flatten_outputs). Running out of time or memory, or needing CUDA, is
`not run`: big or slow is not broken, and `pragma verify` has its own limits.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

GIB = 2**30
STARTUP_S = 120.0  # the child's torch import, on a loaded machine


def _physical_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class CheckLimits:
    max_bytes: int = 0  # 0: min(1 GiB, physical memory / 16)
    timeout_s: float = 30.0  # per problem: import, sizing, construction and forward

    def bytes_limit(self) -> int:
        return self.max_bytes or min(GIB, _physical_bytes() // 16)

    def address_limit(self) -> int:
        """torch's own ~1 GiB of address space, plus room for several times the data."""
        return min(int(_physical_bytes() * 0.75), 3 * GIB + 8 * self.bytes_limit())


@dataclass(frozen=True)
class ProblemCheck:
    status: str  # "ok" | "bad" | "not run"
    detail: str = ""  # what ran or failed, one line
    fix: str = ""
    size: str = ""  # the size that was run (or measured)

    def label(self) -> str:
        """The listing's status cell."""
        return f"ok ({self.size})" if self.status == "ok" and self.size else self.status


def _bad(detail: str, fix: str, size: str) -> ProblemCheck:
    return ProblemCheck("bad", detail, fix, size)


# -- the child: one problem ----------------------------------------------------------------


def _data_bytes(value) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(_data_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_data_bytes(v) for v in value.values())
    return 0


def footprint(path: Path, size: str) -> int | None:
    """Bytes of inputs, weights and outputs at `size`, built on the meta device (no memory);
    None when the file's code cannot run there (then its size is unknown)."""
    import torch

    from pragma_kernels.problems import import_module

    try:
        module = import_module(path, size)
        with torch.device("meta"):
            inputs = module.get_inputs()
            model = module.Model(*module.get_init_inputs())
            total = _data_bytes(inputs) + _data_bytes([*model.parameters(), *model.buffers()])
            try:
                total += _data_bytes(model(*inputs))
            except Exception:  # an operator without a meta kernel: inputs and weights only
                pass
    except Exception:
        return None
    return total


def _smallest(path: Path) -> tuple[str, int | None]:
    """The size with the fewest bytes; the default size when none could be measured."""
    from pragma_kernels.problems import import_module

    sizes = ["default", *(getattr(import_module(path), "SIZES", {}) or {})]
    measured = [(footprint(path, size), size) for size in sizes]
    known = [(nbytes, size) for nbytes, size in measured if nbytes is not None]
    if not known:
        return "default", None
    nbytes, size = min(known)
    return size, nbytes


def resource_reason(exc: BaseException) -> str | None:
    """Why an exception says "out of resources here", not "broken problem"; None otherwise."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text:
        return f"out of memory here ({text[:160]})"
    if "CUDA" in text or "cuda" in text:
        return f"needs CUDA, checked on the CPU only ({text[:160]})"
    return None


def _raised(exc: Exception, path: Path) -> str:
    from pragma_kernels.problems import first_user_frame

    message = " ".join(str(exc).split())[:300]
    return f"raised {type(exc).__name__}: {message}{first_user_frame(exc, path)}"


def _step(what: str, fix: str, work, path: Path, size: str):
    """(work's result, None), or (None, the check's verdict on what it raised)."""
    try:
        return work(), None
    except Exception as exc:
        reason = resource_reason(exc)
        if reason is not None:
            return None, ProblemCheck("not run", f"{what}: {reason}", "", size)
        return None, _bad(f"{what} {_raised(exc, path)}", fix, size)


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a {type(value).__name__} of {len(value)} items ({', '.join(kinds) or 'none'})"
    return f"a {type(value).__name__}"


def check_one(path: Path, max_bytes: int) -> ProblemCheck:
    """Construct the Model and run forward once at the smallest size (in the child)."""
    import torch

    from pragma_kernels.compare import flatten_outputs
    from pragma_kernels.problems import import_module

    size, nbytes = _smallest(path)
    if nbytes is not None and nbytes > max_bytes:
        return ProblemCheck(
            "not run",
            f"{nbytes / GIB:.2f} GiB of inputs, weights and outputs at its smallest size "
            f"({size}) > the {max_bytes / GIB:.2f} GiB limit",
            "to have it checked, give the file a smaller size: SIZES = {'tiny': {...}}",
            size,
        )
    module = import_module(path, size)
    torch.manual_seed(0)
    args, failed = _step(
        "get_inputs() / get_init_inputs()",
        "make each return a list: the forward's and the constructor's arguments",
        lambda: (module.get_inputs(), module.get_init_inputs()),
        path,
        size,
    )
    if failed:
        return failed
    inputs, init = args
    model, failed = _step(
        "Model(*get_init_inputs())",
        "make the constructor accept what get_init_inputs() returns",
        lambda: module.Model(*init),
        path,
        size,
    )
    if failed:
        return failed
    with torch.no_grad():
        out, failed = _step(
            "forward(*get_inputs())",
            "make Model(*get_init_inputs())(*get_inputs()) run on its own",
            lambda: model(*inputs),
            path,
            size,
        )
    if failed:
        return failed
    if flatten_outputs(out) is None:  # the Verifier's own rule for a reference's output
        return _bad(
            f"forward returned {_describe(out)}, not a tensor or a tuple of tensors",
            "return a tensor, or a tuple of tensors: `return (a, b)`",
            size,
        )
    return ProblemCheck("ok", f"constructed and ran forward at size {size}", "", size)


# -- the parent: one child for many problems -----------------------------------------------


def check_problems(paths: list[Path], limits: CheckLimits | None = None) -> list[ProblemCheck]:
    """One ProblemCheck per path, in order; never raises for what a problem does."""
    limits = limits or CheckLimits()
    results: dict[int, ProblemCheck] = {}
    while len(results) < len(paths):
        pending = [i for i in range(len(paths)) if i not in results]
        results.update(_run_child([(i, paths[i]) for i in pending], limits))
    return [results[i] for i in range(len(paths))]


def _run_child(jobs: list[tuple[int, Path]], limits: CheckLimits) -> dict[int, ProblemCheck]:
    """Check `jobs` in one child until it finishes, stops answering or dies; at least the
    first job gets a result, so the caller's loop over fresh children ends."""
    request = {
        "jobs": [[index, str(path)] for index, path in jobs],
        "max_bytes": limits.bytes_limit(),
        "address_limit": limits.address_limit(),
        "alarm_s": int(limits.timeout_s) + 5,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", __name__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the problems' own prints
        text=True,
        start_new_session=True,  # one group to kill, with whatever a problem started
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(child.stdout, lines), daemon=True).start()
    results: dict[int, ProblemCheck] = {}
    try:
        child.stdin.write(json.dumps(request))
        child.stdin.close()
        if _next(lines, STARTUP_S) != {"ready": True}:
            started = ProblemCheck("not run", "the checking process did not start")
            return {index: started for index, _ in jobs}
        for index, _path in jobs:
            answer = _next(lines, limits.timeout_s)
            if answer is None or answer.get("index") != index:
                results[index] = _silent(child, limits.timeout_s)
                break
            results[index] = ProblemCheck(**answer["check"])
    finally:
        _kill(child)
    return results


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next(lines: queue.Queue, timeout_s: float) -> dict | None:
    """The child's next message; None when it said nothing in time or ended."""
    try:
        line = lines.get(timeout=timeout_s)
    except queue.Empty:
        return None
    return json.loads(line) if line else None


def _silent(child: subprocess.Popen, timeout_s: float) -> ProblemCheck:
    """The verdict on the problem the child was checking when it stopped answering."""
    try:
        code = child.wait(timeout=1)  # it may have closed its output and not yet ended
    except subprocess.TimeoutExpired:
        code = None
    if code is None or code == -signal.SIGALRM:
        return ProblemCheck("not run", f"no answer within {timeout_s:g} s (slow or hanging)")
    if code == -signal.SIGKILL:
        return ProblemCheck("not run", "the checking process was killed (out of memory?)")
    if code < 0:
        name = signal.Signals(-code).name
        return _bad(
            f"the reference crashed the process ({name})",
            "run its forward on its own with `python -X faulthandler` to find where",
            "",
        )
    return ProblemCheck("not run", f"the checking process ended (exit code {code})")


def _kill(child: subprocess.Popen) -> None:
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    child.wait()


def _child_main() -> None:
    """`python -m pragma_kernels.problem_check`: the request on stdin, one JSON line per
    problem on the original stdout (the problems' prints go to stderr)."""
    import resource

    request = json.load(sys.stdin)
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    limit = request["address_limit"]
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.alarm(int(STARTUP_S))  # SIGALRM's default action ends a child left behind
    import torch  # noqa: F401 - before "ready", so the parent's per-problem clock is fair

    answers.write(json.dumps({"ready": True}) + "\n")
    for index, path in request["jobs"]:
        signal.alarm(request["alarm_s"])
        try:
            check = check_one(Path(path), request["max_bytes"])
        except Exception as exc:  # e.g. a SIZES entry rebinding an undefined global
            check = _bad(f"{type(exc).__name__}: {exc}", "", "")
        answers.write(json.dumps({"index": index, "check": asdict(check)}) + "\n")


if __name__ == "__main__":
    _child_main()
