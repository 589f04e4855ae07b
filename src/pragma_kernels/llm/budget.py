"""A run's LLM budget: tokens and dollars spent, and a clean stop when either runs out."""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.errors import PragmaError


class BudgetExhausted(PragmaError):
    """The run's budget is spent: the loop stops and keeps its best so far."""


@dataclass
class Budget:
    max_tokens: int | None = None
    max_usd: float | None = None
    tokens: int = 0
    usd: float = 0.0
    calls: int = 0

    def exhausted(self) -> str | None:
        """Why no further call may be made, or None."""
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"token budget spent ({self.tokens} of {self.max_tokens})"
        if self.max_usd is not None and self.usd >= self.max_usd:
            return f"cost budget spent (${self.usd:.4f} of ${self.max_usd:.4f})"
        return None

    def check(self) -> None:
        why = self.exhausted()
        if why:
            raise BudgetExhausted(why)

    def spend(self, tokens: int, usd: float) -> None:
        self.tokens += tokens
        self.usd += usd
        self.calls += 1
