"""OpenAPI 2.0 / 3.0 / 3.1 documents -> ``Operation`` records with flat JSON-Schema arguments.

An LLM picks a tool from its name, description and argument schema, so every operation is
reduced to exactly that: ``$ref``s inlined (cycles cut), request-body properties flattened
next to path/query/header parameters, and the first server URL joined to the path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin

from permutate_nb.errors import PluginLoadError

from ..request.locations import check_reference, is_http_url, local_path

__all__ = ["Operation", "HTTP_METHODS", "extract_operations", "RefResolver", "openapi_version"]

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

#: Loads another document for an external ``$ref`` (absolute location -> parsed mapping).
DocumentLoader = Callable[[str], dict]


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP operation as an LLM sees it (re-exported by ``permutate_nb.core.plugins.loader``)."""

    plugin_id: str
    plugin_name: str
    method: str
    url: str
    path: str
    operation_id: str | None
    summary: str
    description: str
    parameters: dict
    locations: dict
    human_usage_examples: tuple[str, ...] = ()
    prompt_helpers: tuple[str, ...] = ()
    kind: str = "openapi"  # "mcp" (an MCP server's tool) or "function" (a function schema): ``url`` is the tool name

    def __hash__(self) -> int:
        """Hash the identity fields only: ``parameters`` and ``locations`` are dicts."""
        return hash((self.plugin_id, self.method, self.url, self.path, self.operation_id))


def openapi_version(doc: dict, location: str) -> int:
    """2 for Swagger 2.0, 3 for OpenAPI 3.x; anything else is refused in one line."""
    if "openapi" in doc:
        version = str(doc["openapi"])
        if version.startswith("3."):
            return 3
        raise PluginLoadError(f"{location}: OpenAPI version {version} is not supported (expected 3.0 or 3.1)")
    version = str(doc.get("swagger"))
    if version.startswith("2."):
        return 2
    raise PluginLoadError(f"{location}: Swagger version {version} is not supported (expected 2.0)")


# --------------------------------------------------------------------------- $ref resolution

# JSON-Schema keywords whose value is a schema, a list of schemas or a map of name -> schema.
_SCHEMA_KEYS = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
     "unevaluatedItems", "unevaluatedProperties", "additionalItems"}
)
_LIST_KEYS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP_KEYS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"})
_LISTABLE_KEYS = _LIST_KEYS | _SCHEMA_KEYS  # "items" may be a list in older drafts
# Documentation-only keys an LLM does not need in a tool schema.
_DROP_KEYS = frozenset({"xml", "example", "examples", "externalDocs", "discriminator", "$schema", "$id"})
#: Extensions kept in tool schemas: a parameter's type in the function's language (bfcl mode reads it).
_KEPT_EXTENSIONS = frozenset({"x-language-type", "x-language-items"})
_INF = 1 << 30
#: References nested deeper than this are not expanded: wide unions (qdrant filters) would
#: otherwise give tool schemas of 300 KB each.
MAX_REF_DEPTH = 5


