"""A local LLM endpoint on 127.0.0.1 replaying scripted replies in order: OpenAI's
/chat/completions and Anthropic's /v1/messages, so the real SDKs and the whole loop run
without a model (tests, and scripted benchmark runs whose replies are written in advance;
such runs show the machinery, never a model's skill)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _openai_answer(body: dict, step: dict) -> dict:
    message = {"role": "assistant", "content": step["content"]}
    if step.get("reasoning"):
        message["reasoning_content"] = step["reasoning"]
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [{"index": 0, "finish_reason": step.get("finish", "stop"), "message": message}],
        "usage": {
            "prompt_tokens": step.get("in", 10),
            "completion_tokens": step.get("out", 5),
            "total_tokens": step.get("in", 10) + step.get("out", 5),
        },
    }


def _anthropic_answer(body: dict, step: dict) -> dict:
    content = [{"type": "text", "text": step["content"]}]
    if step.get("reasoning"):
        content.insert(0, {"type": "thinking", "thinking": step["reasoning"], "signature": "s"})
    return {
        "id": "msg_x",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "max_tokens" if step.get("finish") == "length" else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": step.get("in", 10), "output_tokens": step.get("out", 5)},
    }


class ScriptedLLM:
    """Each script step is a reply text, or a dict: {"content", "reasoning", "in", "out",
    "finish": "length" for a reply cut at max_tokens} or
    {"status": 429, "retry_after": "0"} for an error reply. Steps are answered in order, or
    by `route(request body) -> step` when concurrent conversations share the server."""

    def __init__(self, script: list, route: Callable[[dict], object] | None = None):
        self.script = [s if isinstance(s, dict) else {"content": s} for s in script]
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                step = route(body) if route else outer.script.pop(0)
                step = step if isinstance(step, dict) else {"content": step}
                if "status" in step:
                    answer, status = {"error": {"message": "scripted", "type": "x"}}, step["status"]
                elif self.path.endswith("/messages"):
                    answer, status = _anthropic_answer(body, step), 200
                else:
                    answer, status = _openai_answer(body, step), 200
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if "retry_after" in step:
                    self.send_header("Retry-After", step["retry_after"])
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = self.root + "/v1"  # OpenAI-style; Anthropic's SDK takes the root

    def prompts(self) -> list[str]:
        """The last user message of every request."""
        return [r["messages"][-1]["content"] for r in self.requests]

    def close(self):
        self.server.shutdown()
