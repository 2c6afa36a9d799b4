"""Where a job's units run: in-process asyncio (the default) or Ray actors (extra ``ray``).

``ExecutorSpec`` is the request's ``config.executor`` (``{kind: ray, address: auto, workers: N}``)
and what ``--executor ray [--ray-address ADDR] [--workers N]`` or ``executor="ray"`` make.
A leaf module: the request models import it, and nothing here imports Ray
(``executors.choose`` turns a spec into an executor).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import MissingExtraError, RequestError

__all__ = ["ExecutorSpec", "executor_spec", "check_executor"]


class ExecutorSpec(BaseModel):
    """``kind``: asyncio (in-process) or ray; ``address``: the Ray cluster (``auto``: the one
    ``ray start`` runs on this machine; none: the running or a new local instance);
    ``workers``: Ray actors (default: the cluster's CPUs)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["asyncio", "ray"] = "asyncio"
    address: str | None = None
    workers: int | None = Field(None, ge=1, le=4096)


def executor_spec(value: Any, *, address: str | None = None, workers: int | None = None) -> ExecutorSpec | None:
    """A spec from ``executor="ray"``, a dict, a spec or None; ``address``/``workers`` override its own."""
    if value is None and address is None and workers is None:
        return None
    if isinstance(value, ExecutorSpec):
        spec = value
    elif isinstance(value, str):
        if value not in ("asyncio", "ray"):
            raise RequestError(f"executor {value!r}: use asyncio or ray")
        spec = ExecutorSpec(kind=value)
    elif value is None:
        spec = ExecutorSpec(kind="ray")  # --ray-address or --workers alone mean Ray
    else:
        try:
            spec = ExecutorSpec.model_validate(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise RequestError(f"executor{'.' + where if where else ''}: {error['msg']}") from None
    update = {k: v for k, v in (("address", address), ("workers", workers)) if v is not None}
    return spec.model_copy(update=update) if update else spec


def check_executor(spec: ExecutorSpec | None) -> None:
    """Refuse a Ray executor without Ray installed, before the job is created."""
    if spec is not None and spec.kind == "ray":
        try:
            import ray  # noqa: F401 - the executor imports it next anyway
        except ImportError:
            raise MissingExtraError("ray", "ray") from None
