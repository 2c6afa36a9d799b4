"""A request that arrives over HTTP may not make the server read its own files or probe its network.

Local manifest, ``url_map`` and model paths must lie under an ``--allow-dir``; http(s)
manifests, OpenAPI documents and ``$ref`` targets that resolve to loopback, private,
link-local or reserved addresses are refused unless ``--allow-private-urls``. URLs the
*operator* mapped (``PERMUTATE_URL_MAP``, the bundled snapshots) are read from their files
and never fetched, so they pass. The check resolves the name once before the fetch; a DNS
answer that changes in between (rebinding) is not caught here.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from ..core.plugins.fetch import Fetcher, UrlMap
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
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings

    def local_allowed(self, location: str) -> bool:
        path = local_path(location)
        return any(path.is_relative_to(root) for root in self.settings.allow_dirs)

    def private_address(self, url: str) -> str | None:
        """The first loopback/private/reserved address ``url``'s host resolves to, else None."""
        host = urlsplit(url).hostname or ""
        try:
            addresses = {ipaddress.ip_address(host)}
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
            except OSError:
                return None  # unresolvable: the fetch itself reports it
            addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
        for address in sorted(addresses, key=str):
            if (address.is_loopback or address.is_private or address.is_link_local or address.is_reserved
                    or address.is_multicast or address.is_unspecified):
                return str(address)
        return None

    def check_location(self, location: str, loc: tuple[str | int, ...], mirror: UrlMap) -> None:
        """Refuse a manifest location this server may not read on a client's say-so."""
        if is_http_url(location):
            if self.settings.allow_private_urls or mirror.lookup(location) is not None:
                return
            address = self.private_address(location)
            if address is not None:
                raise FieldError(loc, f"{location} resolves to a private address ({address}); this server refuses "
                                      "such URLs (start it with --allow-private-urls to allow them)")
            return
        if not self.local_allowed(location):
            raise FieldError(loc, f"{location}: a request sent over HTTP cannot read the server's files; use a URL, "
                                  "or a path under a folder the server allows (--allow-dir)")

    def check_request(self, request: JobRequest, mirror: UrlMap) -> None:
        """Every location, local path and environment-variable name a permutate request names."""
        for gi, group in enumerate(request.plugin_groups):
            for pi, ref in enumerate(group.plugins):
                self.check_location(ref.manifest_url, ("plugin_groups", gi, "plugins", pi, "manifest_url"), mirror)
                if ref.auth is not None:
                    self.check_env(ref.auth.token_env, ("plugin_groups", gi, "plugins", pi, "auth", "token_env"))
        if request.test_plugin is not None:
            self.check_location(request.test_plugin.manifest_url, ("test_plugin", "manifest_url"), mirror)
        for prefix, target in request.config.url_map.items():
            if not self.local_allowed(target):
                raise FieldError(("config", "url_map", prefix),
                                 f"{target}: a request sent over HTTP can map URLs only to files under --allow-dir")
        self.check_executor(request)
        llms: list[tuple[tuple[str | int, ...], Any]] = [(("permutations", i, "llm"), p.llm)
                                                         for i, p in enumerate(request.permutations)]
        if request.config.translator is not None:
            llms.append((("config", "translator"), request.config.translator))
        for loc, llm in llms:
            self.check_env(llm.api_key_env, (*loc, "api_key_env"))
            if llm.model_path and not self.local_allowed(llm.model_path):
                raise FieldError((*loc, "model_path"),
                                 f"{llm.model_path}: a request sent over HTTP can load models only from under --allow-dir")

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

    def check_env(self, name: str | None, loc: tuple[str | int, ...]) -> None:
        if name in _SERVER_SECRETS:
            raise FieldError(loc, f"{name} is the server's own key; a request cannot send it anywhere")

    def fetcher(self, mirror: UrlMap) -> "GuardedFetcher":
        return GuardedFetcher(self, mirror)


class GuardedFetcher(Fetcher):
    """The engine's fetcher, asking the guard first about every document a plugin pulls in (specs, ``$ref``s)."""

    def __init__(self, guard: RequestGuard, mirror: UrlMap) -> None:
        super().__init__(mirror)
        self.guard = guard

    def fetch_text(self, location: str) -> tuple[str, str]:
        location = location.strip()
        try:
            self.guard.check_location(location, (), self.url_map)
        except FieldError as exc:
            raise PluginLoadError(str(exc)) from None
        return super().fetch_text(location)

