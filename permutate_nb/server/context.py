"""What every route needs: the settings, the job store, the registry, the job manager and the guard."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request, Response

from ..core.api import resume_async
from ..core.executors.spec import ExecutorSpec
from ..core.jobs.permutate import JobPlan, plan_job
from ..core.plugins.fetch import default_url_map
from ..core.plugins.loader import PluginLoader
from ..core.request.models import JobRequest, load_request
from ..core.store.job_store import JobStore
from ..core.store.paths import permutate_home
from .guard import RequestGuard
from .jobs import JobManager
from .registry import Registry
from .settings import ServerSettings

__all__ = ["ServerContext", "context", "json_response", "json_response_async"]

_PLAN_THREADS = 256


def json_response(data: Any, status_code: int = 200) -> Response:
    """JSON straight from ``json.dumps``: FastAPI's encoder costs ~10x more on a 2,000-row result."""
    return Response(json.dumps(data, ensure_ascii=False, default=str), status_code=status_code,
                    media_type="application/json")


async def json_response_async(make: Any) -> Response:
    """``json_response(make())`` in a worker thread: a large result must not hold up other requests' polls."""
    return await asyncio.to_thread(lambda: json_response(make()))


@dataclass
class ServerContext:
    """The server's shared state, opened once at startup and kept on ``app.state`` for every route."""
    settings: ServerSettings
    store: JobStore
    registry: Registry
    manager: JobManager
    guard: RequestGuard
    public_dir: Path
    # Planning fetches manifests and specs (up to FETCH_DEADLINE each): its own threads, so requests
    # whose documents drip in slowly never hold the worker threads every other request needs.
    plan_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(_PLAN_THREADS, "permutate-plan"))

    @classmethod
    def open(cls, settings: ServerSettings) -> ServerContext:
        """Open the job store, registry, guard and job manager under the permutate home; make the public folder."""
        home = permutate_home()
        store = JobStore()
        registry = Registry(home / "server.sqlite")
        public = home / "public" / "batch_execution_results"
        public.mkdir(parents=True, exist_ok=True)
        guard = RequestGuard(settings)
        manager = JobManager(store, registry, guard.url_problem_async, guard.address_problem)
        return cls(settings, store, registry, manager, guard, public)

    def plan_permutate(self, body: dict[str, Any], provider: str | None = None) -> JobPlan:
        """Validate and guard a request from a client, load its plugins through the guard; calls no model.

        Relative paths in the body resolve against the first ``--allow-dir`` (a body has no folder of its own).
        """
        base = self.settings.allow_dirs[0] if self.settings.allow_dirs else None
        request = load_request(body, base_dir=base)
        mirror = default_url_map(request.config.url_map)
        self.guard.check_request(request, mirror)
        return plan_job(request, provider=provider, loader=PluginLoader(fetcher=self.guard.fetcher(mirror)))

    async def plan_permutate_async(self, body: dict[str, Any], provider: str | None = None) -> JobPlan:
        """``plan_permutate`` on the planning threads."""
        return await asyncio.get_running_loop().run_in_executor(self.plan_pool, self.plan_permutate, body, provider)

    def executor(self, request: JobRequest | None = None) -> ExecutorSpec | None:
        """A job's executor: the server's (``--executor``), or the body's ``config.executor`` (checked by
        the guard) on the server's cluster."""
        server = self.settings.executor
        own = request.config.executor if request is not None else None
        if own is None:
            return server
        return own.model_copy(update={"address": server.address}) if server is not None and own.kind == "ray" else own

    def resume_owned(self) -> list[str]:
        """Resume the unfinished jobs this server (or its previous run) started; finished runs are kept."""
        store = self.store

        def resumer(job_id: str, progress: Any) -> Any:
            # the server's executor, also for a job whose stored request asked for Ray on a server that had it
            return resume_async(job_id, store=store, reporter=progress, executor=self.settings.executor or ExecutorSpec())

        return self.manager.resume_owned(dict.fromkeys(("permutate", "batch", "eval"), resumer))

    def close(self) -> None:
        """Stop the planning threads and close the registry and the store (the server is shutting down)."""
        self.plan_pool.shutdown(wait=False, cancel_futures=True)
        self.registry.close()
        self.store.close()


def context(request: Request) -> ServerContext:
    """The app's ``ServerContext``, reached from the request a route was given."""
    return request.app.state.ctx