class RefResolver:
    """Inlines ``$ref``s; a reference already being expanded is cut to a plain object schema.

    Expansions that did not touch an outer reference are memoised, which keeps large
    specs (hundreds of refs, cycles) linear instead of exponential.
    """

    def __init__(
        self,
        doc: dict,
        location: str,
        load_document: DocumentLoader | None = None,
        max_depth: int = MAX_REF_DEPTH,
    ) -> None:
        self.location = location
        self.max_depth = max_depth
        self._docs: dict[str, dict] = {location: doc}
        self._load_document = load_document
        self._memo: dict[tuple[str, str, int], Any] = {}

    # -- plain objects (parameters, request bodies, path items) ---------------------------
    def deref(self, node: Any, base: str | None = None) -> tuple[Any, str]:
        """Follow a chain of ``$ref``s on a non-schema object; returns ``(object, its document)``."""
        base = base or self.location
        seen: set[tuple[str, str]] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            doc_loc, pointer = self._split(node["$ref"], base)
            if (doc_loc, pointer) in seen:
                raise PluginLoadError(f"{self.location}: $ref {node['$ref']!r} refers to itself")
            seen.add((doc_loc, pointer))
            node, base = self._target(doc_loc, pointer, node["$ref"]), doc_loc
        return node, base

    # -- schemas ----------------------------------------------------------------------
    def schema(self, node: Any, base: str | None = None) -> Any:
        """A copy of a schema with every ``$ref`` inlined and documentation keys dropped."""
        return self._schema(node, base or self.location, [])[0]

    def _schema(self, node: Any, base: str, stack: list[tuple[str, str]]) -> tuple[Any, int]:
        """Returns the expanded schema and the shallowest stack depth a cycle was cut at."""
        if not isinstance(node, dict):
            return (_plain(node), _INF) if isinstance(node, list) else (node, _INF)
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._ref(node, ref, base, stack)
        out: dict[str, Any] = {}
        cut = _INF
        for key, value in node.items():
            key = str(key)
            if key in _DROP_KEYS or (key.startswith("x-") and key not in _KEPT_EXTENSIONS):
                continue
            if key in _MAP_KEYS and isinstance(value, dict):
                props: dict[str, Any] = {}
                for name, sub in value.items():
                    props[str(name)], c = self._schema(sub, base, stack)
                    cut = min(cut, c)
                out[key] = props
            elif isinstance(value, list) and key in _LISTABLE_KEYS:
                out[key], c = self._schema_list(value, base, stack)
                cut = min(cut, c)
            elif isinstance(value, dict) and key in _SCHEMA_KEYS:
                out[key], c = self._schema(value, base, stack)
                cut = min(cut, c)
            else:
                out[key] = _plain(value)
        if isinstance(out.get("properties"), dict):
            _lift_boolean_required(out)
        if isinstance(out.get("allOf"), list):
            out = _merge_all_of(out)
        return out, cut

    def _schema_list(self, value: list, base: str, stack: list[tuple[str, str]]) -> tuple[list, int]:
        items, cut = [], _INF
        for sub in value:
            s, c = self._schema(sub, base, stack)
            items.append(s)
            cut = min(cut, c)
        return items, cut

    def _ref(self, node: dict, ref: str, base: str, stack: list[tuple[str, str]]) -> tuple[Any, int]:
        key = self._split(ref, base)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        name = unquote(key[1].rsplit("/", 1)[-1]) or "schema"
        if key in stack:  # a cycle: cut it here and tell callers not to memoise
            return {"type": "object", "description": f"{name} (recursive; not expanded)"}, stack.index(key)
        depth = len(stack)
        if depth >= self.max_depth:  # keeps tool schemas a sensible size
            return {"type": "object", "description": f"{name} (nested too deep; not expanded)"}, _INF
        memo_key = (*key, depth)
        result = self._memo.get(memo_key)
        cut = _INF
        if result is None:
            stack.append(key)
            try:
                result, cut = self._schema(self._target(*key, ref), key[0], stack)
            finally:
                stack.pop()
            if cut >= depth:  # nothing outside this reference was cut: the result is context-free
                self._memo[memo_key] = result
                cut = _INF
        if siblings:
            extra, c = self._schema(siblings, base, stack)
            cut = min(cut, c)
            result = {**result, **extra} if isinstance(result, dict) else extra
        return result, cut

    # -- pointers and documents --------------------------------------------------------
    def _split(self, ref: str, base: str) -> tuple[str, str]:
        doc_part, _, pointer = ref.partition("#")
        if not doc_part:
            return base, pointer
        if is_http_url(base):
            target = urljoin(base, doc_part)
            check_reference(base, target, "$ref")
            return target, pointer
        if is_http_url(doc_part):
            return doc_part, pointer
        return str((local_path(base).parent / unquote(doc_part)).resolve()), pointer

    def _target(self, doc_loc: str, pointer: str, ref: str) -> Any:
        doc = self._docs.get(doc_loc)
        if doc is None:
            if self._load_document is None:
                raise PluginLoadError(
                    f"{self.location}: external $ref {ref!r} is not supported (only '#/...' references)"
                )
            doc = self._docs[doc_loc] = self._load_document(doc_loc)
        node: Any = doc
        for raw in pointer.lstrip("/").split("/") if pointer.strip("/") else ():
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise PluginLoadError(f"{self.location}: $ref {ref!r} does not resolve (no {part!r})")
        return node


def _plain(value: Any) -> Any:
    """Data values (enum, default, const) made JSON-safe: YAML may give int keys."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _lift_boolean_required(schema: dict) -> None:
    """``required: true`` inside a property (a common mistake) -> the parent's required list."""
    props = schema["properties"]
    lifted = []
    for name, prop in props.items():
        if isinstance(prop, dict) and isinstance(prop.get("required"), bool):
            if prop["required"]:
                lifted.append(name)
            props[name] = {k: v for k, v in prop.items() if k != "required"}
    if lifted:
        required = found if isinstance(found := schema.get("required"), list) else []
        schema["required"] = required + [n for n in lifted if n not in required]


