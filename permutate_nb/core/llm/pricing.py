"""Token prices, per model, in US dollars per 1M tokens (input, output).

The table holds list prices published by the providers; a request can override or add
entries with ``config.prices: {model: {input: 0.5, output: 1.5}}`` and so can the YAML
file named by ``PERMUTATE_PRICES``. A model that is not priced gets cost ``None`` (unknown),
never 0; local models are free. Dated names match their family by longest prefix
(``gpt-3.5-turbo-0613`` -> ``gpt-3.5-turbo``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import ConfigurationError
from ...settings import settings
from ..request.safe_load import load_yaml, read_text

__all__ = ["PRICES", "PriceTable"]

PRICES: dict[str, tuple[float, float]] = {
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-3.5-turbo-0613": (1.50, 2.00),
    "gpt-3.5-turbo-16k": (3.00, 4.00),
    "gpt-3.5-turbo-instruct": (1.50, 2.00),
    "gpt-4": (30.00, 60.00),
    "gpt-4-32k": (60.00, 120.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "local": (0.0, 0.0),
}


class PriceTable:
    """Dollars per million tokens by model: the built-in prices, ``PERMUTATE_PRICES`` and ``config.prices``."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self._prices = dict(PRICES)
        env_file = settings().prices
        if env_file:
            table = load_yaml(read_text(env_file, "price table (PERMUTATE_PRICES)"), str(env_file)) or {}
            if not isinstance(table, Mapping):
                raise ConfigurationError(f"{env_file}: PERMUTATE_PRICES must map model names to {{input, output}}")
            self._merge(table, str(env_file))
        if overrides:
            self._merge(overrides, "config.prices")
        self._memo: dict[str, tuple[float, float] | None] = {}

    def _merge(self, table: Mapping[str, Mapping[str, float]], origin: str) -> None:
        for model, entry in table.items():
            try:
                self._prices[str(model)] = (float(entry["input"]), float(entry["output"]))
            except (KeyError, TypeError, ValueError):
                raise ConfigurationError(
                    f"{origin}: {model}: give {{input: $/1M tokens, output: $/1M tokens}} as numbers") from None

    def lookup(self, model: str) -> tuple[float, float] | None:
        """The (input, output) price of ``model``: the longest known name it equals or extends with ``-``."""
        if model not in self._memo:
            match = max((m for m in self._prices if model == m or model.startswith(m + "-")), key=len, default=None)
            self._memo[model] = self._prices[match] if match else None
        return self._memo[model]

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollars for one call, or None when the model has no price."""
        price = self.lookup(model) if model else None
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
