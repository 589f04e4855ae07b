"""Counting kernel launches, so the worker can fail a forward that launched none.

The backend wraps the one method every launch goes through (a C++ call through the
loader, Triton's `JITFunction.run`) in the worker, before the candidate is imported. The
wrapper holds the counter in its closure and the worker holds it by identity, so
rebinding a module attribute does not reset it; rebinding the wrapped method itself is
tampering (the worker's harness watches it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable


class LaunchCounter:
    """Launches made in this process so far."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


COUNTER = LaunchCounter()


def count_calls(
    owner: type, attr: str, launched: Callable[[dict], bool] | None = None
) -> tuple[str, type, str]:
    """Wrap `owner.attr` (once per process) to count its calls where `launched(kwargs)`;
    returns the (label, owner, attribute) the harness captures."""
    method = owner.__dict__[attr]
    if not getattr(method, "_counts_launches", False):
        counter = COUNTER

        @functools.wraps(method)
        def counted(*args, **kwargs):
            if launched is None or launched(kwargs):
                counter.count += 1
            return method(*args, **kwargs)

        counted._counts_launches = True  # type: ignore[attr-defined]
        setattr(owner, attr, counted)
    return (f"{owner.__module__}.{owner.__qualname__}.{attr}", owner, attr)