def _merge_all_of(schema: dict) -> dict:
    """Merge ``allOf`` parts that are plain object schemas; leave anything fancier alone."""
    parts = schema["allOf"]
    if not all(isinstance(p, dict) and p.get("type", "object") == "object"
               and not ({"oneOf", "anyOf", "not", "allOf"} & p.keys()) for p in parts):
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Any] = {}
    required: list[str] = []
    for part in [*parts, merged]:
        props.update(part.get("properties") or {})
        required += [r for r in part.get("required") or () if isinstance(r, str) and r not in required]
        for key, value in part.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
    merged["type"] = "object"
    if props:
        merged["properties"] = props
    if required:
        merged["required"] = required
    return merged


# --------------------------------------------------------------------------- operations

_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_SWAGGER_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf",
)
_VAR = re.compile(r"\{([^{}]+)\}")


class _Args:
    """Accumulates the flat argument schema of one operation."""

    def __init__(self) -> None:
        self.properties: dict[str, Any] = {}
        self.required: list[str] = []
        self.locations: dict[str, str] = {}

    def add(self, name: str, schema: Any, location: str, required: bool) -> None:
        if name in self.properties:  # a parameter wins over a body property of the same name
            return
        self.properties[name] = schema
        self.locations[name] = location
        if required:
            self.required.append(name)

    def schema(self) -> dict:
        return {"type": "object", "properties": self.properties, "required": self.required}


def extract_operations(
    doc: dict,
    location: str,
    *,
    plugin_id: str,
    plugin_name: str,
    load_document: DocumentLoader | None = None,
) -> list[Operation]:
    """Every operation under ``paths`` (webhooks and callbacks are not operations)."""
    version = openapi_version(doc, location)
    paths = doc.get("paths")
    paths = {} if paths is None else paths
    if not isinstance(paths, dict):
        raise PluginLoadError(f"{location}: 'paths' must be a mapping, got {type(paths).__name__}")
    resolver = RefResolver(doc, location, load_document)
    doc_base = _swagger_base(doc, location) if version == 2 else None
    operations: list[Operation] = []
    for path, item in paths.items():
        if not isinstance(path, str) or not path.startswith("/"):
            continue
        item, item_doc = resolver.deref(item)
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            if version == 2:
                base, args = doc_base or "", _swagger_args(resolver, item, op, item_doc, doc)
            else:
                base = _server_base(op, item, doc, location)
                args = _openapi3_args(resolver, item, op, item_doc)
            summary = _text(op.get("summary"))
            description = _text(op.get("description"))
            operation_id = op.get("operationId")
            operations.append(
                Operation(
                    plugin_id=plugin_id,
                    plugin_name=plugin_name,
                    method=method.upper(),
                    url=_join(base, path),
                    path=path,
                    operation_id=str(operation_id) if operation_id not in (None, "") else None,
                    summary=summary or description,
                    description=description,
                    parameters=args.schema(),
                    locations=args.locations,
                )
            )
    return operations


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path if base else path


def _server_base(op: dict, item: dict, doc: dict, location: str) -> str:
    """First server of the operation, else of the path item, else of the document; without any,
    the OpenAPI specification's default server ``/``, i.e. the document's own origin."""
    for holder in (op, item, doc):
        servers = holder.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            return _server_url(servers[0], location)
    return _server_url({"url": "/"}, location) if is_http_url(location) else ""


def _server_url(server: dict, location: str) -> str:
    url = str(server.get("url") or "")
    variables = found if isinstance(found := server.get("variables"), dict) else {}

    def substitute(match: re.Match[str]) -> str:
        var = variables.get(match.group(1))
        if isinstance(var, dict):
            if "default" in var:
                return str(var["default"])
            if var.get("enum"):
                return str(var["enum"][0])
        return match.group(0)

    url = _VAR.sub(substitute, url)
    if url and "://" not in url and is_http_url(location):
        url = urljoin(location, url)
    return url


def _swagger_base(doc: dict, location: str) -> str:
    """Swagger 2.0: scheme + host + basePath, defaulting to where the document came from."""
    base_path = str(doc.get("basePath") or "")
    host = doc.get("host")
    schemes = [str(s) for s in doc.get("schemes") or () if isinstance(s, str)]
    if not host:
        if not is_http_url(location):
            return base_path
        return urljoin(location, base_path or "/")
    scheme = "https" if "https" in schemes else (schemes[0] if schemes else
                                                   (location.split(":", 1)[0] if is_http_url(location) else "https"))
    return f"{scheme}://{host}{base_path}"


