"""The candidate file in an LLM reply (pure): models answer with prose, several fenced
blocks, unlabelled fences, truncated fences, or bare code."""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"^(```|~~~)[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^\1[ \t]*$|\Z)", re.M | re.S)
_PYTHON_TAGS = {"", "python", "py", "python3"}


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def _defines_model_new(code: str) -> bool:
    return re.search(r"^class\s+ModelNew\b", code, re.M) is not None


def code_blocks(reply: str) -> list[tuple[str, str]]:
    """(language tag, body) of every fenced block, in order; an unclosed last fence runs to
    the end of the reply (a truncated answer)."""
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(reply)]


def extract_candidate(reply: str) -> str | None:
    """The candidate source: the last Python block that defines ModelNew (models often
    show a draft, then the final file); else bare code that defines it; else None."""
    blocks = [body for tag, body in code_blocks(reply) if tag in _PYTHON_TAGS]
    for body in reversed(blocks):
        if _defines_model_new(body):
            return body.strip() + "\n"
    if not blocks and _defines_model_new(reply) and _parses(reply):
        return reply.strip() + "\n"
    return None
