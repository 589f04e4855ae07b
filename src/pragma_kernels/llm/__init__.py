"""LLM access for the agents and the knowledge build: providers, cache, budget."""

from pragma_kernels.llm.budget import Budget, BudgetExhausted
from pragma_kernels.llm.cache import ReplyCache
from pragma_kernels.llm.client import LLM, LLMError, LLMSettings
from pragma_kernels.llm.messages import Message, Reply

__all__ = [
    "LLM",
    "Budget",
    "BudgetExhausted",
    "LLMError",
    "LLMSettings",
    "Message",
    "Reply",
    "ReplyCache",
]
