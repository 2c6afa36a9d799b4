"""Reference pages generated from the code, so they cannot fall behind it.

An MkDocs hook (``hooks:`` in mkdocs.yml): a page holding ``<!-- generated: NAME -->`` gets, in its
place, the markdown that NAME's generator writes from the code itself:

- ``request``: every field of the request, from ``permutate_nb.JobRequest.model_json_schema()``;
  a field's description is the model's own when it has one, else the entry in
  ``docs/reference/request-fields.yaml``; a field with neither, or an entry naming no field, fails
  the build (so a new field cannot go undocumented);
- ``cli``: every command and flag, from the argparse parser of ``permutate_nb.cli``;
- ``http-api``: every endpoint and schema, from the OpenAPI document of ``permutate_nb.server``'s app;
- ``errors``: the exception tree under ``permutate_nb.PermutateError`` and the warnings, with each
  class's docstring.

Only the public entry points are imported (``permutate_nb``, ``permutate_nb.cli``,
``permutate_nb.server``), never modules inside the package's core, which move.

    python scripts/docs_reference.py OUT_DIR     # writes request.md, cli.md, http-api.md, errors.md there
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FIELDS_FILE = ROOT / "docs" / "reference" / "request-fields.yaml"
MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")

if str(ROOT) not in sys.path:  # the checkout's package, also when mkdocs runs from elsewhere
    sys.path.insert(0, str(ROOT))


class GenerationError(Exception):
    """A reference page cannot be written truthfully (e.g. a request field without a description)."""


def _cell(text: Any) -> str:
    """Text for one markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


# ---------------------------------------------------------------- the request format