def _merged_parameters(resolver: RefResolver, item: dict, op: dict, item_doc: str) -> list[tuple[dict, str]]:
    """Path-level parameters overridden by operation-level ones with the same name and ``in``."""
    merged: dict[tuple[str, str], tuple[dict, str]] = {}
    for holder in (item, op):
        for raw in holder.get("parameters") or ():
            param, base = resolver.deref(raw, item_doc)
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                merged[(param["name"], str(param.get("in")))] = (param, base)
    return list(merged.values())


def _with_description(schema: Any, description: Any) -> dict:
    schema = dict(schema) if isinstance(schema, dict) else {}
    if isinstance(description, str) and description.strip():
        schema["description"] = description.strip()
    return schema


def _openapi3_args(resolver: RefResolver, item: dict, op: dict, item_doc: str) -> _Args:
    args = _Args()
    for param, base in _merged_parameters(resolver, item, op, item_doc):
        where = param.get("in")
        if where not in ("path", "query", "header"):
            continue
        if where == "header" and param["name"].lower() in _IGNORED_HEADERS:
            continue
        raw = param.get("schema")
        if raw is None and isinstance(param.get("content"), dict) and param["content"]:
            raw = next(iter(param["content"].values()), dict[str, Any]()).get("schema")
        schema = resolver.schema(raw if raw is not None else {"type": "string"}, base)
        args.add(param["name"], _with_description(schema, param.get("description")), where,
                 where == "path" or bool(param.get("required")))
    body, base = resolver.deref(op.get("requestBody"), item_doc)
    if isinstance(body, dict) and isinstance(body.get("content"), dict):
        media_type, media = _pick_media(body["content"])
        if media_type is not None:
            location = "form" if _is_form(media_type) else "body"
            raw = media.get("schema") if isinstance(media, dict) else None
            schema = resolver.schema(raw, base) if raw is not None else {"type": "string"}
            _add_body(args, schema, location, bool(body.get("required")), body.get("description"))
    return args


def _is_form(media_type: str) -> bool:
    return media_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _pick_media(content: dict) -> tuple[str | None, Any]:
    """JSON first, then forms, then whatever comes first (XML, octet-stream, text)."""
    types = [str(t) for t in content]
    for wanted in (lambda t: "json" in t.lower(), lambda t: t == "*/*", _is_form, lambda t: True):
        for media_type in types:
            if wanted(media_type):
                return media_type, content[media_type] if media_type in content else None
    return None, None


def _add_body(args: _Args, schema: Any, location: str, body_required: bool, description: Any) -> None:
    """Object bodies are flattened into arguments; anything else becomes one ``body`` argument.
    An object body that declares no properties and allows none (``properties: {}``, no
    ``additionalProperties``) adds no argument: the function takes none, and ``{}`` is its call."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if (isinstance(props, dict) and not props and schema.get("type", "object") == "object"
            and not schema.get("additionalProperties") and not any(k in schema for k in ("allOf", "anyOf", "oneOf"))):
        return
    if isinstance(props, dict) and props and schema.get("type", "object") == "object":
        required = set(schema.get("required") or ()) if isinstance(schema.get("required"), list) else set()
        for name, prop in props.items():
            if isinstance(prop, dict) and prop.get("readOnly") is True:
                continue
            args.add(name, prop, location, name in required)
        return
    if isinstance(schema, dict) and "description" not in schema:
        schema = _with_description(schema, description)
    args.add("body", schema, location, body_required)


def _swagger_args(resolver: RefResolver, item: dict, op: dict, item_doc: str, doc: dict) -> _Args:
    args = _Args()
    body: tuple[dict, str] | None = None
    for param, base in _merged_parameters(resolver, item, op, item_doc):
        where = param.get("in")
        if where == "body":
            body = (param, base)
            continue
        if where not in ("path", "query", "header", "formData"):
            continue
        if where == "header" and param["name"].lower() in _IGNORED_HEADERS:
            continue
        raw = {k: param[k] for k in _SWAGGER_SCHEMA_KEYS if k in param}
        if raw.get("type") == "file":
            raw = {"type": "string", "format": "binary"}
        schema = resolver.schema(raw or {"type": "string"}, base)
        args.add(param["name"], _with_description(schema, param.get("description")),
                 "form" if where == "formData" else where, where == "path" or bool(param.get("required")))
    if body is not None:
        param, base = body
        schema = resolver.schema(param.get("schema") or {"type": "object"}, base)
        _add_body(args, schema, "body", bool(param.get("required")), param.get("description"))
    return args

