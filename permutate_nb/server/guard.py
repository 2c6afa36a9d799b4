"""A request that arrives over HTTP may not make the server read its own files or probe its network.

Local manifest, ``url_map`` and model paths must lie under an ``--allow-dir``; http(s)
manifests, OpenAPI documents and ``$ref`` targets (and every redirect hop of their fetch) that
resolve to loopback, private, link-local or reserved addresses, or do not resolve at all, are
refused unless ``--allow-private-urls``. URLs the *operator* mapped (``PERMUTATE_URL_MAP``, the
bundled snapshots) are read from their files and never fetched, so they pass, and so do URLs
under an ``--allow-url`` prefix.

A body's own endpoints (``llm.base_url``, ``config.tool_selector_endpoint``) are the server's
choice: only an ``--allow-url`` prefix or the server's ``OPENAI_BASE_URL``. The operations that
``execute_operations`` calls, selector services and LangChain model calls pass the same address
check per request and per redirect hop (``url_policy``). A body names only the environment
variables listed with ``--allow-key-env``, and imports a conversation's backend only from a module
listed with ``--allow-backend``.

Those checks look at URLs before a request; a DNS answer that changes in between (rebinding)
would slip past them. So every connection's own DNS answer is checked too (``address_problem``,
through ``core.plugins.pinned_dns``) and the connection goes to that checked address: the
fetcher's for documents, the job's aiohttp sessions for everything else. Hosts of an operator's
``--allow-url`` prefix or ``OPENAI_BASE_URL`` are the operator's to trust, whatever they resolve to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from ..core.plugins.fetch import Fetcher, UrlMap, bundled_url_map
from ..core.plugins.pinned_dns import lookup, pinned_transport
from ..core.request.locations import is_http_url, local_path
from ..core.request.models import JobRequest
from ..errors import PluginLoadError, RequestError
from .settings import ServerSettings

__all__ = ["FieldError", "RequestGuard", "GuardedFetcher"]

_SERVER_SECRETS = ("PERMUTATE_API_KEY",)


class FieldError(RequestError):
    """A request refused because of one field; ``loc`` is its path in the body."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class RequestGuard:
    """The checks a request from a client passes before it runs: the folders, addresses and names it may reach."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings

    def local_allowed(self, location: str) -> bool:
        """Whether a local path lies under an ``--allow-dir`` (none given: no local path is allowed)."""
        path = local_path(location)
        return any(path.is_relative_to(root) for root in self.settings.allow_dirs)

    def operator_allows(self, url: str) -> bool:
        """Under an ``--allow-url`` prefix, or the model endpoint of the server's own environment."""
        own = os.environ.get("OPENAI_BASE_URL", "").strip().rstrip("/")
        if own and (url.rstrip("/") == own or url.startswith(own + "/")):
            return True
        return any(url.startswith(prefix) for prefix in self.settings.allow_urls)

    def operator_origins(self) -> set[tuple[str, int]]:
        """``(host, port)`` of every ``--allow-url`` prefix and of ``OPENAI_BASE_URL``: connections the operator trusts."""
        urls = [*self.settings.allow_urls, os.environ.get("OPENAI_BASE_URL", "").strip()]
        return {origin for origin in map(_origin, urls) if origin is not None}

    def private_address(self, url: str) -> str | None:
        """The first loopback/private/reserved address ``url``'s host resolves to, ``"unresolvable"``
        when it resolves to nothing, else None."""
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return "unresolvable"
        try:
            addresses = {ipaddress.ip_address(host)}
        except ValueError:
            try:
                addresses = {ipaddress.ip_address(address) for _, address in lookup(host, 0)}
            except (OSError, UnicodeError, ValueError):
                return "unresolvable"
        return _first_internal(addresses)

    def address_problem(self, host: str, port: int, addresses: list[str]) -> str | None:
        """Why a connection to ``host``:``port`` at ``addresses`` (its DNS answer at connect time) is refused, or None."""
        if self.settings.allow_private_urls or (host.lower().strip("[]"), port) in self.operator_origins():
            return None
        try:
            internal = _first_internal({ipaddress.ip_address(a) for a in addresses})
        except ValueError:
            internal = next(iter(addresses), "none")
        if internal is None:
            return None
        return (f"{host} resolves to a private address ({internal}) when connecting; this server refuses such "
                "URLs (start it with --allow-url PREFIX or --allow-private-urls to allow them)")

    def url_problem(self, url: str) -> str | None:
        """Why the server will not send a request to ``url`` for a client, or None."""
        if self.operator_allows(url) or self.settings.allow_private_urls:
            return None
        address = self.private_address(url)
        if address is None:
            return None
        if address == "unresolvable":
            return f"{url}: the host does not resolve; this server refuses such URLs"
        return (f"{url} resolves to a private address ({address}); this server refuses such URLs (start it with "
                "--allow-url PREFIX or --allow-private-urls to allow them)")

    async def url_problem_async(self, url: str) -> str | None:
        """``url_problem`` off the event loop (it may ask DNS): the check for a job's HTTP requests."""
        if self.operator_allows(url):
            return None
        return await asyncio.to_thread(self.url_problem, url)

    def check_location(self, location: str, loc: tuple[str | int, ...], mirror: UrlMap) -> None:
        """Refuse a manifest location this server may not read on a client's say-so."""
        if is_http_url(location):
            if mirror.lookup(location) is not None:
                return
            problem = self.url_problem(location)
            if problem is not None and not (problem.endswith("does not resolve; this server refuses such URLs")
                                            and bundled_url_map().lookup(location) is not None):
                raise FieldError(loc, problem)  # (an unresolvable URL with a bundled snapshot is read from it)
            return
        if not self.local_allowed(location):
            raise FieldError(loc, f"{location}: a request sent over HTTP cannot read the server's files; use a URL, "
                                  "or a path under a folder the server allows (--allow-dir)")

    def check_endpoint(self, url: str | None, loc: tuple[str | int, ...]) -> None:
        """A model or selector endpoint a body names: the operator's (``--allow-url``, ``OPENAI_BASE_URL``) only."""
        if url is None or self.operator_allows(url.strip()):
            return
        raise FieldError(loc, f"{url}: this server calls only the endpoints its operator allows (permutate serve "
                              "--allow-url PREFIX, PERMUTATE_ALLOW_URLS, or its OPENAI_BASE_URL)")

    def check_request(self, request: JobRequest, mirror: UrlMap) -> None:
        """Every location, local path and environment-variable name a permutate request names."""
        for gi, group in enumerate(request.plugin_groups):
            for pi, ref in enumerate(group.plugins):
                where = ("plugin_groups", gi, "plugins", pi)
                if ref.manifest_url is not None:
                    self.check_location(ref.manifest_url, (*where, "manifest_url"), mirror)
                elif isinstance(ref.functions, str):
                    self.check_location(ref.functions, (*where, "functions"), mirror)
                elif ref.mcp is not None:
                    self.check_mcp(ref.mcp, (*where, "mcp"), mirror)
                if ref.auth is not None:
                    self.check_env(ref.auth.token_env, ("plugin_groups", gi, "plugins", pi, "auth", "token_env"))
        if request.config.tool_selector_endpoint:
            self.check_endpoint(request.config.tool_selector_endpoint, ("config", "tool_selector_endpoint"))
        self.check_env(request.config.openplugin_api_key_env, ("config", "openplugin_api_key_env"))
        if request.test_plugin is not None and request.test_plugin.manifest_url is not None:
            self.check_location(request.test_plugin.manifest_url, ("test_plugin", "manifest_url"), mirror)
        for prefix, target in request.config.url_map.items():
            if not self.local_allowed(target):
                raise FieldError(("config", "url_map", prefix),
                                 f"{target}: a request sent over HTTP can map URLs only to files under --allow-dir")
        self.check_executor(request)
        for i, case in enumerate(request.test_cases):
            self.check_backend(case.backend, ("test_cases", i, "backend"))
        llms: list[tuple[tuple[str | int, ...], Any]] = [(("permutations", i, "llm"), p.llm)
                                                         for i, p in enumerate(request.permutations)]
        if request.config.translator is not None:
            llms.append((("config", "translator"), request.config.translator))
        for loc, llm in llms:
            self.check_env(llm.api_key_env, (*loc, "api_key_env"))
            self.check_endpoint(llm.base_url, (*loc, "base_url"))
            if llm.model_path and not self.local_allowed(llm.model_path):
                raise FieldError((*loc, "model_path"),
                                 f"{llm.model_path}: a request sent over HTTP can load models only from under --allow-dir")

    def check_mcp(self, spec: Any, loc: tuple[str | int, ...], mirror: UrlMap) -> None:
        """Strangers do not start processes: ``mcp.command`` only when the operator allowed exactly that
        program (``--allow-mcp-command``); ``mcp.url`` as a manifest URL; environment names as ``api_key_env``."""
        if spec.command is not None:
            if spec.command[0] not in self.settings.allow_mcp_commands:
                raise FieldError((*loc, "command"), f"{spec.command[0]}: a request sent over HTTP cannot start a program "
                                 "unless the server allows it (permutate serve --allow-mcp-command "
                                 f"{spec.command[0]})")
            if spec.cwd and not self.local_allowed(spec.cwd):
                raise FieldError((*loc, "cwd"), f"{spec.cwd}: an MCP server's folder must lie under --allow-dir")
        else:
            self.check_location(spec.url, (*loc, "url"), mirror)
        for field_name in ("env", "headers"):
            for key, value in getattr(spec, field_name).items():
                for name in _env_names(value):
                    self.check_env(name, (*loc, field_name, key))

    def check_executor(self, request: JobRequest) -> None:
        """Where jobs run is the operator's choice: a body may pick in-process, or Ray when the server runs
        on Ray (``--executor ray``), never the cluster (connecting to one the client names would run what
        that cluster sends back in this process)."""
        spec = request.config.executor
        if spec is None or spec.kind == "asyncio":
            return
        if spec.address is not None:
            raise FieldError(("config", "executor", "address"),
                             "a request sent over HTTP cannot choose the Ray cluster; the server's is set by --ray-address")
        server = self.settings.executor
        if server is None or server.kind != "ray":
            raise FieldError(("config", "executor", "kind"),
                             "this server runs jobs in-process; start it with permutate serve --executor ray")

    def check_backend(self, path: str | None, loc: tuple[str | int, ...]) -> None:
        """Strangers do not import code: a conversation's backend only from a module the operator allowed
        (``--allow-backend MODULE``: that module and the modules under it)."""
        if path is None:
            return
        module = path.partition(":")[0]
        if not any(module == allowed or module.startswith(allowed + ".") for allowed in self.settings.allow_backends):
            raise FieldError(loc, f"{path}: a request sent over HTTP cannot import a backend unless the server allows "
                                  f"its module (permutate serve --allow-backend {module})")

    def check_env(self, name: str | None, loc: tuple[str | int, ...]) -> None:
        """A body may name only the environment variables the operator listed (``--allow-key-env``)."""
        if name is None:
            return
        if name in _SERVER_SECRETS:
            raise FieldError(loc, f"{name} is the server's own key; a request cannot send it anywhere")
        if name not in self.settings.allow_key_envs:
            raise FieldError(loc, f"{name}: a request sent over HTTP may name only the environment variables the "
                                  "server allows (permutate serve --allow-key-env NAME)")

    def fetcher(self, mirror: UrlMap) -> GuardedFetcher:
        """A fetcher for a job's plugin documents that asks this guard about each (``mirror``: the body's url_map)."""
        return GuardedFetcher(self, mirror)


