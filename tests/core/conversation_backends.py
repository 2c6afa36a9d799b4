"""Backends for the conversation tests: one configured BFCL-style (``_load_scenario``), one that raises."""

from __future__ import annotations

from typing import Any


class Bank:
    """Accounts and their balances, configured as BFCL configures its backends."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self._log: list[str] = []  # private: not part of the state

    def _load_scenario(self, config: dict[str, Any]) -> None:
        self.balances = dict(config["balances"])

    def balance(self, account: str) -> int:
        """The balance of an account."""
        return self.balances[account]

    def transfer(self, source: str, target: str, amount: int) -> str:
        """Move money between accounts."""
        if self.balances.get(source, 0) < amount:
            raise ValueError(f"insufficient funds in {source}")
        self.balances[source] -= amount
        self.balances[target] = self.balances.get(target, 0) + amount
        self._log.append(f"{source}->{target}:{amount}")
        return "done"
