"""Settings: every environment variable permutate_nb reads, in one pydantic-settings object.

Our own variables carry the ``PERMUTATE_`` prefix. The batch limits keep the names of the
reference documents (``MAX_EXECUTIONS_PER_BATCH`` and friends) as aliases, beside a prefixed
name; the model endpoints keep OpenAI's (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).

``settings()`` reads the environment once and keeps the object until the environment changes
(a test's ``monkeypatch.setenv``, a CLI flag); pass a ``Settings`` explicitly where a caller
wants other values. The library never reads a ``.env`` file behind a call: the ``permutate``
command and ``permutate serve`` read ``./.env`` at start-up (``load_env_file``), and say so
with ``-v``. A variable named by a request (``api_key_env``, ``token_env``) is data, not a
setting: ``env_value`` reads it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigurationError

__all__ = ["Settings", "settings", "load_env_file", "env_value", "ENV_NAMES"]

log = logging.getLogger("permutate_nb")


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting, with the environment variable(s) it comes from (the first name wins)."""

    model_config = SettingsConfigDict(env_prefix="PERMUTATE_", extra="ignore", populate_by_name=True,
                                      validate_default=True, frozen=True)

    home: Path = Field(Path("~/.permutate"), description="Where jobs, the response cache and snapshots live.")
    url_map: Path | None = Field(None, description="A YAML file mapping URL prefixes to local mirrors.")
    prices: Path | None = Field(None, description="A YAML price table ($ per 1M tokens) merged over the built-in one.")
    max_response_bytes: int = Field(4 * 1024 * 1024, ge=256, description="Largest model reply read, in bytes.")
    api_key: SecretStr | None = Field(None, description="`permutate serve`: the key every request must carry.")
    max_body_mb: float = Field(10.0, gt=0, description="`permutate serve`: largest request body, in MB.")
    allow_urls: str = Field("", description="`permutate serve`: URL prefixes a request body may name, comma-separated "
                                            "(with `--allow-url`).")
    allow_backends: str = Field("", description="`permutate serve`: modules whose classes a conversation test case may "
                                                "name as its backend, comma-separated (with `--allow-backend`).")
    # the batch documents' limits, under their own names
    default_model: str = Field("local", validation_alias=_alias("PERMUTATE_DEFAULT_MODEL",
                                                               "ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME"),
                               description="Batch rows and evals without a model use this one.")
    max_threads: int = Field(4, gt=0, validation_alias=_alias("PERMUTATE_MAX_THREADS", "DEFAULT_MAX_THREADS"),
                             description="Parallel executions of a batch.")
    max_executions_per_batch: int = Field(100, gt=0, validation_alias=_alias("PERMUTATE_MAX_EXECUTIONS_PER_BATCH",
                                                                             "MAX_EXECUTIONS_PER_BATCH"),
                                          description="Rows x models a batch may have.")
    max_prompt_length: int = Field(1000, gt=0, validation_alias=_alias("PERMUTATE_MAX_PROMPT_LENGTH",
                                                                       "MAX_PROMPT_LENGTH"),
                                   description="Characters of one batch prompt.")
    max_concurrent_batches: int = Field(5, gt=0, validation_alias=_alias("PERMUTATE_MAX_CONCURRENT_BATCHES",
                                                                         "MAX_CONCURRENT_BATCHES"),
                                        description="Batches running at once in a process; the rest wait PENDING.")
    execution_timeout: float = Field(300.0, gt=0, validation_alias=_alias("PERMUTATE_EXECUTION_TIMEOUT",
                                                                          "EXECUTION_TIMEOUT"),
                                     description="Seconds per batch row, retries included.")
    # the model endpoints, under OpenAI's names
    openai_base_url: str | None = Field(None, validation_alias=_alias("OPENAI_BASE_URL"),
                                        description="The OpenAI-compatible endpoint used when a request names none.")
    openai_api_key: SecretStr | None = Field(None, validation_alias=_alias("OPENAI_API_KEY"),
                                             description="Sent only to the default endpoint or OPENAI_BASE_URL.")
    omp_num_threads: int | None = Field(None, gt=0, validation_alias=_alias("OMP_NUM_THREADS"),
                                        description="llama.cpp threads for the embedded model (default: every core; one while the load average is above twice the cores).")

    def home_dir(self) -> Path:
        """``home`` with ``~`` expanded: the directory the stores actually use."""
        return self.home.expanduser()


#: every variable a ``Settings`` reads, by field (the names the README's table lists)
ENV_NAMES: dict[str, tuple[str, ...]] = {
    name: (tuple(str(a) for a in field.validation_alias.choices)  # type: ignore[union-attr]
           if field.validation_alias is not None else (f"PERMUTATE_{name.upper()}",))
    for name, field in Settings.model_fields.items()
}
_WATCHED = tuple(sorted({env for names in ENV_NAMES.values() for env in names}))
_lock = threading.Lock()
_cached: tuple[tuple[str | None, ...], Settings] | None = None


def settings() -> Settings:
    """The process's settings, read from the environment once and again only when it changes."""
    global _cached
    snapshot = tuple(os.environ.get(name) for name in _WATCHED)
    cached = _cached
    if cached is not None and cached[0] == snapshot:
        return cached[1]
    with _lock:
        values = {name: value for name, value in zip(_WATCHED, snapshot) if value not in (None, "")}
        try:
            current = Settings(**_by_field(values))
        except ValidationError as exc:
            raise ConfigurationError(_explain(exc, values)) from None
        _cached = (snapshot, current)
        return current


def _by_field(values: dict[str, str]) -> dict[str, Any]:
    """Environment values keyed by field name, the first alias of each field winning."""
    fields: dict[str, Any] = {}
    for name, envs in ENV_NAMES.items():
        for env in envs:
            if env in values:
                fields[name] = values[env]
                break
    return fields


def _explain(exc: ValidationError, values: dict[str, str]) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    env = next((e for e in ENV_NAMES.get(field, ()) if e in values), field)
    shown = "***" if "key" in field else repr(values.get(env, ""))
    if error["type"] in ("float_parsing", "int_parsing", "int_from_float"):
        return f"{env}={shown} is not a number"
    if error["type"] in ("greater_than", "greater_than_equal"):
        return f"{env}={shown} must be at least {error['ctx'].get('ge', '')}".rstrip() if "ge" in error.get("ctx", {}) \
            else f"{env}={shown} must be greater than {error['ctx'].get('gt')}"
    return f"{env}={shown}: {error['msg']}"


def load_env_file(path: str | Path = ".env") -> list[str]:
    """Put a ``.env`` file's variables into the environment, where not already set (the CLI and
    ``serve`` call this at start-up; the library never does). Returns the names it set."""
    file = Path(path)
    if not file.is_file():
        return []
    set_names = []
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        if key and key not in os.environ:
            os.environ[key] = value.strip().strip("'\"")
            set_names.append(key)
    if set_names:
        log.info("read %s from %s", ", ".join(set_names), file.resolve())
    return set_names


def env_value(name: str | None) -> str | None:
    """The value of an environment variable a request names (``api_key_env``, ``token_env``), or None."""
    return os.environ.get(name) or None if name else None