def _first_internal(addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> str | None:
    """The first address (in sorted order) that is not the public internet's, else None."""
    for address in sorted(addresses, key=str):
        if (address.is_loopback or address.is_private or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified or not address.is_global):
            return str(address)
    return None


def _origin(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an http(s) URL (the scheme's port when none is written), None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname and port else None


def _env_names(value: Any) -> list[str]:
    """The environment variables an ``mcp.env`` / ``mcp.headers`` value names."""
    import re

    if isinstance(value, dict):
        return [str(value.get("env"))]
    return re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", str(value))


class GuardedFetcher(Fetcher):
    """The engine's fetcher, asking the guard first about every document a plugin pulls in (specs, ``$ref``s)."""

    def __init__(self, guard: RequestGuard, mirror: UrlMap) -> None:
        super().__init__(mirror)
        self.guard = guard

    def fetch_text(self, location: str) -> tuple[str, str]:
        """Fetch a document as the engine would, once the guard allows its location (else a plugin load error)."""
        location = location.strip()
        try:
            self.guard.check_location(location, (), self.url_map)
        except FieldError as exc:
            raise PluginLoadError(str(exc)) from None
        return super().fetch_text(location)

    def transport(self) -> Any:
        """Each connection of a download goes to the address its own DNS answer gave, checked (no rebinding)."""
        return pinned_transport(self.guard.address_problem)

    def check_hop(self, url: str) -> None:
        """Every request of a download, the first and each redirect, meets the address check."""
        problem = self.guard.url_problem(url)
        if problem is not None:
            raise PluginLoadError(problem)