def _request_link(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def _schema_type(prop: dict[str, Any], link: Callable[[str], str] = _request_link) -> str:
    """A JSON-schema property as a short type: ``integer``, ``list of TestCase``, ``string or null``."""
    if "$ref" in prop:
        return link(prop["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in prop:
        parts = [_schema_type(p, link) for p in prop["anyOf"]]
        return " or ".join(dict.fromkeys(parts))
    if "enum" in prop:
        return "one of " + ", ".join(_code(v) for v in prop["enum"])
    if "const" in prop:
        return _code(prop["const"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_schema_type(prop.get('items', {}), link)}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"mapping of string to {_schema_type(extra, link)}"
        return "mapping"
    if kind == "null":
        return "null"
    return kind or "any value"


def _limits(prop: dict[str, Any]) -> str:
    words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<",
             "minItems": "items >=", "minLength": "length >="}
    found = [f"{words[k]} {prop[k]}" for k in words if k in prop]
    for option in prop.get("anyOf", []):
        found += [f"{words[k]} {option[k]}" for k in words if k in option]
    return ", ".join(found)


def _model_paths(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Where each model appears in a request, e.g. ``LLMConfig`` -> ``permutations[].llm``."""
    paths: dict[str, list[str]] = {schema["title"]: ["the top level"]}
    defs = schema.get("$defs", {})

    def refs(prop: dict[str, Any], suffix: str = "") -> list[tuple[str, str]]:
        if "$ref" in prop:
            return [(prop["$ref"].rsplit("/", 1)[-1], suffix)]
        found = []
        for option in prop.get("anyOf", []):
            found += refs(option, suffix)
        if prop.get("type") == "array":
            found += refs(prop.get("items", {}), suffix + "[]")
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            found += refs(extra, suffix + ".*")
        return found

    queue = [(schema["title"], schema, "")]
    while queue:
        _, model, prefix = queue.pop(0)
        for field, prop in model.get("properties", {}).items():
            for name, suffix in refs(prop):
                path = f"{prefix}{field}{suffix}"
                if name not in paths:
                    paths[name] = []
                    queue.append((name, defs[name], path + "."))
                paths[name].append(path)
    return paths


def request_reference() -> str:
    from permutate_nb import JobRequest

    schema = JobRequest.model_json_schema()
    descriptions: dict[str, str] = yaml.safe_load(FIELDS_FILE.read_text()) or {}
    models = {schema["title"]: schema, **schema.get("$defs", {})}
    paths = _model_paths(schema)
    missing, used = [], set()
    out: list[str] = []
    for name in paths:  # the order a reader meets them: the request, then what it holds
        model = models[name]
        out += [f"### {name}", "", "At: " + ", ".join(p if " " in p else f"`{p}`" for p in paths[name]) + ".", ""]
        if model.get("description"):
            out += [" ".join(model["description"].split()), ""]
        required = set(model.get("required", []))
        out += ["| field | type | default | description |", "|---|---|---|---|"]
        for field, prop in model.get("properties", {}).items():
            key = f"{name}.{field}"
            text = prop.get("description") or descriptions.get(key)
            if key in descriptions:
                used.add(key)
            if not text:
                missing.append(key)
                text = ""
            if field in required:
                default = "**required**"
            elif "default" in prop:
                default = _code(prop["default"])
            else:
                default = "see description"
            limits = _limits(prop)
            kind = _schema_type(prop) + (f" ({limits})" if limits else "")
            out.append(f"| `{field}` | {_cell(kind)} | {_cell(default)} | {_cell(text)} |")
        out.append("")
    stale = sorted(set(descriptions) - used)
    if missing or stale:
        raise GenerationError(
            f"{FIELDS_FILE.relative_to(ROOT)}: " + "; ".join(
                ([f"no description for {', '.join(missing)}"] if missing else [])
                + ([f"describes fields the models do not have: {', '.join(stale)}"] if stale else [])))
    return "\n".join(out)


# ---------------------------------------------------------------- the command line


def _flag_row(action: argparse.Action) -> str:
    names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.choices:
        value = " \\| ".join(f"`{c}`" for c in action.choices)
    elif action.nargs == 0:
        value = ""
    else:
        value = f"`{action.metavar or action.dest.upper()}`" if action.option_strings else ""
    notes = []
    if action.required and action.option_strings:
        notes.append("required")
    if action.nargs == "?":
        notes.append("optional")
    if isinstance(action, argparse._AppendAction):
        notes.append("repeatable")
    if action.default not in (None, False, [], argparse.SUPPRESS) and action.nargs != 0:
        notes.append(f"default `{action.default}`")
    help_text = (action.help or "") % {"default": action.default} if action.help else ""
    return f"| {names} | {value} | {_cell(help_text)} | {', '.join(notes)} |"


def _parser_table(parser: argparse.ArgumentParser) -> list[str]:
    actions = [a for a in parser._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
    if not actions:
        return ["No arguments.", ""]
    return ["| argument | value | meaning | notes |", "|---|---|---|---|", *map(_flag_row, actions), ""]


def cli_reference() -> str:
    from permutate_nb import cli

    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    out = ["### permutate", "", "Options before the command:", "", *_parser_table(parser)]
    for name, command in sub.choices.items():
        usage = " ".join(command.format_usage().split()).removeprefix("usage: ")
        out += [f"### permutate {name}", "", _cell(helps.get(name, "")) + ".", "",
                "```", usage, "```", "", *_parser_table(command)]
    return "\n".join(out)


# ---------------------------------------------------------------- the HTTP API


def _openapi_type(prop: dict[str, Any]) -> str:
    return _schema_type(prop, lambda name: f"[{name}](#{_schema_anchor(name)})")


def _schema_anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@lru_cache(maxsize=1)
def _openapi() -> dict[str, Any]:
    from permutate_nb.server import create_app

    return create_app().openapi()


def http_api_reference() -> str:
    doc = _openapi()
    out: list[str] = []
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    for tag, operations in by_tag.items():
        out += [f"### {tag.capitalize()}", ""]
        for path, method, op in operations:
            out += [f"#### `{method.upper()} {path}`", ""]
            if op.get("summary"):
                out += [op["summary"] + ("" if op["summary"].endswith(".") else "."), ""]
            if op.get("description"):
                out += [op["description"].strip(), ""]
            params = op.get("parameters", [])
            if params:
                out += ["| parameter | in | type | required | meaning |", "|---|---|---|---|---|"]
                for p in params:
                    schema = p.get("schema", {})
                    kind = _openapi_type(schema) + (f", default {_code(schema['default'])}" if "default" in schema else "")
                    out.append(f"| `{p['name']}` | {p['in']} | {_cell(kind)} | {'yes' if p.get('required') else 'no'} "
                               f"| {_cell(p.get('description') or schema.get('description') or '')} |")
                out.append("")
            body = op.get("requestBody")
            if body:
                kinds = [f"`{ctype}`" + (f" ({_openapi_type(c['schema'])})" if c.get("schema") else "")
                         for ctype, c in body.get("content", {}).items()]
                out += [f"Body{' (required)' if body.get('required') else ''}: {', '.join(kinds)}.", ""]
            responses = [f"`{code}` {r.get('description', '')}".rstrip() for code, r in op.get("responses", {}).items()]
            if responses:
                out += ["Answers: " + "; ".join(responses) + ".", ""]
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        out += ["### Schemas", ""]
        for name, schema in schemas.items():
            out += [f'<a id="{_schema_anchor(name)}"></a>', "", f"#### {name}", ""]
            if schema.get("description"):
                out += [" ".join(schema["description"].split()), ""]
            props = schema.get("properties", {})
            if props:
                required = set(schema.get("required", []))
                out += ["| field | type | required | meaning |", "|---|---|---|---|"]
                for field, prop in props.items():
                    out.append(f"| `{field}` | {_cell(_openapi_type(prop))} | {'yes' if field in required else 'no'} "
                               f"| {_cell(prop.get('description', ''))} |")
                out.append("")
            elif schema.get("type"):
                out += [f"Type: {_cell(_openapi_type(schema))}.", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- the error tree


def errors_reference() -> str:
    import permutate_nb

    home = permutate_nb.PermutateError.__module__  # the errors module, without naming its path here

    def where(cls: type) -> str:
        return f"permutate_nb.{cls.__name__}" if getattr(permutate_nb, cls.__name__, None) is cls \
            else f"{cls.__module__}.{cls.__name__}"

    def tree(cls: type, depth: int) -> list[str]:
        doc = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())
        lines = [f"{'    ' * depth}- **{cls.__name__}** (`{where(cls)}`): {doc}"]
        for child in cls.__subclasses__():
            if child.__module__ == home and not child.__name__.startswith("_"):
                lines += tree(child, depth + 1)
        return lines

    return "\n".join([*tree(permutate_nb.PermutateError, 0), "", *tree(permutate_nb.PermutateWarning, 0)])


GENERATORS: dict[str, Callable[[], str]] = {
    "request": request_reference,
    "cli": cli_reference,
    "http-api": http_api_reference,
    "errors": errors_reference,
}


def render(markdown: str, where: str) -> str:
    """Every marker in ``markdown`` replaced by its generator's output."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise GenerationError(f"{where}: unknown generated section {name!r} (known: {', '.join(GENERATORS)})")
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs hook: fill the generated sections of a page (a failure stops the build)."""
    from mkdocs.exceptions import PluginError

    try:
        return render(markdown, page.file.src_uri)
    except GenerationError as exc:
        raise PluginError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the generated reference sections to files, to read them.")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, generate in GENERATORS.items():
        (args.out_dir / f"{name}.md").write_text(generate() + "\n")
        print(args.out_dir / f"{name}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
