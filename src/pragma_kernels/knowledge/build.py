"""`pragma knowledge build`: rebuild compendium entries with PRAGMA's two-stage method.

Stage 1: an LLM summarises each raw documentation chunk (the profiler's own
listing such as `ncu --query-metrics` or `perf list --details`, man pages,
user-supplied files). Stage 2: an LLM merges a profiler's summaries into the
common schema (MetricDoc), one JSON answer, validated like the shipped file.
The LLM is reached through one method (`complete`, pragma_kernels.llm), so tests
replay scripted replies from a local server through the real `openai` SDK.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined

from pragma_kernels.errors import PragmaError
from pragma_kernels.knowledge.compendium import REVEALABLE, Compendium, MetricDoc

CHUNK_CHARS = 6000


class Completer(Protocol):
    def complete(self, prompt: str) -> str: ...


@dataclass(frozen=True)
class DocChunk:
    profiler: str
    source: str
    text: str


def chunk_text(text: str, profiler: str, source: str, limit: int = CHUNK_CHARS) -> list[DocChunk]:
    """Split on blank lines into chunks of at most ~`limit` characters (pure)."""
    chunks, current = [], ""
    for block in re.split(r"\n\s*\n", text):
        if current and len(current) + len(block) > limit:
            chunks.append(DocChunk(profiler, source, current.strip()))
            current = ""
        current += block + "\n\n"
    if current.strip():
        chunks.append(DocChunk(profiler, source, current.strip()))
    return chunks


_templates = Environment(
    loader=PackageLoader("pragma_kernels.knowledge", "prompts"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def summarise_prompt(chunk: DocChunk) -> str:
    return _templates.get_template("summarise.j2").render(
        profiler=chunk.profiler, source=chunk.source, text=chunk.text, bottlenecks=REVEALABLE
    )


def merge_prompt(profiler: str, names: list[str], summaries: list[str]) -> str:
    return _templates.get_template("merge.j2").render(
        profiler=profiler, names=names, summaries=summaries, bottlenecks=REVEALABLE
    )


def parse_merged(reply: str, profiler: str) -> list[MetricDoc]:
    """The stage-2 JSON answer, read leniently (fences, prose around it), validated strictly."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        raise PragmaError(f"the merge answer for {profiler} holds no JSON object")
    try:
        data = json.loads(reply[start : end + 1])
        return [
            MetricDoc.model_validate({**entry, "profiler": profiler}) for entry in data["metrics"]
        ]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PragmaError(
            f"the merge answer for {profiler} does not fit the schema: {str(exc)[:500]}"
        ) from None


def build_entries(chunks: list[DocChunk], names: list[str], llm: Completer) -> list[MetricDoc]:
    """Stage 1 on every chunk, stage 2 per profiler; returns the merged entries."""
    summaries: dict[str, list[str]] = {}
    for chunk in chunks:
        summaries.setdefault(chunk.profiler, []).append(llm.complete(summarise_prompt(chunk)))
    entries = []
    for profiler, texts in summaries.items():
        entries += parse_merged(llm.complete(merge_prompt(profiler, names, texts)), profiler)
    return entries


def updated_compendium(base: Compendium, entries: list[MetricDoc]) -> dict:
    """The compendium as JSON data with `entries` replacing or adding (profiler, name)."""
    replaced = {(e.profiler, e.name) for e in entries}
    kept = [m for m in base.metrics if (m.profiler, m.name) not in replaced]
    return {
        "version": 1,
        "description": "What each profiler metric means, for the Conductor "
        "prompt (entries rebuilt by `pragma knowledge build` are marked in the git history)",
        "metrics": [m.model_dump() for m in [*kept, *entries]],
    }


def write_compendium(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=True) + "\n")


# Local documentation a profiler prints about itself: `--source tool:NAME`.
TOOL_SOURCES: dict[str, list[str]] = {
    "perf-list": ["perf", "list", "--details"],
    "ncu-query": ["ncu", "--query-metrics"],
    "ncu-query-gh100": ["ncu", "--query-metrics", "--chip", "gh100"],
    "cachegrind-help": ["valgrind", "--tool=cachegrind", "--help"],
    "perf-stat-man": ["man", "perf-stat"],
}


def tool_output(name: str) -> str:
    command = TOOL_SOURCES.get(name)
    if command is None:
        raise PragmaError(f"unknown tool source {name!r}; known: {', '.join(TOOL_SOURCES)}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PragmaError(
            f"tool source {name}: `{' '.join(command)}` could not run ({exc}). "
            "Fix: install the tool, or pass its documentation as a file"
        ) from None
    if done.returncode != 0 or not done.stdout.strip():
        raise PragmaError(
            f"tool source {name}: `{' '.join(command)}` gave no documentation "
            f"({done.stderr.strip()[-200:]})"
        )
    return done.stdout


def read_sources(paths: list[Path], profiler: str) -> list[DocChunk]:
    """Documentation chunks from files, or from `tool:NAME` (see TOOL_SOURCES)."""
    chunks = []
    for path in paths:
        if str(path).startswith("tool:"):
            name = str(path).removeprefix("tool:")
            chunks += chunk_text(tool_output(name), profiler, f"`{' '.join(TOOL_SOURCES[name])}`")
            continue
        try:
            chunks += chunk_text(path.read_text(), profiler, str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise PragmaError(f"{path}: cannot read this documentation source ({exc})") from None
    return chunks
