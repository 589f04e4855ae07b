"""The LLM layer through the real openai and anthropic SDKs against a scripted local server."""

from __future__ import annotations

import pytest

from pragma_kernels.llm import (
    LLM,
    Budget,
    BudgetExhausted,
    LLMError,
    LLMSettings,
    Message,
    ReplyCache,
)
from pragma_kernels.llm.scripted import ScriptedLLM

pytest.importorskip("openai")
pytest.importorskip("anthropic")

ASK = [Message(role="user", content="write a kernel")]


@pytest.fixture
def server():
    made = []

    def start(script):
        made.append(ScriptedLLM(script))
        return made[-1]

    yield start
    for server in made:
        server.close()


def openai_llm(server, max_retries: int = 2, **options) -> LLM:
    settings = LLMSettings(
        model="m",
        base_url=server.base_url,
        api_key_env="TEST_KEY",
        max_retries=max_retries,
        usd_per_mtok_in=1.0,
        usd_per_mtok_out=2.0,
    )
    return LLM(settings, **options)


def test_openai_reply_reasoning_usage_and_cost(server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "k")
    llm_server = server([{"content": "answer", "reasoning": "thoughts", "in": 1000, "out": 500}])
    reply = openai_llm(llm_server).chat(ASK, system="you write kernels")
    assert (reply.text, reply.reasoning) == ("answer", "thoughts")
    assert (reply.input_tokens, reply.output_tokens) == (1000, 500)
    assert reply.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    sent = llm_server.requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "you write kernels"}


def test_rate_limit_is_retried_honouring_retry_after(server):
    llm_server = server([{"status": 429, "retry_after": "0"}, {"status": 503}, "finally"])
    assert openai_llm(llm_server).chat(ASK).text == "finally"
    assert len(llm_server.requests) == 3


def test_on_try_hears_every_try_of_both_sdks(server):
    """The SDKs retry inside one call; the hook numbers the tries for the live view."""
    llm_server = server([{"status": 429, "retry_after": "0"}, {"status": 503}, "ok", "claude"])
    tries: list[int] = []
    assert openai_llm(llm_server).chat(ASK, on_try=tries.append).text == "ok"
    assert tries == [1, 2, 3]
    tries.clear()
    settings = LLMSettings(provider="anthropic", model="c", base_url=llm_server.root)
    assert LLM(settings).chat(ASK, on_try=tries.append).text == "claude" and tries == [1]


def test_exhausted_retries_give_a_clear_error(server):
    llm_server = server([{"status": 500}] * 3)
    settings = LLMSettings(model="m", base_url=llm_server.base_url, max_retries=2)
    with pytest.raises(LLMError, match=r"failed: .*Fix: check the model and base URL"):
        LLM(settings).chat(ASK)


def test_cache_answers_repeats_without_a_call_or_spending(server, tmp_path):
    llm_server = server(["first", "second"])
    budget = Budget()
    llm = openai_llm(llm_server, cache=ReplyCache(tmp_path), budget=budget)
    assert llm.chat(ASK).text == "first"
    again = llm.chat(ASK)
    assert again.text == "first" and again.cached and budget.calls == 1
    assert llm.chat([Message(role="user", content="another")]).text == "second"
    warmer = LLM(llm.settings.model_copy(update={"temperature": 0.7}), cache=ReplyCache(tmp_path))
    assert warmer.cache.key(warmer.settings.cache_identity(), "", ASK) != llm.cache.key(
        llm.settings.cache_identity(), "", ASK
    )


def test_budget_stops_before_the_call_that_would_exceed_it(server):
    llm_server = server([{"content": "a", "in": 600, "out": 500}, "never sent"])
    llm = openai_llm(llm_server, budget=Budget(max_tokens=1000))
    llm.chat(ASK)
    with pytest.raises(BudgetExhausted, match="token budget spent"):
        llm.chat([Message(role="user", content="more")])
    assert len(llm_server.requests) == 1


