"""benchmarks/hand_answered_rounds.py: a hand-answered run one request further per round,
through the real SDK and the real loop (CPU, the tiny ReLU fixture)."""

import argparse
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("openai")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "benchmarks"))

from hand_answered_rounds import run_round  # noqa: E402

from .test_loop import candidate, fenced  # noqa: E402

PROBLEM = ROOT / "fixtures" / "problems" / "tiny_relu.py"
KERNEL = fenced(
    candidate("    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;", '"-O3"')
)


@pytest.mark.slow
def test_each_round_replays_the_replies_and_saves_the_next_request(tmp_path):
    replies, out = tmp_path / "replies", tmp_path / "out"
    replies.mkdir()
    args = argparse.Namespace(target="cpu", attempts=2, no_ncu=True)
    first = run_round(PROBLEM, replies, out, args)
    assert "0 replies replayed" in first and "stopped" in first
    assert "You write fast kernels" in (out / "request_01.md").read_text()
    (replies / "01.txt").write_text(KERNEL)
    second = run_round(PROBLEM, replies, out / "round2", args)
    assert "1 replies replayed" in second
    conductor = (out / "round2" / "request_02.md").read_text()
    assert "guiding a kernel writer" in conductor and "# (2) Verifier result\ncorrect" in conductor
    # the verified attempt survives the refused Conductor call, labelled hand-answered
    run = json.loads((out / "round2" / "run" / "run.json").read_text())
    assert run["replies"] == "hand-answered" and run["end"]["attempts_made"] == 1
