"""One chat interface over OpenAI-compatible endpoints and Anthropic, with the run's
accounting around it: an on-disk reply cache, token and dollar budget, usage and cost.

The providers' own SDKs do the HTTP: they retry 429 and 5xx replies with
exponential backoff and honour Retry-After (`max_retries`), and time out
(`timeout_s`). Reasoning text that some models return beside the answer
(DeepSeek-R1's `reasoning_content`, Anthropic's thinking blocks) is kept apart
from the answer. The SDKs retry inside one call; `chat(..., on_try=f)` hears each try start
(f(1), then f(2) for the first retry, ...) through an HTTP-client hook, so a live view can say
that a call is being retried while it waits.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from pragma_kernels.errors import PragmaError
from pragma_kernels.llm.budget import Budget
from pragma_kernels.llm.cache import ReplyCache
from pragma_kernels.llm.messages import Message, Reply

DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# The reply budget by model family. Reasoning models spend output tokens on thinking before
# the answer: an 18 K-character reply already came close to 8,192, which they would exceed.
DEFAULT_MAX_TOKENS = 8192
REASONING_MAX_TOKENS = 32768
REASONING_MARKS = ("o1", "o3", "o4", "gpt-5", "reasoner", "deepseek-r1", "qwq", "thinking")
# OpenAI's own reasoning models take max_completion_tokens and no temperature.
OPENAI_REASONING = ("o1", "o3", "o4", "gpt-5")
SHORTER = (
    "\n\n(Your previous reply to this was cut off at the output limit of {limit} tokens. "
    "Answer again, complete and shorter: at most two sentences of explanation, then only "
    "what was asked for.)"
)


def _family_mark(model: str, marks: tuple[str, ...]) -> bool:
    name = model.lower().rsplit("/", 1)[-1]  # "openai/o3-mini" -> "o3-mini"
    return any(name.startswith(m) or f"-{m}" in name or f"_{m}" in name for m in marks)


def is_reasoning_model(model: str) -> bool:
    """o1/o3/o4, gpt-5, deepseek-reasoner / R1, QwQ, or a name saying "thinking"."""
    return _family_mark(model, REASONING_MARKS)


def default_max_tokens(model: str) -> int:
    return REASONING_MAX_TOKENS if is_reasoning_model(model) else DEFAULT_MAX_TOKENS


class LLMError(PragmaError):
    """The provider failed after its retries, or refused the request."""


class LLMSettings(BaseModel):
    provider: Literal["openai", "anthropic"] = "openai"
    model: str
    base_url: str | None = None  # OpenAI-compatible: DeepSeek, vLLM, SGLang, Ollama, ...
    api_key_env: str | None = None  # the variable holding the key (never the key itself)
    # Patience per call: a silent endpoint is given up after (1 + retries) x timeout plus
    # the SDK's short backoff, about 4 minutes by default (25 before: 5 x 300 s).
    timeout_s: float = 120.0
    max_retries: int = 1
    temperature: float = 0.0
    max_tokens: int | None = None  # None: by model family (default_max_tokens)
    retry_cut: bool = True  # a reply cut at max_tokens is asked for again, shorter, once
    usd_per_mtok_in: float = 0.0  # prices for cost accounting (0: unknown, not counted)
    usd_per_mtok_out: float = 0.0
    # Who wrote the replies, recorded in run.json: a scripted endpoint (llm/scripted.py) or a
    # person answering through a bridge shows the machinery, never a model's skill
    replies: Literal["model", "scripted", "hand-answered"] = "model"

    def key_env(self) -> str:
        return self.api_key_env or DEFAULT_KEY_ENV[self.provider]

    def reply_budget(self) -> int:
        """max_tokens as given, else by model family (larger for reasoning models)."""
        return self.max_tokens or default_max_tokens(self.model)

    def cache_identity(self) -> dict:
        """What changes the reply (not the key, timeouts or prices)."""
        identity = self.model_dump(include={"provider", "model", "base_url", "temperature"})
        return {**identity, "max_tokens": self.reply_budget()}


class LLM:
    def __init__(
        self,
        settings: LLMSettings,
        cache: ReplyCache | None = None,
        budget: Budget | None = None,
    ):
        self.settings, self.cache, self.budget = settings, cache, budget or Budget()

    def chat(
        self, messages: list[Message], system: str = "", on_try: Callable[[int], None] | None = None
    ) -> Reply:
        """The reply; `on_try(k)` is called as the k-th HTTP try starts (not for cached ones)."""
        key = None
        if self.cache is not None:
            key = self.cache.key(self.settings.cache_identity(), system, messages)
            hit = self.cache.get(key)
            if hit is not None:
                return hit.model_copy(update={"cached": True})
        reply = self._call(messages, system, on_try)
        # Cut at max_tokens: asked once more, for less; a second cut reply is returned as is
        if reply.truncated and self.settings.retry_cut:
            shorter = shorter_request(messages, self.settings.reply_budget())
            again = self._call(shorter, system, on_try)
            again.shortened = True
            again.input_tokens += reply.input_tokens
            again.output_tokens += reply.output_tokens
            again.cost_usd += reply.cost_usd
            again.seconds = round(again.seconds + reply.seconds, 3)
            reply = again
        if self.cache is not None and key is not None:
            self.cache.put(key, reply)
        return reply

    def _call(self, messages: list[Message], system: str, on_try) -> Reply:
        """One provider call inside the budget, its cost counted."""
        self.budget.check()
        start = time.perf_counter()
        call = self._anthropic if self.settings.provider == "anthropic" else self._openai
        reply = call(messages, system, on_try)
        reply.seconds = round(time.perf_counter() - start, 3)
        reply.cost_usd = (
            reply.input_tokens * self.settings.usd_per_mtok_in
            + reply.output_tokens * self.settings.usd_per_mtok_out
        ) / 1e6
        self.budget.spend(reply.input_tokens + reply.output_tokens, reply.cost_usd)
        return reply

    def complete(self, prompt: str) -> str:
        """One user message, the answer's text."""
        return self.chat([Message(role="user", content=prompt)]).text

    def _key(self) -> str:
        return os.environ.get(self.settings.key_env(), "none")

    def _fail(self, exc: Exception) -> LLMError:
        where = self.settings.base_url or self.settings.provider
        return LLMError(
            f"the LLM ({self.settings.model} at {where}) failed: {exc}. Fix: check the "
            f"model and base URL, and the key in ${self.settings.key_env()}"
        )

    def _openai_limits(self) -> dict:
        """OpenAI's own reasoning models take max_completion_tokens and their fixed
        temperature; every other OpenAI-compatible endpoint max_tokens and ours."""
        budget = self.settings.reply_budget()
        if self.settings.base_url is None and _family_mark(self.settings.model, OPENAI_REASONING):
            return {"max_completion_tokens": budget}
        return {"max_tokens": budget, "temperature": self.settings.temperature}

    def _openai(self, messages: list[Message], system: str, on_try) -> Reply:
        OpenAI, OpenAIError, Http = _sdk("openai", "OpenAI", "OpenAIError", "DefaultHttpxClient")

        chat = [{"role": "system", "content": system}] if system else []
        chat += [m.model_dump() for m in messages]
        try:
            with OpenAI(
                base_url=self.settings.base_url,
                api_key=self._key(),
                timeout=self.settings.timeout_s,
                max_retries=self.settings.max_retries,
                http_client=_hooked(Http, on_try),
            ) as client:
                answer = client.chat.completions.create(
                    model=self.settings.model, messages=chat, **self._openai_limits()
                )
        except OpenAIError as exc:
            raise self._fail(exc) from None
        choice = answer.choices[0]
        message = choice.message
        extra = message.model_extra or {}
        usage = answer.usage
        return Reply(
            truncated=choice.finish_reason == "length",
            text=message.content or "",
            reasoning=str(extra.get("reasoning_content") or extra.get("reasoning") or ""),
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=answer.model,
        )

    def _anthropic(self, messages: list[Message], system: str, on_try) -> Reply:
        Anthropic, AnthropicError, Http = _sdk(
            "anthropic", "Anthropic", "AnthropicError", "DefaultHttpxClient"
        )

        # The current Messages API (SDK 2.x) takes no temperature: the model's default applies.
        request = {
            "model": self.settings.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": self.settings.reply_budget(),
            **({"system": system} if system else {}),
        }
        try:
            with Anthropic(
                base_url=self.settings.base_url,
                api_key=self._key(),
                timeout=self.settings.timeout_s,
                max_retries=self.settings.max_retries,
                http_client=_hooked(Http, on_try),
            ) as client:
                answer = client.messages.create(**request)
        except AnthropicError as exc:
            raise self._fail(exc) from None
        text = "".join(b.text for b in answer.content if b.type == "text")
        thinking = "".join(
            getattr(b, "thinking", "") for b in answer.content if b.type == "thinking"
        )
        return Reply(
            truncated=answer.stop_reason == "max_tokens",
            text=text,
            reasoning=thinking,
            input_tokens=answer.usage.input_tokens,
            output_tokens=answer.usage.output_tokens,
            model=answer.model,
        )


def shorter_request(messages: list[Message], limit: int) -> list[Message]:
    """The same request, its last user message asking for a shorter answer."""
    *earlier, last = messages
    note = SHORTER.format(limit=limit)
    return [*earlier, last.model_copy(update={"content": last.content + note})]


def _hooked(http_client_class, on_try: Callable[[int], None] | None):
    """The SDK's own default HTTP client with a request hook numbering the tries (each retry
    is a new request); None, the SDK's default, when nobody listens."""
    if on_try is None:
        return None
    tries = itertools.count(1)
    return http_client_class(event_hooks={"request": [lambda _request: on_try(next(tries))]})


def _sdk(package: str, *names: str) -> tuple:
    """A provider SDK's classes, or LLMError with the install line when the extra is missing."""
    import importlib

    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError:
        raise LLMError(
            f"the {package} SDK is not installed. Fix: pip install 'pragma-kernels[llm]' "
            "(or run --mode offline, which needs no LLM)"
        ) from None
    return tuple(getattr(module, name) for name in names)


def require_sdk(provider: str) -> None:
    """Fail before the run starts, not at its first call, when the provider's SDK is missing."""
    _sdk(provider)
