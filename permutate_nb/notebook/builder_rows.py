"""Editable rows of the request builder: one plugin group, permutation or test case each.

Every row keeps the fields its form does not show (``extra``), so a request read into
the builder and written out again is the same request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ipywidgets as w

__all__ = ["GroupRow", "PermutationRow", "TestCaseRow", "OperationChoice", "PROVIDERS", "SELECTORS"]

PROVIDERS = ["OpenAIChat", "local", "OpenAI"]
SELECTORS = ["OpenAI", "Langchain", "Imprompt"]
TYPES = ["plugin_selector", "api_signature_selector"]
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]
_ROW = {"flex_flow": "row wrap"}  # narrow notebooks (Notebook 7) wrap a row instead of cutting its end off
_NARROW = w.Layout(width="130px")
_MID = w.Layout(width="200px")
_WIDE = w.Layout(width="340px")

#: (label, (plugin location, operation URL, method)) as offered by the loaded plugins
OperationChoice = tuple[str, tuple[str, str, str]]


def _options(values: list[str], current: str | None) -> list[str]:
    return values if current in (None, "") or current in values else [*values, current]


class _Row:
    fields: tuple[str, ...] = ()

    def __init__(self, extra: dict[str, Any], on_remove: Callable[[_Row], None]) -> None:
        self.extra = extra
        self.remove = w.Button(icon="trash", tooltip="remove", layout=w.Layout(width="36px"))
        self.remove.on_click(lambda _: on_remove(self))
        self.box: w.Box = w.HBox()

    def _row(self, *children: w.Widget) -> w.HBox:
        return w.HBox([*children, self.remove], layout=w.Layout(**_ROW))


class GroupRow(_Row):
    """``plugins``: location -> human name of every loaded plugin (the list shows names, holds locations)."""

    def __init__(self, data: dict[str, Any], plugins: dict[str, str], on_remove: Callable[[_Row], None],
                 entry: Callable[[str], dict[str, Any]] | None = None) -> None:
        """``entry`` gives the plugin entry for a location (a named source's ``{name, mcp|functions}``)."""
        super().__init__({k: v for k, v in data.items() if k not in ("name", "plugins")}, on_remove)
        self._entry = entry or (lambda location: {"manifest_url": location})
        chosen = [p.get("manifest_url") or p.get("name") for p in data.get("plugins", [])]
        self.name = w.Text(data.get("name", ""), placeholder="group name", layout=_MID)
        self.plugins = w.SelectMultiple(rows=3, layout=_WIDE)
        self.set_plugins(plugins, chosen)
        self.box = self._row(self.name, self.plugins)

    def set_plugins(self, plugins: dict[str, str], chosen: list[str] | None = None) -> None:
        """Offer the plugins loaded now, keeping the chosen ones (one no longer loaded stays, shown by its location)."""
        chosen = list(self.plugins.value) if chosen is None else chosen
        names = {**plugins, **{c: c for c in chosen if c not in plugins}}
        self.plugins.options = [(name, location) for location, name in names.items()]
        self.plugins.value = tuple(chosen)
        self.plugins.tooltip = "\n".join(f"{name}: {location}" for location, name in names.items())

    def value(self) -> dict[str, Any]:
        """The group as the request holds it: its name, the chosen plugins' entries, and the fields the form hides."""
        return {"name": self.name.value, "plugins": [self._entry(p) for p in self.plugins.value], **self.extra}


class PermutationRow(_Row):
    """One permutation: its LLM (provider, model, temperature, max_tokens), tool selector and plugin group."""

    def __init__(self, data: dict[str, Any], groups: list[str], on_remove: Callable[[_Row], None]) -> None:
        llm = dict(data.get("llm") or {})
        selector = dict(data.get("tool_selector") or {})
        super().__init__({k: v for k, v in data.items() if k not in ("name", "llm", "tool_selector")}, on_remove)
        self.llm_extra = {k: v for k, v in llm.items() if k not in ("provider", "model_name", "temperature", "max_tokens")}
        self.selector_extra = {k: v for k, v in selector.items() if k not in ("provider", "plugin_group_name")}
        self.has_temperature = "temperature" in llm
        self.has_max_tokens = "max_tokens" in llm
        self.name = w.Text(data.get("name", ""), placeholder="permutation name", layout=_NARROW)
        provider = llm.get("provider", "OpenAIChat")
        self.provider = w.Dropdown(options=_options(PROVIDERS, provider), value=provider, layout=_NARROW)
        self.model = w.Text(llm.get("model_name") or "", placeholder="model", layout=_NARROW)
        self.temperature = w.FloatText(llm.get("temperature") or 0.0, layout=w.Layout(width="70px"), tooltip="temperature")
        self.max_tokens = w.IntText(llm.get("max_tokens") or 0, layout=w.Layout(width="80px"), tooltip="max_tokens (0: default)")
        sel = selector.get("provider", "OpenAI")
        self.selector = w.Dropdown(options=_options(SELECTORS, sel), value=sel, layout=_NARROW)
        group = selector.get("plugin_group_name") or (groups[0] if groups else None)
        self.group = w.Dropdown(options=_options(groups, group), value=group, layout=_NARROW)
        self.temperature.observe(lambda _: setattr(self, "has_temperature", True), "value")
        self.max_tokens.observe(lambda _: setattr(self, "has_max_tokens", True), "value")
        self.box = self._row(self.name, self.provider, self.model, self.temperature, self.max_tokens,
                             self.selector, self.group)

    def set_groups(self, groups: list[str]) -> None:
        """Offer the groups named now, keeping the chosen one while it still exists (else the first group)."""
        current = self.group.value
        self.group.options = _options(groups, current)
        self.group.value = current if current in self.group.options else (groups[0] if groups else None)

    def value(self) -> dict[str, Any]:
        """The permutation as the request holds it; temperature and max_tokens only when read in or edited."""
        llm: dict[str, Any] = {"provider": self.provider.value}
        if self.model.value:
            llm["model_name"] = self.model.value
        if self.has_temperature:
            llm["temperature"] = self.temperature.value
        if self.has_max_tokens and self.max_tokens.value:
            llm["max_tokens"] = self.max_tokens.value
        selector = {"provider": self.selector.value, **self.selector_extra, "plugin_group_name": self.group.value}
        return {"name": self.name.value, "llm": {**llm, **self.llm_extra}, "tool_selector": selector, **self.extra}


class TestCaseRow(_Row):
    """One test case: its prompt and the operation it should call, chosen from the loaded plugins' operations."""
    __test__ = False

    def __init__(self, data: dict[str, Any], operations: list[OperationChoice], on_remove: Callable[[_Row], None]) -> None:
        shown = ("name", "type", "prompt", "expected_plugin_used", "expected_api_used", "expected_method", "expected_parameters")
        super().__init__({k: v for k, v in data.items() if k not in shown}, on_remove)
        self.name = w.Text(data.get("name", ""), placeholder="test case", layout=_NARROW)
        kind = data.get("type", "plugin_selector")
        self.type = w.Dropdown(options=_options(TYPES, kind), value=kind, layout=_MID)
        self.prompt = w.Text(data.get("prompt", ""), placeholder="prompt", layout=_WIDE)
        current = (data.get("expected_plugin_used", ""), data.get("expected_api_used", ""), (data.get("expected_method") or "").lower())
        self.operation = w.Dropdown(layout=_WIDE)
        self.set_operations(operations, current)
        method = (data.get("expected_method") or "").lower()
        self.method = w.Dropdown(options=["", *_options(METHODS, method)], value=method, layout=w.Layout(width="90px"))
        params = data.get("expected_parameters")
        self.parameters = w.Text("" if params is None else json.dumps(params, ensure_ascii=False),
                                 placeholder='{"q": "T shirt"}', layout=_MID)
        self.operation.observe(self._method_from_operation, "value")
        self.box = self._row(self.name, self.type, self.prompt, self.operation, self.method, self.parameters)

    def set_operations(self, operations: list[OperationChoice], current: tuple[str, str, str] | None = None) -> None:
        """Offer the loaded plugins' operations, keeping the expected one (marked when its plugin is not loaded)."""
        current = current if current is not None else self.operation.value
        options = list(operations)
        if current and current[1] and all(value[:2] != current[:2] for _, value in options):
            options.append((f"{current[1]} (plugin not loaded)", current))
        match = next((value for _, value in options if current and value[:2] == current[:2]), None)
        self.operation.options = [("(choose an operation)", ("", "", ""))] + options
        self.operation.value = match if match is not None else ("", "", "")

    def _method_from_operation(self, change: dict[str, Any]) -> None:
        method = (change["new"] or ("", "", ""))[2]
        if method and not self.method.value:
            self.method.value = method

    def value(self) -> dict[str, Any]:
        """The test case as the request holds it; parameters that are not JSON stay text, for validation to name."""
        plugin, url, _ = self.operation.value or ("", "", "")
        data: dict[str, Any] = {
            "name": self.name.value, "type": self.type.value, "prompt": self.prompt.value,
            "expected_plugin_used": plugin, "expected_api_used": url,
        }
        if self.method.value:
            data["expected_method"] = self.method.value
        text = self.parameters.value.strip()
        if text:
            try:
                data["expected_parameters"] = json.loads(text)
            except ValueError:
                data["expected_parameters"] = text  # validation names the field and says it is not a mapping
        return {**data, **self.extra}
