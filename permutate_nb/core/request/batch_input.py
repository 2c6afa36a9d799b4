"""Batch input: rows of prompt x model from CSV or a DataFrame, limits, ``${output.n}`` references.

Everything here runs before any model is called: a batch that breaks a limit or refers
to a row it cannot use is refused with the row and the rule named.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ...errors import RequestError
from ...settings import Settings, settings
from ..frames import is_blank, is_dataframe
from .models import LLMConfig
from .safe_load import load_yaml, names_a_path, read_csv, read_text

__all__ = ["BatchLimits", "BatchRow", "read_rows", "check_rows", "model_config", "load_models", "OUTPUT_REF"]

OUTPUT_REF = re.compile(r"\$\{output\.(\d+)\}")
_KNOWN = ("prompt", "model", "system", "temperature", "max_tokens")


@dataclass(frozen=True)
class BatchLimits:
    """The batch limits (``permutate_nb.settings``: the documents' variables, else the defaults)."""

    default_model: str = "local"
    max_threads: int = 4
    max_executions: int = 100
    max_prompt_length: int = 1000
    max_concurrent_batches: int = 5
    execution_timeout: float = 300.0

    @classmethod
    def from_env(cls, env: Settings | None = None) -> BatchLimits:
        """The limits of ``env`` (default: this process's ``settings()``)."""
        env = env or settings()
        return cls(default_model=env.default_model, max_threads=env.max_threads,
                   max_executions=env.max_executions_per_batch, max_prompt_length=env.max_prompt_length,
                   max_concurrent_batches=env.max_concurrent_batches, execution_timeout=env.execution_timeout)

@dataclass
class BatchRow:
    """One execution: 1-based ``number``, the prompt as written, its model and carried columns."""

    number: int
    prompt: str
    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def depends_on(self) -> list[int]:
        """The earlier rows whose output this prompt uses (its ``${output.N}`` references), in order."""
        return sorted({int(n) for n in OUTPUT_REF.findall(self.prompt)})

    def to_dict(self) -> dict[str, Any]:
        """The row as its columns: the known fields and the carried extras, for the job store and the export."""
        return {"prompt": self.prompt, "model": self.model, "system": self.system, "temperature": self.temperature,
                "max_tokens": self.max_tokens, **self.extra}


def _blank(value: Any) -> bool:
    return is_blank(value)


def _number(value: Any, kind: type, row: int, column: str) -> Any:
    if _blank(value):
        return None
    try:
        number = kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(f"row {row}: {column} {value!r} is not a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise RequestError(f"row {row}: {column} {value!r} is not a finite number")
    if column == "max_tokens" and number < 1:
        raise RequestError(f"row {row}: max_tokens {value!r} must be 1 or more")
    return number


def read_rows(source: Any, limits: BatchLimits) -> list[BatchRow]:
    """Rows from a DataFrame, a list of dicts, a CSV file path or CSV text (columns prompt, model, ...)."""
    records: list[dict[str, Any]]
    if is_dataframe(source):
        records = source.to_dict(orient="records")
    elif isinstance(source, list):
        records = [dict(r) for r in source]
    else:
        text = str(source)
        origin = "the CSV"
        if "\n" not in text and (text.endswith(".csv") or names_a_path(text)):
            origin, text = text, read_text(text, "CSV file")
        records = read_csv(text, origin)
    if not records:
        raise RequestError("the batch has no rows")
    if "prompt" not in records[0]:
        raise RequestError(f"the batch needs a 'prompt' column; it has: {', '.join(map(str, records[0]))}")
    rows = []
    for number, record in enumerate(records, start=1):
        prompt = record.get("prompt")
        if _blank(prompt):
            raise RequestError(f"row {number}: prompt is empty")
        model = record.get("model")
        rows.append(BatchRow(
            number=number,
            prompt=str(prompt),
            model=limits.default_model if _blank(model) else str(model).strip(),
            system=None if _blank(record.get("system")) else str(record["system"]),
            temperature=_number(record.get("temperature"), float, number, "temperature"),
            max_tokens=_number(record.get("max_tokens"), int, number, "max_tokens"),
            extra={k: v for k, v in record.items() if k not in _KNOWN},
        ))
    return rows


def check_rows(rows: list[BatchRow], limits: BatchLimits) -> None:
    """Refuse, before anything runs, a batch over a limit or with an unusable ``${output.n}``."""
    if len(rows) > limits.max_executions:
        raise RequestError(
            f"the batch has {len(rows)} rows; MAX_EXECUTIONS_PER_BATCH is {limits.max_executions} (split it, or raise the limit)")
    for row in rows:
        if len(row.prompt) > limits.max_prompt_length:
            raise RequestError(
                f"row {row.number}: the prompt has {len(row.prompt)} characters; MAX_PROMPT_LENGTH is {limits.max_prompt_length}")
        for n in row.depends_on:
            if n == row.number:
                raise RequestError(f"row {row.number}: ${{output.{n}}} refers to the row itself")
            if n < 1 or n > len(rows):
                raise RequestError(f"row {row.number}: ${{output.{n}}} refers to a row that does not exist (1-{len(rows)})")
            if n > row.number:
                raise RequestError(f"row {row.number}: ${{output.{n}}} refers to a later row; only earlier rows can be used")


def load_models(source: Mapping[str, Any] | str | Path | None) -> dict[str, dict[str, Any]]:
    """The model mapping (name -> provider, model_name, base_url, params) from a dict or a YAML file."""
    if source is None:
        return {}
    where = "models"
    if isinstance(source, (str, Path)):
        where = str(source)
        data = load_yaml(read_text(source, "models file"), where) or {}
        source = data.get("models", data) if isinstance(data, dict) else data
    if not isinstance(source, Mapping):
        raise RequestError(f"{where}: must map a model name to {{provider, model_name, base_url, params}}")
    for name, entry in source.items():
        if entry is not None and not isinstance(entry, Mapping):
            raise RequestError(f"{where}: model {name!r} must be a mapping {{provider, model_name, base_url, params}}, "
                               f"not {type(entry).__name__}")
        if isinstance(entry, Mapping) and not isinstance(entry.get("params") or {}, Mapping):
            raise RequestError(f"{where}: {name}.params must be a mapping of sampling settings")
    return {str(k): dict(v or {}) for k, v in source.items()}


def model_config(name: str, models: Mapping[str, Mapping[str, Any]], row: BatchRow | None = None) -> LLMConfig:
    """The LLM behind a row's model name: from the mapping, ``local``, or an OpenAI-compatible model_name."""
    entry = dict(models.get(name) or {})
    params = dict(entry.pop("params", None) or {})
    if not entry:
        entry = {"provider": "local"} if name == "local" else {"provider": "OpenAIChat", "model_name": name}
    entry.setdefault("provider", "OpenAIChat")
    if entry["provider"] != "local":
        entry.setdefault("model_name", name)
    settings = {**params, **entry}
    if row is not None:
        if row.temperature is not None:
            settings["temperature"] = row.temperature
        if row.max_tokens is not None:
            settings["max_tokens"] = row.max_tokens
    try:
        return LLMConfig.model_validate(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RequestError(f"models.{name}.{where}: {first['msg']}") from None
