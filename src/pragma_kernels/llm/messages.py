"""What goes to an LLM and what comes back: the types the client and the reply cache share
(the cache stores replies, the client makes them; neither imports the other)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class Reply(BaseModel):
    text: str
    reasoning: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""
    seconds: float = 0.0
    cached: bool = False
    truncated: bool = False  # cut at max_tokens (finish_reason "length", "max_tokens")
    shortened: bool = False  # the answer to a retry asking for a shorter reply
