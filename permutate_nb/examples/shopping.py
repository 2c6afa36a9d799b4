"""A stateful backend for the example conversation (``conversation.yaml``): a shopping list.

A conversation test case names it as ``backend: permutate_nb.examples.shopping:ShoppingList``;
its public methods are the tools the model may call, and after the conversation its public
attributes (``items``) are compared with the case's ``expected_state``.
"""

from __future__ import annotations


class ShoppingList:
    """A shopping list: items in the order they were added."""

    def __init__(self, items: list[str] | None = None) -> None:
        self.items: list[str] = list(items or [])

    def add_item(self, item: str) -> str:
        """Add an item to the shopping list.

        Args:
            item: the item to add, e.g. milk.
        """
        self.items.append(item.strip().lower())
        return f"added {item}; the list has {len(self.items)} item(s)"

    def remove_item(self, item: str) -> str:
        """Remove an item from the shopping list.

        Args:
            item: the item to remove.
        """
        wanted = item.strip().lower()
        if wanted not in self.items:
            raise ValueError(f"{item} is not on the list")
        self.items.remove(wanted)
        return f"removed {item}"

    def list_items(self) -> list[str]:
        """The items on the shopping list."""
        return list(self.items)
