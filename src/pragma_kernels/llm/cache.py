"""On-disk cache of LLM replies, keyed by everything that changes the reply.

Re-running or resuming a run costs nothing for the calls it already made;
temperature, model, endpoint, system prompt and every message are in the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pragma_kernels.llm.messages import Message, Reply


class ReplyCache:
    def __init__(self, folder: Path):
        self.folder = folder

    @staticmethod
    def key(identity: dict, system: str, messages: list[Message]) -> str:
        payload = {
            "llm": identity,
            "system": system,
            "messages": [m.model_dump() for m in messages],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> Reply | None:
        path = self.folder / f"{key}.json"
        return Reply.model_validate_json(path.read_text()) if path.exists() else None

    def put(self, key: str, reply: Reply) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f"{key}.tmp"
        temporary.write_text(reply.model_dump_json())
        temporary.replace(self.folder / f"{key}.json")  # never a half-written entry