def test_anthropic_messages_api(server):
    llm_server = server([{"content": "claude answer", "reasoning": "thinking", "in": 7, "out": 3}])
    settings = LLMSettings(provider="anthropic", model="claude-x", base_url=llm_server.root)
    reply = LLM(settings).chat(ASK, system="sys")
    assert (reply.text, reply.reasoning, reply.input_tokens) == ("claude answer", "thinking", 7)
    request = llm_server.requests[0]
    assert request["system"] == "sys" and request["messages"] == [m.model_dump() for m in ASK]


def test_the_llm_modules_import_each_other_without_a_cycle():
    """Function-level imports count too: they hid the cache <-> client cycle."""
    import ast
    from pathlib import Path

    import pragma_kernels.llm as package

    folder = Path(package.__file__).parent
    graph = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "pragma_kernels.llm."
            ):
                names.add(node.module.rsplit(".", 1)[1])
        graph[path.stem] = names - {"__init__"}
    assert "client" not in graph["cache"] and graph["messages"] == set()

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n}))
            for n in graph.get(start, ())
        )

    assert [name for name in graph if reaches(name, name, set())] == []


def test_a_silent_endpoint_is_given_up_after_timeout_times_attempts(monkeypatch):
    """An endpoint that accepts and never answers: the run gives up in about
    (1 + retries) x timeout, with an error naming the timeout, not after 25 minutes."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # connections are accepted by the kernel, never answered
    monkeypatch.setenv("TEST_KEY", "k")
    settings = LLMSettings(
        model="m",
        base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1",
        api_key_env="TEST_KEY",
        timeout_s=1.0,
        max_retries=1,
    )
    start = time.monotonic()
    try:
        with pytest.raises(LLMError):
            LLM(settings).chat(ASK)
    finally:
        listener.close()
    assert time.monotonic() - start < 15  # 2 x 1 s plus the SDK's backoff


def test_defaults_give_up_within_about_five_minutes():
    settings = LLMSettings(model="m")
    assert (1 + settings.max_retries) * settings.timeout_s <= 300


@pytest.mark.parametrize(
    ("model", "budget"),
    [
        ("deepseek-chat", 8192),
        ("gpt-4o", 8192),
        ("claude-sonnet-4-5", 8192),
        ("o3-mini", 32768),
        ("o1", 32768),
        ("o4-mini", 32768),
        ("gpt-5", 32768),
        ("openai/gpt-5-mini", 32768),
        ("deepseek-reasoner", 32768),
        ("DeepSeek-R1-Distill-Qwen-32B", 32768),
        ("claude-3-7-sonnet-thinking", 32768),
    ],
)
def test_the_reply_budget_follows_the_model_family(model, budget):
    assert LLMSettings(model=model).reply_budget() == budget
    assert LLMSettings(model=model, max_tokens=100).reply_budget() == 100  # given: kept


def test_a_reply_cut_at_the_limit_is_asked_for_again_shorter_once(server):
    """finish_reason "length": the same request once more, asking for a shorter answer; the
    tokens of both calls are counted; a second cut reply is returned as it is."""
    llm_server = server(
        [
            {"content": "half a kern", "finish": "length", "in": 10, "out": 8192},
            {"content": "short answer", "in": 12, "out": 100},
        ]
    )
    reply = openai_llm(llm_server).chat(ASK)
    assert reply.text == "short answer" and reply.shortened and not reply.truncated
    assert (reply.input_tokens, reply.output_tokens) == (22, 8292)
    again = llm_server.requests[1]["messages"][-1]["content"]
    assert again.startswith("write a kernel") and "cut off at the output limit of 8192" in again
    assert llm_server.requests[0]["max_tokens"] == 8192
    twice = server([{"content": "a", "finish": "length"}, {"content": "b", "finish": "length"}])
    cut = openai_llm(twice).chat(ASK)
    assert cut.text == "b" and cut.truncated and len(twice.requests) == 2


def test_anthropic_max_tokens_stop_is_a_cut_reply_too(server):
    llm_server = server([{"content": "cut", "finish": "length"}, {"content": "whole"}])
    settings = LLMSettings(provider="anthropic", model="claude-x", base_url=llm_server.root)
    reply = LLM(settings).chat(ASK)
    assert reply.text == "whole" and len(llm_server.requests) == 2
