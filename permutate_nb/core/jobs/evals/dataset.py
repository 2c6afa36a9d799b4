"""Eval datasets: cases with an input, an expected output and optional context, from any tabular source.

A dataset has a name and a version (a hash of its content), and each case a stable id
(given, or a hash of its input), so results from two runs of the same data line up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....errors import RequestError
from ...frames import is_dataframe, is_nan
from ...request.safe_load import load_json, load_yaml, read_csv, read_text

__all__ = ["EvalCase", "Dataset", "load_dataset"]


@dataclass(frozen=True)
class EvalCase:
    """One eval case: the question, the answer expected and the context retrieved for it.

    Attributes:
        id: Stable across runs (given, or a hash of the input), so two runs' outputs line up.
        input: The question (the template's ``{query_str}``).
        expected_output: The reference answer; a metric that needs one is not applicable without it.
        context: The retrieved chunks, each ``{text, metadata}`` (the template's ``{context_str}``).
        metadata: The record's other fields and its ``metadata``, carried into the case's output.
    """

    id: str
    input: str
    expected_output: str | None = None
    context: tuple[dict[str, Any], ...] = ()  # chunks: {text, metadata}
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def context_str(self) -> str:
        """The chunks' texts joined by blank lines: what the template's ``{context_str}`` gets."""
        return "\n\n".join(chunk["text"] for chunk in self.context)

    def to_dict(self) -> dict[str, Any]:
        """The case as plain JSON: what a stored eval keeps, and what the dataset's version hashes."""
        return {"id": self.id, "input": self.input, "expected_output": self.expected_output,
                "context": [dict(c) for c in self.context], "metadata": self.metadata}


@dataclass(frozen=True)
class Dataset:
    """The cases an eval runs, named, with a version that changes when their content does.

    Attributes:
        name: Given, else the source's own name or its file's stem (``dataset`` for in-memory data).
        cases: The cases in the source's order.
    """

    name: str
    cases: tuple[EvalCase, ...]

    @property
    def version(self) -> str:
        """A content hash: the same cases give the same version."""
        text = json.dumps([c.to_dict() for c in self.cases], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """Name, version and cases as plain JSON: what a stored eval keeps to plan itself again."""
        return {"name": self.name, "version": self.version, "cases": [c.to_dict() for c in self.cases]}


def _chunks(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    if value is None or is_nan(value) or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return _chunks(load_json(text, where, strict=False), where)  # nested too deep: refused
            except ValueError:
                pass
        return ({"text": value, "metadata": {}},)
    if isinstance(value, list):
        chunks = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                chunks.append({"text": item, "metadata": {}})
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                chunks.append({"text": item["text"], "metadata": dict(item.get("metadata") or {})})
            else:
                raise RequestError(f"{where}.context[{i}]: a chunk is a string or {{text, metadata}}")
        return tuple(chunks)
    raise RequestError(f"{where}.context: give a string or a list of chunks {{text, metadata}}")


def _case(record: dict[str, Any], index: int) -> EvalCase:
    where = f"case {index + 1}"
    text = record.get("input", record.get("question"))
    if not isinstance(text, str) or not text.strip():
        raise RequestError(f"{where}: input is missing or empty")
    expected = record.get("expected_output", record.get("reference"))
    if is_nan(expected):
        expected = None
    case_id = record.get("id")
    if case_id is None or is_nan(case_id) or case_id == "":
        case_id = hashlib.sha256(text.encode()).hexdigest()[:12]
    metadata = record.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = load_json(metadata, f"{where}.metadata", strict=False)
        except ValueError:
            metadata = {"value": metadata}
    if not isinstance(metadata, dict):
        metadata = {"value": metadata}
    known = {"id", "input", "question", "expected_output", "reference", "context", "metadata"}
    extra = {k: v for k, v in record.items() if k not in known and not is_nan(v)}
    return EvalCase(id=str(case_id), input=text, expected_output=None if expected is None else str(expected),
                    context=_chunks(record.get("context"), where), metadata={**extra, **metadata})


def _mapping(record: Any, index: int) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    raise RequestError(f"case {index + 1}: a case is a mapping {{id, input, expected_output, context}}, "
                       f"not {type(record).__name__}")


def _records(source: Any) -> tuple[str | None, list[dict[str, Any]]]:
    if is_dataframe(source):
        return None, source.to_dict(orient="records")
    if isinstance(source, list):
        return None, [_mapping(r, i) for i, r in enumerate(source)]
    if isinstance(source, dict):
        name = source.get("name")
        return None if name is None else str(name), _records(list(source.get("cases") or source.get("test_cases") or []))[1]
    path = Path(str(source))
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv", ".yaml", ".yml", ".json"):
        raise RequestError(f"{path}: use a .jsonl, .csv, .yaml or .json dataset")
    text = read_text(path, "dataset file")
    if suffix == ".jsonl":
        return path.stem, _jsonl_records(text, str(path))
    if suffix == ".csv":
        return path.stem, read_csv(text, str(path))
    data = load_yaml(text, str(path))
    if isinstance(data, dict) and not isinstance(data.get("cases") or data.get("test_cases") or [], list):
        raise RequestError(f"{path}: cases must be a list of cases")
    name, records = _records(data) if isinstance(data, (dict, list)) else (None, [])
    return name or path.stem, records


def _jsonl_records(text: str, origin: str) -> list[dict[str, Any]]:
    """One JSON object per non-blank line; a line that is not one is named."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            where = f"{origin}, line {number}"
            try:
                record = load_json(line, where)
            except ValueError as exc:
                raise RequestError(f"{where}: not JSON ({exc.args[0]})") from None
            if not isinstance(record, dict):
                raise RequestError(f"{where}: expected a JSON object {{input, expected_output, ...}}, "
                                   f"got {type(record).__name__}")
            records.append(record)
    return records


def load_dataset(source: Any, *, name: str | None = None) -> Dataset:
    """A dataset from JSONL, CSV, YAML/JSON (a list, or {name, cases}), a DataFrame or a list of dicts."""
    if isinstance(source, Dataset):
        return source
    found_name, records = _records(source)
    if not records:
        raise RequestError("the dataset has no cases")
    cases = tuple(_case(r, i) for i, r in enumerate(records))
    seen: set[str] = set()
    for case in cases:  # one pass: a 40k-case dataset is checked in milliseconds
        if case.id in seen:
            raise RequestError(f"case id {case.id!r} appears twice; ids must be unique")
        seen.add(case.id)
    return Dataset(name=name or found_name or "dataset", cases=cases)
