"""The worker's result channel: one framed result per job, over a file descriptor the
parent (or the fork server) owns, never a path the candidate could find in argv.

The parent makes a fresh key (a nonce) per job; the worker sends exactly one frame
`{"key": KEY, "result": {...}}`. A candidate runs in the worker's process, so it can
write to the same descriptor: what it writes is told apart by count and key. No frame,
two frames, a frame with another key or one that does not parse is a `result_channel`
verdict of its own (verdict.py), not a result. Correctness itself is not taken from the
frame's word: the judge (judge.py) re-checks the outputs in a clean process."""

from __future__ import annotations

import json
import os
import secrets

from pydantic import ValidationError

from pragma_kernels.evaluation.schema import JobResult

MAX_RESULT_BYTES = 64 << 20


def new_key() -> str:
    return secrets.token_hex(16)


def frame(key: str, result: JobResult) -> bytes:
    return json.dumps({"key": key, "result": result.model_dump(mode="json")}).encode() + b"\n"


def send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_all(fd: int) -> bytes:
    """Everything written to a memfd-like descriptor so far, from its start."""
    chunks, offset = [], 0
    while offset < MAX_RESULT_BYTES:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def parse(data: bytes, key: str) -> JobResult | str | None:
    """The job's result; a string saying what is wrong with the channel's contents; None if
    nothing was sent."""
    frames = [line for line in data.split(b"\n") if line.strip()]
    if not frames:
        return None
    if len(frames) > 1:
        return f"{len(frames)} results were sent for one job (the worker sends one)"
    try:
        message = json.loads(frames[0])
    except ValueError:
        return "the result does not parse"
    if not isinstance(message, dict) or message.get("key") != key:
        return "the result does not carry this job's key (it was not written by the worker)"
    try:
        return JobResult.model_validate(message.get("result"))
    except ValidationError as exc:
        return f"the result is malformed: {str(exc)[:400]}"
