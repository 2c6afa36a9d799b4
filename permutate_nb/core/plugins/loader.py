"""Plugin manifests (OpenAI ai-plugin.json, OpenPlugin) and bare OpenAPI documents -> ``Plugin``.

The evaluator only needs a name, a description and the operations an LLM can choose from;
this module finds the OpenAPI document behind a manifest and attaches the OpenPlugin hints
(usage examples, prompt helpers) to the operations they describe.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from permutate_nb.errors import PermutateWarning, PluginLoadError

from ..request.locations import check_reference, resolve_location, resolve_reference
from .fetch import Fetcher, UrlMap, parse_document
from .openapi import Operation, extract_operations

__all__ = ["Operation", "Plugin", "PluginLoader", "load_plugin", "normalise_location"]


@dataclass(slots=True)
class Plugin:
    """A loaded plugin; ``id`` is the normalised location and identifies it in scores."""

    id: str
    name: str
    description: str
    manifest: dict
    openapi_location: str
    operations: list[Operation] = field(default_factory=list)
    auth: dict = field(default_factory=lambda: {"type": "none"})


def normalise_location(location: str) -> str:
    """URLs (http, https, file) unchanged; local paths as an absolute path string."""
    location = str(location).strip()
    if not location:
        raise PluginLoadError("empty plugin location: expected a manifest URL or file path")
    return resolve_location(location, Path.cwd())


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, (str, int, float)))
    return ()


class PluginLoader:
    """Loads plugins through one ``Fetcher`` and remembers each location it has loaded."""

    def __init__(self, url_map: UrlMap | None = None, *, cache_dir: Path | None = None, timeout: float = 15.0,
                 fetcher: Fetcher | None = None, fallbacks: set[str] | None = None) -> None:
        """``fetcher`` replaces the default one (the HTTP server passes one that guards locations)."""
        self.fetcher = fetcher or Fetcher(url_map, cache_dir=cache_dir, timeout=timeout, fallbacks=fallbacks)
        self._plugins: dict[str, Plugin] = {}
        self._documents: dict[str, tuple[dict, str]] = {}

    def load(self, location: str) -> Plugin:
        """Load (once) the manifest or OpenAPI document at ``location``."""
        key = normalise_location(location)
        plugin = self._plugins.get(key)
        if plugin is None:
            plugin = self._plugins[key] = self._load(key)
        return plugin

    # -- internals -----------------------------------------------------------------
    def _document(self, location: str) -> tuple[dict, str]:
        cached = self._documents.get(location)
        if cached is None:
            text, resolved = self.fetcher.fetch_text(location)
            cached = self._documents[location] = (parse_document(text, resolved), resolved)
        return cached

    def _load(self, location: str) -> Plugin:
        doc, resolved = self._document(location)
        if "openapi" in doc or "swagger" in doc:
            return self._from_openapi(location, {}, doc, resolved)
        api = doc.get("api")
        if isinstance(api, dict):
            api_type = str(api.get("type", "openapi")).lower()
            if api_type != "openapi":
                raise PluginLoadError(f"{resolved}: api.type {api_type!r} is not supported (expected 'openapi')")
            url = api.get("url")
            if not isinstance(url, str) or not url.strip():
                raise PluginLoadError(f"{resolved}: api.url is missing (expected the OpenAPI document URL)")
            return self._with_spec(location, doc, url, "api.url")
        if "openapi_doc_url" in doc:
            url = doc["openapi_doc_url"]
            if not isinstance(url, str) or not url.strip():
                raise PluginLoadError(f"{resolved}: openapi_doc_url must be a URL or path")
            return self._with_spec(location, doc, url, "openapi_doc_url")
        raise PluginLoadError(
            f"{resolved}: not a plugin manifest or OpenAPI document (expected an ai-plugin.json with api.url, "
            "an OpenPlugin manifest with openapi_doc_url, or an OpenAPI document with an 'openapi' or 'swagger' field)"
        )

    def _with_spec(self, plugin_id: str, manifest: dict, spec_url: str, field: str) -> Plugin:
        spec_location = resolve_reference(spec_url, plugin_id)
        check_reference(plugin_id, spec_location, field)
        try:
            spec, spec_resolved = self._document(spec_location)
        except PluginLoadError as exc:
            raise PluginLoadError(f"{exc} (the OpenAPI document of {plugin_id})") from None
        if "openapi" not in spec and "swagger" not in spec:
            raise PluginLoadError(
                f"{spec_resolved}: not an OpenAPI document (no 'openapi' or 'swagger' field; referenced by {plugin_id})"
            )
        return self._from_openapi(plugin_id, manifest, spec, spec_resolved)

    def _from_openapi(self, plugin_id: str, manifest: dict, spec: dict, spec_location: str) -> Plugin:
        info = found if isinstance(found := spec.get("info"), dict) else {}
        name = _first_text(manifest.get("name_for_human"), manifest.get("name"), info.get("title"))
        name = name or Path(plugin_id.rstrip("/")).name
        description = _first_text(
            manifest.get("description_for_model"), manifest.get("description"), info.get("description")
        )
        operations = extract_operations(
            spec, spec_location, plugin_id=plugin_id, plugin_name=name,
            load_document=lambda loc: self._document(loc)[0],
        )
        hints = manifest.get("plugin_operations")
        if isinstance(hints, dict) and hints:
            operations = _attach_hints(operations, hints, plugin_id)
        auth = found if isinstance(found := manifest.get("auth"), dict) else {"type": "none"}
        return Plugin(
            id=plugin_id,
            name=name,
            description=description,
            manifest=manifest,
            openapi_location=spec_location,
            operations=operations,
            auth=auth,
        )


def _first_text(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _norm_path(path: str) -> str:
    return "/" + str(path).strip().strip("/")


def _attach_hints(operations: list[Operation], hints: dict, plugin_id: str) -> list[Operation]:
    """OpenPlugin ``plugin_operations: {path: {method: {...}}}`` -> the matching operations."""
    index = {(_norm_path(op.path), op.method): i for i, op in enumerate(operations)}
    result = list(operations)
    for path, methods in hints.items():
        if not isinstance(methods, dict):
            continue
        for method, hint in methods.items():
            if not isinstance(hint, dict):
                continue
            i = index.get((_norm_path(path), str(method).upper()))
            if i is None:
                warnings.warn(
                    f"{plugin_id}: plugin_operations names {str(method).upper()} {path}, "
                    "which is not in the OpenAPI document; ignored",
                    PermutateWarning,
                    stacklevel=4,
                )
                continue
            # plugin_signature_helpers is OpenPlugin's own key; prompt_signature_helpers an older spelling
            helpers = (_strings(hint.get("prompt_helpers")) + _strings(hint.get("plugin_signature_helpers"))
                       + _strings(hint.get("prompt_signature_helpers")))
            result[i] = replace(
                result[i],
                human_usage_examples=_strings(hint.get("human_usage_examples")),
                prompt_helpers=helpers,
            )
    return result


def load_plugin(location: str, **kwargs: Any) -> Plugin:
    """One-off load; ``kwargs`` go to ``PluginLoader`` (url_map, cache_dir, timeout)."""
    return PluginLoader(**kwargs).load(location)
