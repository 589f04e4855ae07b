"""`pragma knowledge build` through the real openai SDK against a scripted local server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pragma_kernels.cli import app
from pragma_kernels.knowledge import load_compendium
from pragma_kernels.knowledge.build import chunk_text, parse_merged
from pragma_kernels.llm.scripted import ScriptedLLM

pytest.importorskip("openai")

MERGED = {
    "metrics": [
        {
            "name": "cycles",
            "unit": "count",
            "measures": "CPU cycles elapsed while the counted code ran.",
            "how": "The PMU's cycle counter, read by perf stat.",
            "high_means": "Many cycles: slow code; compare with instructions for IPC.",
            "low_means": "Few cycles: fast, or little work counted.",
            "reveals": ["cache_miss_bound", "frontend_bound"],
            "remedies": ["Compute IPC = instructions / cycles before acting"],
        }
    ]
}


def test_chunking_keeps_blocks_whole():
    text = "\n\n".join(f"metric{i}: description {i}" * 10 for i in range(20))
    chunks = chunk_text(text, "perf", "perf-list.txt", limit=1000)
    assert len(chunks) > 1 and all(len(c.text) < 1400 for c in chunks)
    assert "".join(c.text for c in chunks).count("metric19") == 10


def test_merge_answer_is_read_leniently_and_validated_strictly():
    reply = "Here you go:\n```json\n" + json.dumps(MERGED) + "\n```"
    assert parse_merged(reply, "perf")[0].name == "cycles"
    bad = json.dumps({"metrics": [{**MERGED["metrics"][0], "reveals": ["slowness"]}]})
    with pytest.raises(Exception, match="does not fit the schema"):
        parse_merged(bad, "perf")


def test_two_stage_build_through_the_sdk(tmp_path, monkeypatch):
    docs = tmp_path / "perf-list.txt"
    docs.write_text("cycles\n  [Hardware event]\n\n" + "instructions\n  [Hardware event]\n" * 400)
    llm = ScriptedLLM(["summary of chunk 1", "summary of chunk 2", json.dumps(MERGED)])
    monkeypatch.setenv("TEST_KEY", "secret")
    out = tmp_path / "compendium.json"
    try:
        result = CliRunner().invoke(
            app,
            [
                "knowledge",
                "build",
                "--profiler",
                "perf",
                "--source",
                str(docs),
                "--metric",
                "cycles",
                "--base-url",
                llm.base_url,
                "--model",
                "scripted",
                "--api-key-env",
                "TEST_KEY",
                "--out",
                str(out),
            ],
        )
    finally:
        llm.close()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(llm.prompts()) == 3  # stage 1 per chunk, then one merge
    assert "[Hardware event]" in llm.prompts()[0] and 'profiler "perf"' in llm.prompts()[0]
    assert "summary of chunk 1" in llm.prompts()[2] and "cycles" in llm.prompts()[2]
    for prompt in (llm.prompts()[0], llm.prompts()[2]):  # both stages name the classes
        assert "cache_miss_bound" in prompt and "memory_bandwidth_bound" in prompt
    rebuilt = load_compendium(out)
    assert rebuilt.get("perf", "cycles").measures.startswith("CPU cycles elapsed")
    assert len(rebuilt) == len(load_compendium())  # others kept, cycles replaced


@pytest.mark.slow
def test_unreachable_endpoint_is_a_clear_error(tmp_path):
    docs = tmp_path / "doc.txt"
    docs.write_text("cycles\n")
    result = CliRunner().invoke(
        app,
        [
            "knowledge",
            "build",
            "--profiler",
            "perf",
            "--source",
            str(docs),
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--out",
            str(tmp_path / "c.json"),
        ],
    )
    assert result.exit_code == 2 and "failed" in result.stderr


def test_tool_sources_run_the_profilers_own_documentation(monkeypatch):
    from pragma_kernels.errors import PragmaError
    from pragma_kernels.knowledge import build

    monkeypatch.setitem(build.TOOL_SOURCES, "fake-list", ["printf", "cycles\\n  [event]\\n"])
    chunks = build.read_sources([build.Path("tool:fake-list")], "perf")
    assert chunks[0].text == "cycles\n  [event]" and "printf" in chunks[0].source
    with pytest.raises(PragmaError, match="unknown tool source"):
        build.read_sources([build.Path("tool:nope")], "perf")
    monkeypatch.setitem(build.TOOL_SOURCES, "missing", ["definitely-not-installed-tool"])
    with pytest.raises(PragmaError, match="could not run"):
        build.read_sources([build.Path("tool:missing")], "perf")
