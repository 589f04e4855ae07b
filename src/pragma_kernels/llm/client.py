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
    max_tokens: int = 8192
    usd_per_mtok_in: float = 0.0  # prices for cost accounting (0: unknown, not counted)
    usd_per_mtok_out: float = 0.0

    def key_env(self) -> str:
        return self.api_key_env or DEFAULT_KEY_ENV[self.provider]

    def cache_identity(self) -> dict:
        """What changes the reply (not the key, timeouts or prices)."""
        return self.model_dump(
            include={"provider", "model", "base_url", "temperature", "max_tokens"}
        )


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
        if self.cache is not None and key is not None:
            self.cache.put(key, reply)
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
                    model=self.settings.model,
                    messages=chat,
                    temperature=self.settings.temperature,
                    max_tokens=self.settings.max_tokens,
                )
        except OpenAIError as exc:
            raise self._fail(exc) from None
        message = answer.choices[0].message
        extra = message.model_extra or {}
        usage = answer.usage
        return Reply(
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
            "max_tokens": self.settings.max_tokens,
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
            text=text,
            reasoning=thinking,
            input_tokens=answer.usage.input_tokens,
            output_tokens=answer.usage.output_tokens,
            model=answer.model,
        )


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
