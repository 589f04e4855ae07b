"""The Conductor's answer, read leniently: a JSON object (fenced or bare), else the prose
itself as the one action, so the Coder always gets the advice that was given."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, Field, ValidationError, field_validator

from pragma_kernels.agents.extract import code_blocks


class ConductorAdvice(BaseModel):
    bottleneck: str = ""
    evidence: list[str] = Field(default_factory=list)
    comparison: str = ""
    actions: list[str] = Field(default_factory=list)
    extra_metrics: list[str] = Field(default_factory=list)
    structured: bool = True  # False: the reply was not the asked-for JSON

    @field_validator("evidence", "actions", "extra_metrics", mode="before")
    @classmethod
    def _as_list(cls, value):
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value.strip() else []
        return [v if isinstance(v, str) else json.dumps(v) for v in value]

    @field_validator("bottleneck", "comparison", mode="before")
    @classmethod
    def _as_text(cls, value):
        return value if isinstance(value, str) else json.dumps(value)


def _json_objects(reply: str) -> list[str]:
    fenced = [body for tag, body in code_blocks(reply) if tag in ("json", "")]
    start, end = reply.find("{"), reply.rfind("}")
    bare = [reply[start : end + 1]] if 0 <= start < end else []
    return fenced + bare


def parse_advice(reply: str) -> ConductorAdvice:
    for text in _json_objects(reply):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            try:
                return ConductorAdvice.model_validate(
                    {
                        k: v
                        for k, v in data.items()
                        if k in ConductorAdvice.model_fields and k != "structured"
                    }
                )
            except ValidationError:
                continue
    prose = re.sub(r"\s+\n", "\n", reply).strip()
    return ConductorAdvice(actions=[prose] if prose else [], structured=False)
